"""SQL of the wallets domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.wallets.models import Wallet


async def get(session: AsyncSession, wallet_id: int) -> Wallet | None:
    return await session.get(Wallet, wallet_id)


async def for_players(session: AsyncSession, player_ids: Sequence[uuid.UUID]) -> list[Wallet]:
    """All wallets of the given players in one statement, in id order."""
    stmt = select(Wallet).where(col(Wallet.player_id).in_(player_ids)).order_by(col(Wallet.id))
    return list((await session.execute(stmt)).scalars())
