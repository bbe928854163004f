"""Retention of the append-only tables: monthly partitions made ahead of time, and the
purge that archives whole months older than the retention to signed bundles, then drops them."""
