"""SQL of the wallets domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.wallets.models import Wallet


async def get(session: AsyncSession, wallet_id: int) -> Wallet | None:
    return await session.get(Wallet, wallet_id)


async def for_players(session: AsyncSession, player_ids: Sequence[uuid.UUID]) -> list[Wallet]:
    """All wallets of the given players in one statement, in id order."""
    rows = await session.execute(_FOR_PLAYERS, {"ids": list(player_ids)})
    return list(rows.scalars())


# Built once: a statement object keeps its cache key (see players.repository.get_many).
_FOR_PLAYERS = (
    select(Wallet)
    .where(col(Wallet.player_id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Wallet.id))
)
