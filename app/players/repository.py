"""SQL of the players domain."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import Database
from app.core.orm import columns_of, detached_rows
from app.players.models import Player
from app.wallets.models import Wallet

SEARCHABLE = frozenset({"id", "login", "email"})


@dataclass(frozen=True)
class PlayerFilter:
    country: str | None = None
    status: str | None = None
    search: str | None = None
    # Which fields ``search`` may match: only those the caller may read in full (the
    # GraphQL layer decides); matching a masked email would reveal it letter by letter.
    search_in: frozenset[str] = frozenset({"id", "login"})


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
        conditions.append(col(Player.country) == flt.country)
    if flt.status:
        conditions.append(col(Player.status) == flt.status)
    if flt.search:
        conditions.append(_search(flt.search, flt.search_in))
    return conditions


def _search(term: str, fields: frozenset[str]) -> ColumnElement[bool]:
    pattern = f"%{_escape_like(term.lower())}%"
    matches: list[ColumnElement[bool]] = []
    if "email" in fields:
        matches.append(col(Player.email).like(pattern, escape="\\"))
    if "login" in fields:
        matches.append(func.lower(col(Player.login)).like(pattern, escape="\\"))
    if "id" in fields:
        with suppress(ValueError):  # not an id: it can only match the other fields
            matches.append(col(Player.id) == uuid.UUID(term))
    return or_(False, *matches)


async def get(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    return await session.get(Player, player_id)


async def lock(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    """The player row, locked and read fresh (not the session's copy). NO KEY UPDATE, the
    lock the status UPDATE takes anyway (the key stays): it orders status changes, profile
    writes and erasure, while the foreign-key checks (KEY SHARE) of a bet or any other row
    naming the player do not wait for it. Under FOR UPDATE they did, and a change that then
    took the wallets (a self-exclusion's bonus forfeit) deadlocked with a bet holding them."""
    return await session.get(
        Player, player_id, with_for_update={"key_share": True}, populate_existing=True
    )


# Built once: a statement object keeps its cache key, so a batch skips building the
# statement and its key again (the profile query's loaders, bench/README.md issue 16).
_GET_MANY = select(Player).where(col(Player.id).in_(bindparam("ids", expanding=True)))


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Player]:
    result = await session.execute(_GET_MANY, {"ids": list(ids)})
    return list(result.scalars())


async def get_many_on(db: Database, ids: Sequence[uuid.UUID]) -> list[Player]:
    """``get_many`` on a driver connection (the read path's loaders: no ORM loading)."""
    return detached_rows(Player, await db.read_rows(_GET_MANY_SQL, list(ids)))


# The column list comes from the model, never from input.
_GET_MANY_SQL = f"SELECT {columns_of(Player)} FROM players WHERE id = ANY($1::uuid[])"  # noqa: S608


async def get_many_with_on(
    db: Database, ids: Sequence[uuid.UUID], related: tuple[tuple[str, str], ...]
) -> list[tuple[Player, Mapping[str, Any]]]:
    """``get_many_on`` with more of each player's data in the SAME statement: ``related``
    is (name, SQL expression over the player ``p``) pairs, each another repository's
    correlated sub-select (e.g. ``wallets.OF_PLAYER``); every row comes with its record,
    where each value is found under its name. One round trip instead of one per table."""
    records = await db.read_rows(_with_related_sql(related), list(ids))
    return list(zip(detached_rows(Player, records), records, strict=True))


@functools.cache
def _with_related_sql(related: tuple[tuple[str, str], ...]) -> str:
    # Expressions and names are our repositories' constants, never input.
    extra = "".join(f', {sql} AS "{name}"' for name, sql in related)
    return f"SELECT {columns_of(Player, 'p')}{extra} FROM players p WHERE p.id = ANY($1::uuid[])"  # noqa: S608


async def insert(session: AsyncSession, player: Player) -> Player:
    """Insert now, so a duplicate email or login raises IntegrityError here."""
    session.add(player)
    await session.flush()
    return player


async def insert_wallets(session: AsyncSession, wallets: Iterable[Wallet]) -> None:
    session.add_all(wallets)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    """Write the changes made to loaded rows (before an event that describes them)."""
    await session.flush()


async def page(
    session: AsyncSession, flt: PlayerFilter, limit: int, after: PlayerPosition | None
) -> tuple[list[Player], bool]:
    """Up to ``limit`` players after ``after`` in (created_at, id) descending order, and
    whether more follow."""
    conditions = _conditions(flt)
    if after is not None:
        position = tuple_(col(Player.created_at), col(Player.id))
        conditions.append(position < (after.created_at, after.id))
    stmt = (
        select(Player)
        .where(and_(True, *conditions))
        .order_by(col(Player.created_at).desc(), col(Player.id).desc())
        .limit(limit + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    return rows[:limit], len(rows) > limit


async def count(session: AsyncSession, flt: PlayerFilter) -> int:
    stmt = select(func.count()).select_from(Player).where(and_(True, *_conditions(flt)))
    return int((await session.execute(stmt)).scalar_one())
