"""SQL of the wallets domain."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import Database
from app.core.orm import columns_of, detached_rows
from app.wallets.models import Wallet


async def get(session: AsyncSession, wallet_id: int) -> Wallet | None:
    return await session.get(Wallet, wallet_id)


async def for_players(session: AsyncSession, player_ids: Sequence[uuid.UUID]) -> list[Wallet]:
    """All wallets of the given players in one statement, in id order."""
    rows = await session.execute(_FOR_PLAYERS, {"ids": list(player_ids)})
    return list(rows.scalars())


async def for_players_on(db: Database, player_ids: Sequence[uuid.UUID]) -> list[Wallet]:
    """``for_players`` on a driver connection (the read path's loaders: no ORM loading)."""
    return detached_rows(Wallet, await db.read_rows(_FOR_PLAYERS_SQL, list(player_ids)))


# ``for_players_on`` of one player ``p`` as a correlated sub-select: the player's wallet
# rows (the table's row type, which the driver decodes column by column) in id order, for
# a statement that reads the player too (``players.get_many_with_on``).
OF_PLAYER = "ARRAY(SELECT w FROM wallets w WHERE w.player_id = p.id ORDER BY w.id)"


def of_player_rows(records: Sequence[Mapping[str, Any]]) -> list[Wallet]:
    """The wallets of one ``OF_PLAYER`` value."""
    return detached_rows(Wallet, records)


_FOR_PLAYERS_SQL = (  # the column list comes from the model, never from input
    f"SELECT {columns_of(Wallet)} FROM wallets WHERE player_id = ANY($1::uuid[]) ORDER BY id"  # noqa: S608
)

# Built once: a statement object keeps its cache key (see players.repository.get_many).
_FOR_PLAYERS = (
    select(Wallet)
    .where(col(Wallet.player_id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Wallet.id))
)
