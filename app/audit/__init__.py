"""The audit log: who did what to whom, when, from where (append-only)."""
