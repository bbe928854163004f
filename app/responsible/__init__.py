"""Responsible gambling: player limits enforced inside the money path, cooling-off and
self-exclusion."""
