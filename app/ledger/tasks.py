"""Background work of the ledger: void expired holds, purge old idempotency keys.

Both are safe in many replicas at once: expiry is a system operation (the kernel's
``run_system_operation``: a player's wallets locked SKIP LOCKED, a busy or already-claimed
player left for the next round), and the purge is a plain idempotent DELETE in small
batches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.core.db import Database
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import kernel, repository
from app.ledger.hooks import extensions_of
from app.ledger.models import HoldPurpose, HoldStatus
from app.ledger.operation import Operation


def plan_expire_holds(op: Operation, holds: list[dict[str, Any]]) -> int:
    """Give each expired hold's money back to available and mark it EXPIRED. An expired
    bet is a voided bet to the extensions (gambling limits give its stake back)."""
    kind_of = {w.id: w.kind for w in op.wallets.values()}
    for h in holds:
        op.hold(kind_of[h["real_wallet_id"]], -h["real_amount"])
        if h["bonus_wallet_id"] is not None:
            op.hold(kind_of[h["bonus_wallet_id"]], -h["bonus_amount"])
        if h["purpose"] == HoldPurpose.BET:
            for ext in extensions_of(op):
                ext.bet_voided(op, h)
    op.writes.hold_updates = [(h["id"], HoldStatus.EXPIRED) for h in holds]
    for h in holds:
        op.event("bet.cancelled", {
            "reservationId": str(h["id"]), "transactionId": h["transaction_id"],
            "reason": "EXPIRED",
        })  # fmt: skip
    return len(holds)


EXPIRE_HOLDS = kernel.SystemOperation(
    name="expireHolds",
    actor=Principal.system("hold-expiry").key,
    candidates_sql=repository.EXPIRED_HOLD_PLAYERS_SQL,
    lock_sql=repository.LOCK_EXPIRED_HOLDS_SQL,
    plan=plan_expire_holds,
    calls_hooks=True,
)


async def expire_holds(db: Database, settings: Settings, batch: int = 100) -> int:
    """Void pending holds past their expiry; returns how many were voided."""
    return await kernel.run_system_operation(db, EXPIRE_HOLDS, batch, settings)


async def purge_idempotency_keys(db: Database, settings: Settings, batch: int = 5000) -> int:
    """Delete keys older than the retention period, a batch at a time."""
    statement = text(repository.PURGE_IDEMPOTENCY_KEYS_SQL)
    total = 0
    while True:
        async with db.transaction() as session:
            result: Any = await session.execute(
                statement, {"days": settings.idempotency_retention_days, "batch": batch}
            )
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < batch:
            return total
