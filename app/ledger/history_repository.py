"""History reads of the ledger (SQLAlchemy Core: filters compose, nothing is hot)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.ledger.models import LedgerTransfer as T
from app.wallets.models import Wallet


@dataclass(frozen=True)
class HistoryFilter:
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _history_conditions(
    flt: HistoryFilter, wallet_id: int | None, player_id: uuid.UUID | None
) -> list[Any]:
    conditions: list[Any] = []
    if wallet_id is not None:
        conditions.append(col(T.wallet_id) == wallet_id)
    if player_id is not None:
        conditions.append(col(T.player_id) == player_id)
    if flt.kind:
        conditions.append(col(T.kind) == flt.kind)
    if flt.since:
        conditions.append(col(T.created_at) >= flt.since)
    if flt.until:
        conditions.append(col(T.created_at) < flt.until)
    return conditions


async def history(
    session: AsyncSession,
    flt: HistoryFilter,
    limit: int,
    before_id: int | None,
    *,
    wallet_id: int | None = None,
    player_id: uuid.UUID | None = None,
) -> tuple[list[tuple[Any, str]], bool, int]:
    """Transfers newest first (keyset on id) with their wallet's kind, whether more
    follow, and the total matching the filter."""
    conditions = _history_conditions(flt, wallet_id, player_id)
    page = conditions + ([col(T.id) < before_id] if before_id is not None else [])
    stmt = (
        select(T, col(Wallet.kind))
        .join(Wallet, col(Wallet.id) == col(T.wallet_id))
        .where(and_(True, *page))
        .order_by(col(T.id).desc())
        .limit(limit + 1)
    )
    rows = [(r[0], r[1]) for r in (await session.execute(stmt)).all()]
    total = (
        await session.execute(select(func.count()).select_from(T).where(and_(True, *conditions)))
    ).scalar_one()
    return rows[:limit], len(rows) > limit, int(total)
