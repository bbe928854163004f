"""Business analytics: daily rollups fed exactly once from committed domain events (never
a ledger scan at query time), rebuilt from the outbox on demand."""
