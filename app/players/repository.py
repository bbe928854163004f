"""SQL of the players domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.players.models import Player


@dataclass(frozen=True)
class PlayerFilter:
    country: str | None = None
    status: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class PlayerPosition:
    """A point in the list order (newest first): the keyset cursor."""

    created_at: datetime
    id: uuid.UUID


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(flt: PlayerFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.country:
        conditions.append(Player.country == flt.country)
    if flt.status:
        conditions.append(Player.status == flt.status)
    if flt.search:
        pattern = f"%{_escape_like(flt.search.lower())}%"
        conditions.append(
            or_(
                Player.email.like(pattern, escape="\\"),
                func.lower(Player.login).like(pattern, escape="\\"),
            )
        )
    return conditions


async def get(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    return await session.get(Player, player_id)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Player]:
    result = await session.execute(select(Player).where(Player.id.in_(ids)))
    return list(result.scalars())


async def page(
    session: AsyncSession, flt: PlayerFilter, limit: int, after: PlayerPosition | None
) -> tuple[list[Player], bool]:
    """Up to ``limit`` players after ``after`` in (created_at, id) descending order, and
    whether more follow."""
    conditions = _conditions(flt)
    if after is not None:
        conditions.append(tuple_(Player.created_at, Player.id) < (after.created_at, after.id))
    stmt = (
        select(Player)
        .where(and_(True, *conditions))
        .order_by(Player.created_at.desc(), Player.id.desc())
        .limit(limit + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    return rows[:limit], len(rows) > limit


async def count(session: AsyncSession, flt: PlayerFilter) -> int:
    stmt = select(func.count()).select_from(Player).where(and_(True, *_conditions(flt)))
    return int((await session.execute(stmt)).scalar_one())
