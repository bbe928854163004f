"""The ledger observer (registered by pms.hooks): wallet operations by kind and outcome,
their latency, idempotent replays, and the alert counters of operations and errors.
Counts from what the kernel already has in memory: no extra statement."""

from __future__ import annotations

from app.core import counters, metrics


def record_operation(operation: str, outcome: str, replayed: bool, seconds: float) -> None:
    if replayed:
        metrics.child(metrics.IDEMPOTENT_REPLAYS, operation).inc()
        return  # a replay did no work: it is not a second operation nor a latency sample
    metrics.child(metrics.WALLET_OPERATIONS, operation, outcome).inc()
    counters.bump("wallet.operation")  # the alert rules' wallet error rate (in memory)
    if outcome != "OK":
        counters.bump("wallet.error")
    metrics.child(metrics.WALLET_LATENCY, operation).observe(seconds)
