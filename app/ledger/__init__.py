"""The wallet ledger: double-entry transfers, holds, game rounds, idempotency, reconciliation."""
