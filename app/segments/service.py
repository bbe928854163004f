"""Segment management and membership. Services take a session and never commit.

Membership changes are derived from the rows actually inserted or deleted (RETURNING), so
every ``segment.entered`` / ``segment.left`` event matches exactly one real change even
when a full recompute and a per-player recompute run concurrently.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Uuid, cast, delete, exists, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import unique_violation_constraint
from app.core.errors import AlreadyExists, NotFound, ValidationFailed
from app.core.settings import Settings, get_settings
from app.events import outbox
from app.events.models import OutboxEvent
from app.segments import rules
from app.segments.models import Segment, SegmentMember

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$")
SM = SegmentMember.__table__
OE = OutboxEvent.__table__


@dataclass(frozen=True)
class RecomputeResult:
    segment_id: uuid.UUID
    entered: int
    left: int


def _check(name: str | None, description: str | None, rule: Any) -> None:
    if name is not None and not NAME.match(name):
        raise ValidationFailed.single("name", "1-64 letters, digits, spaces or _.:-")
    if description is not None and len(description) > 1000:
        raise ValidationFailed.single("description", "at most 1000 characters")
    if rule is not None:
        rules.validate(rule)


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        if unique_violation_constraint(exc) == "uq_segments_name":
            raise AlreadyExists("name", "a segment with this name exists") from None
        raise


async def create_segment(
    session: AsyncSession,
    *,
    name: str,
    rule: dict[str, Any],
    actor: str,
    description: str | None = None,
    settings: Settings | None = None,
) -> tuple[Segment, RecomputeResult]:
    _check(name, description, rule)
    segment = Segment(
        id=uuid.uuid4(), name=name, description=description, rule=rule, created_by=actor
    )
    session.add(segment)
    await _flush_unique(session)
    return segment, await recompute_segment(session, segment, settings)


async def get_segment(session: AsyncSession, segment_id: uuid.UUID) -> Segment | None:
    return await session.get(Segment, segment_id)


async def list_segments(session: AsyncSession) -> list[Segment]:
    return list((await session.execute(select(Segment).order_by(Segment.name))).scalars())


async def _locked(session: AsyncSession, segment_id: uuid.UUID) -> Segment:
    segment = await session.get(Segment, segment_id, with_for_update=True)
    if segment is None:
        raise NotFound("no such segment")
    return segment


async def update_segment(
    session: AsyncSession,
    segment_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    rule: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> tuple[Segment, RecomputeResult]:
    _check(name, description, rule)
    segment = await _locked(session, segment_id)
    if name is not None:
        segment.name = name
    if description is not None:
        segment.description = description
    if rule is not None:
        segment.rule = rule
    await _flush_unique(session)
    return segment, await recompute_segment(session, segment, settings)


async def delete_segment(session: AsyncSession, segment_id: uuid.UUID) -> int:
    """Delete a segment; every member leaves it (``segment.left`` each). Returns members."""
    segment = await _locked(session, segment_id)
    left = delete(SM).where(SM.c.segment_id == segment.id).returning(SM.c.player_id).cte("left")
    stmt = _events_insert(segment, select(literal("segment.left").label("type"), left.c.player_id))
    members = len(list((await session.execute(stmt.add_cte(left).returning(OE.c.id))).scalars()))
    await session.delete(segment)
    await session.flush()
    return members


def _events_insert(segment: Segment, events: Any) -> Any:
    """INSERT INTO outbox_events SELECT one event per (type, player_id) row of ``events``."""
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


async def recompute_segment(
    session: AsyncSession, segment: Segment, settings: Settings | None = None
) -> RecomputeResult:
    """Full recompute of one segment: ONE set-based statement (target set, insert new
    members, delete former members, write their outbox events)."""
    condition = rules.compile_rule(segment.rule, settings or get_settings())
    target = (select(rules.P.c.id.label("player_id")).select_from(rules.BASE).where(condition)).cte(
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
        .where(
            SM.c.segment_id == segment.id,
            ~exists().where(target.c.player_id == SM.c.player_id),
        )
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
    types = list((await session.execute(stmt)).scalars())
    segment.computed_at = (await session.execute(select(func.now()))).scalar_one()
    await session.flush()
    return RecomputeResult(
        segment_id=segment.id,
        entered=types.count("segment.entered"),
        left=types.count("segment.left"),
    )


async def recompute_all(
    session: AsyncSession, settings: Settings | None = None
) -> list[RecomputeResult]:
    segments = list(
        (await session.execute(select(Segment).order_by(Segment.id).with_for_update())).scalars()
    )
    return [await recompute_segment(session, s, settings) for s in segments]


async def recompute_player_segments(
    session: AsyncSession, player_id: uuid.UUID, settings: Settings | None = None
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Re-evaluate every segment for one player (call after a change that may move it).

    One SELECT evaluates all rules for the player; only the differences are written.
    Returns (entered, left) segment ids.
    """
    settings = settings or get_settings()
    segments = list((await session.execute(select(Segment))).scalars())
    if not segments:
        return [], []
    columns = [rules.compile_rule(s.rule, settings).label(f"s{i}") for i, s in enumerate(segments)]
    row = (
        await session.execute(
            select(*columns).select_from(rules.BASE).where(rules.P.c.id == player_id)
        )
    ).first()
    should = {s.id for s, member in zip(segments, row or (), strict=False) if member}
    current = set(
        (
            await session.execute(select(SM.c.segment_id).where(SM.c.player_id == player_id))
        ).scalars()
    )
    by_id = {s.id: s for s in segments}
    entered: list[uuid.UUID] = []
    left: list[uuid.UUID] = []
    for segment_id in sorted(should - current):
        inserted = await session.execute(
            pg_insert(SM)
            .values(segment_id=segment_id, player_id=player_id)
            .on_conflict_do_nothing()
            .returning(SM.c.segment_id)
        )
        if inserted.first() is not None:
            entered.append(segment_id)
    for segment_id in sorted(current - should):
        deleted = await session.execute(
            delete(SM)
            .where(SM.c.segment_id == segment_id, SM.c.player_id == player_id)
            .returning(SM.c.segment_id)
        )
        if deleted.first() is not None:
            left.append(segment_id)
    for type_, ids in (("segment.entered", entered), ("segment.left", left)):
        for segment_id in ids:
            await outbox.record(
                session,
                type_,
                str(player_id),
                {
                    "playerId": str(player_id),
                    "segmentId": str(segment_id),
                    "segmentName": by_id[segment_id].name,
                },
            )
    return entered, left


async def segments_of_players(
    session: AsyncSession, player_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, Segment]]:
    rows = await session.execute(
        select(SM.c.player_id, Segment)
        .join(Segment, Segment.id == SM.c.segment_id)
        .where(SM.c.player_id.in_(player_ids))
        .order_by(Segment.name)
    )
    return [(player_id, segment) for player_id, segment in rows]


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
