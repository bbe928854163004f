"""The ledger observer (registered by pms.hooks): wallet operations by kind and outcome,
their latency, idempotent replays, and the alert counters of operations and errors.
Counts from what the kernel already has in memory: no extra statement."""

from __future__ import annotations

from functools import cache
from typing import Any

from app.core import counters, metrics


@cache
def _children(operation: str, outcome: str) -> tuple[Any, Any]:
    # The labelled series of one (operation, outcome), looked up once: ``labels()`` takes
    # a lock and checks its arguments on every call (a few per cent of a money operation).
    # Both label sets are small and closed (operation names, outcome codes).
    return (metrics.WALLET_OPERATIONS.labels(operation, outcome),
            metrics.WALLET_LATENCY.labels(operation))  # fmt: skip


def record_operation(operation: str, outcome: str, replayed: bool, seconds: float) -> None:
    if replayed:
        metrics.IDEMPOTENT_REPLAYS.labels(operation).inc()
        return  # a replay did no work: it is not a second operation nor a latency sample
    count, latency = _children(operation, outcome)
    count.inc()
    counters.bump("wallet.operation")  # the alert rules' wallet error rate (in memory)
    if outcome != "OK":
        counters.bump("wallet.error")
    latency.observe(seconds)
