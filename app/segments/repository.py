"""Every SQL statement of the segments package (Core and ORM; no raw SQL on a hot path
here: segment work runs off the money path)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import Database, mark_outbox_written
from app.core.orm import columns_of, detached_rows
from app.events import outbox
from app.segments.models import Segment, SegmentKind
from app.segments.tables import BASE, OE, SM, P


async def try_xact_lock(session: AsyncSession, key: int) -> bool:
    """Take a transaction-scoped advisory lock if free; False when another holds it."""
    # BIGINT: the key does not fit the INTEGER a plain int parameter is cast to.
    stmt = select(func.pg_try_advisory_xact_lock(literal(key, BigInteger)))
    got = (await session.execute(stmt)).scalar_one()
    return bool(got)


async def get(session: AsyncSession, segment_id: uuid.UUID) -> Segment | None:
    return await session.get(Segment, segment_id)


async def lock(session: AsyncSession, segment_id: uuid.UUID) -> Segment | None:
    return await session.get(Segment, segment_id, with_for_update=True)


async def by_name(session: AsyncSession) -> list[Segment]:
    return list((await session.execute(select(Segment).order_by(col(Segment.name)))).scalars())


async def lock_all(session: AsyncSession) -> list[Segment]:
    """Every rule segment, locked in id order (the order every full recompute takes them);
    static segments are lists, never recomputed."""
    stmt = (
        select(Segment)
        .where(col(Segment.kind) == SegmentKind.RULE.value)
        .order_by(col(Segment.id))
        .with_for_update()
    )
    return list((await session.execute(stmt)).scalars())


async def all_segments(session: AsyncSession) -> list[Segment]:
    return list((await session.execute(select(Segment))).scalars())


async def rule_segments(session: AsyncSession) -> list[Segment]:
    stmt = select(Segment).where(col(Segment.kind) == SegmentKind.RULE.value)
    return list((await session.execute(stmt)).scalars())


async def missing_players(session: AsyncSession, player_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids in ``player_ids`` that name no player, in order."""
    found = set((await session.execute(select(P.c.id).where(P.c.id.in_(player_ids)))).scalars())
    return [p for p in player_ids if p not in found]


async def delete_segment(session: AsyncSession, segment: Segment) -> None:
    await session.delete(segment)
    await session.flush()


async def db_now(session: AsyncSession) -> datetime:
    now: datetime = (await session.execute(select(func.now()))).scalar_one()
    return now


def _events_insert(segment: Segment, events: Select[Any] | CompoundSelect[Any]) -> Insert:
    """INSERT INTO outbox_events SELECT one event per (type, player_id) row of ``events``
    (its callers mark the session's outbox written: the relay wakes after the commit)."""
    ev = events.subquery("ev")
    player = cast(ev.c.player_id, String)
    rows = select(
        func.gen_random_uuid(),
        ev.c.type,
        literal(outbox.SOURCE),
        player,
        func.jsonb_build_object(
            "playerId", player, "segmentId", str(segment.id), "segmentName", segment.name
        ),
    )
    return pg_insert(OE).from_select(["event_id", "type", "source", "subject", "data"], rows)


async def remove_all_members(session: AsyncSession, segment: Segment) -> int:
    """Delete every membership of ``segment`` with one ``segment.left`` event each."""
    left = delete(SM).where(SM.c.segment_id == segment.id).returning(SM.c.player_id).cte("left")
    stmt = _events_insert(segment, select(literal("segment.left").label("type"), left.c.player_id))
    mark_outbox_written(session)
    return len(list((await session.execute(stmt.add_cte(left).returning(OE.c.id))).scalars()))


async def recompute(
    session: AsyncSession, segment: Segment, condition: ColumnElement[bool],
    player_ids: list[uuid.UUID] | None = None,
) -> list[str]:  # fmt: skip
    """ONE set-based statement: the target set, insert new members, delete former
    members, write their outbox events (only among ``player_ids`` when given). Returns the
    event types written."""
    target_where = [condition]
    left_where = [SM.c.segment_id == segment.id]
    if player_ids is not None:
        ids = bindparam("player_ids", player_ids, type_=ARRAY(Uuid))
        target_where.append(P.c.id == any_(ids))
        left_where.append(SM.c.player_id == any_(ids))
    target = (select(P.c.id.label("player_id")).select_from(BASE).where(*target_where)).cte(
        "target"
    )
    entered = (
        pg_insert(SM)
        .from_select(
            ["segment_id", "player_id"],
            select(literal(segment.id, Uuid), target.c.player_id),
        )
        .on_conflict_do_nothing()
        .returning(SM.c.player_id)
        .cte("entered")
    )
    left = (
        delete(SM)
        .where(*left_where, ~exists().where(target.c.player_id == SM.c.player_id))
        .returning(SM.c.player_id)
        .cte("left")
    )
    events = union_all(
        select(literal("segment.entered").label("type"), entered.c.player_id),
        select(literal("segment.left").label("type"), left.c.player_id),
    )
    stmt = (
        _events_insert(segment, events)
        .add_cte(target)
        .add_cte(entered)
        .add_cte(left)
        .returning(OE.c.type)
    )
    mark_outbox_written(session)
    return list((await session.execute(stmt)).scalars())


async def add_members(
    session: AsyncSession, segment: Segment, player_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """ONE statement: the players not yet members become members, one ``segment.entered``
    event each; returns them."""
    ids = bindparam("player_ids", player_ids, type_=ARRAY(Uuid))
    wanted = select(func.unnest(ids).label("player_id")).subquery("wanted")
    entered = (
        pg_insert(SM)
        .from_select(
            ["segment_id", "player_id"],
            select(literal(segment.id, Uuid), wanted.c.player_id).order_by(wanted.c.player_id),
        )
        .on_conflict_do_nothing()
        .returning(SM.c.player_id)
        .cte("entered")
    )
    events = select(literal("segment.entered").label("type"), entered.c.player_id)
    stmt = _events_insert(segment, events).add_cte(entered).returning(OE.c.subject)
    mark_outbox_written(session)
    return sorted(uuid.UUID(s) for s in (await session.execute(stmt)).scalars())


async def evaluate_for_player(
    session: AsyncSession, conditions: list[ColumnElement[bool]], player_id: uuid.UUID
) -> list[bool]:
    """Every condition evaluated for one player in ONE SELECT ([] for no such player)."""
    columns = [c.label(f"s{i}") for i, c in enumerate(conditions)]
    row = (
        await session.execute(select(*columns).select_from(BASE).where(P.c.id == player_id))
    ).first()
    return [bool(member) for member in row] if row is not None else []


async def segment_ids_of(session: AsyncSession, player_id: uuid.UUID) -> set[uuid.UUID]:
    stmt = select(SM.c.segment_id).where(SM.c.player_id == player_id)
    return set((await session.execute(stmt)).scalars())


async def add_member(session: AsyncSession, segment_id: uuid.UUID, player_id: uuid.UUID) -> bool:
    """True if this call made the player a member (False: somebody else did first)."""
    inserted = await session.execute(
        pg_insert(SM)
        .values(segment_id=segment_id, player_id=player_id)
        .on_conflict_do_nothing()
        .returning(SM.c.segment_id)
    )
    return inserted.first() is not None


async def remove_member(session: AsyncSession, segment_id: uuid.UUID, player_id: uuid.UUID) -> bool:
    """True if this call removed the membership (False: it was already gone)."""
    deleted = await session.execute(
        delete(SM)
        .where(SM.c.segment_id == segment_id, SM.c.player_id == player_id)
        .returning(SM.c.segment_id)
    )
    return deleted.first() is not None


async def segments_of_players(
    session: AsyncSession, player_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, Segment]]:
    rows = await session.execute(_OF_PLAYERS, {"ids": list(player_ids)})
    return [(player_id, segment) for player_id, segment in rows]


async def segments_of_players_on(
    db: Database, player_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, Segment]]:
    """``segments_of_players`` on a driver connection (the read path: no ORM loading)."""
    records = await db.read_rows(_OF_PLAYERS_SQL, player_ids)
    segments = detached_rows(Segment, records)
    return [(r["member_of"], s) for r, s in zip(records, segments, strict=True)]


# ``segments_of_players_on`` of one player ``p`` as a correlated sub-select (segment rows
# in name order), for a statement that reads the player too (``players.get_many_with_on``).
OF_PLAYER = (
    "ARRAY(SELECT s FROM segment_members m JOIN segments s ON s.id = m.segment_id"
    " WHERE m.player_id = p.id ORDER BY s.name)"
)


def of_player_rows(records: Sequence[Mapping[str, Any]]) -> list[Segment]:
    """The segments of one ``OF_PLAYER`` value."""
    return detached_rows(Segment, records)


_OF_PLAYERS_SQL = (  # the column list comes from the model, never from input
    f"SELECT m.player_id AS member_of, {columns_of(Segment, 's')} FROM segment_members m"  # noqa: S608
    " JOIN segments s ON s.id = m.segment_id WHERE m.player_id = ANY($1::uuid[])"
    " ORDER BY s.name"
)

# Built once: a statement object keeps its cache key (see players.repository.get_many).
_OF_PLAYERS = (
    select(SM.c.player_id, Segment)
    .join(Segment, col(Segment.id) == SM.c.segment_id)
    .where(SM.c.player_id.in_(bindparam("ids", expanding=True)))
    .order_by(col(Segment.name))
)


async def member_page(
    session: AsyncSession, segment_id: uuid.UUID, limit: int, after: uuid.UUID | None
) -> tuple[list[uuid.UUID], bool, int]:
    """Member player ids in id order (keyset), whether more follow, and the total."""
    stmt = select(SM.c.player_id).where(SM.c.segment_id == segment_id)
    if after is not None:
        stmt = stmt.where(SM.c.player_id > after)
    ids = list((await session.execute(stmt.order_by(SM.c.player_id).limit(limit + 1))).scalars())
    total = (
        await session.execute(
            select(func.count()).select_from(SM).where(SM.c.segment_id == segment_id)
        )
    ).scalar_one()
    return ids[:limit], len(ids) > limit, int(total)
