"""Point-in-time balances from the ledger alone: a wallet's balance at ``at`` is the sum of
its ledger rows made at or before ``at`` (balance = sum of ledger rows is what
reconciliation proves). Rows carry their transaction's start time, so one operation is
wholly before or wholly after ``at`` and every currency still sums with the house."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import ValidationFailed

# Archived months count through their carried-forward totals (``at`` is never before
# the archive's cut: see balances_at).
BALANCES_AT = text("""
SELECT w.id, w.player_id, w.kind, w.currency,
       (coalesce(sum(t.amount), 0) + coalesce((SELECT sum(c.amount) FROM ledger_carry_forward c
                                               WHERE c.wallet_id = w.id), 0))::bigint AS balance
FROM wallets w
LEFT JOIN ledger_transfers t ON t.wallet_id = w.id AND t.created_at <= :at
WHERE w.created_at <= :at AND w.id > :after
  AND (CAST(:player AS uuid) IS NULL OR w.player_id = CAST(:player AS uuid))
GROUP BY w.id ORDER BY w.id LIMIT :n
""")


@dataclass(frozen=True)
class BalanceAt:
    wallet_id: int
    player_id: uuid.UUID
    kind: str
    currency: str
    balance: int


async def balances_at(
    session: AsyncSession,
    at: datetime,
    *,
    player_id: uuid.UUID | None = None,
    after_wallet_id: int = 0,
    limit: int = 100,
) -> list[BalanceAt]:
    """Wallets that existed at ``at`` with their balance then, in wallet id order (a page
    after ``after_wallet_id``). A time in the future or without a zone is refused."""
    if at.tzinfo is None:
        raise ValidationFailed.single("time", "needs a time zone offset")
    now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
    if at > now:
        raise ValidationFailed.single("time", "is in the future")
    cut = (await session.execute(text("SELECT max(through) FROM ledger_carry_forward"))).scalar()
    if cut is not None and at < cut:
        raise ValidationFailed.single(
            "time", f"is before {cut.isoformat()}: those months are in the retention archive"
        )
    rows = await session.execute(
        BALANCES_AT, {"at": at, "after": after_wallet_id, "player": player_id, "n": limit}
    )
    return [BalanceAt(r.id, r.player_id, r.kind, r.currency, r.balance) for r in rows]
