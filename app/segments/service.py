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

from sqlalchemy import ColumnElement, and_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database, mark_changed, unique_violation_constraint
from app.core.errors import AlreadyExists, NotFound, ValidationFailed
from app.core.settings import Settings, get_settings
from app.events import outbox
from app.players.hooks import AttributesChanged, PlayersChanged
from app.players.models import PlayerStatus
from app.segments import repository, rules
from app.segments.models import Segment, SegmentKind
from app.segments.tables import P

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$")


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
    rule: dict[str, Any] | None,
    actor: str,
    description: str | None = None,
    settings: Settings | None = None,
    kind: SegmentKind = SegmentKind.RULE,
) -> tuple[Segment, RecomputeResult]:
    """A RULE segment needs a rule (members computed now); a STATIC one takes none (members
    are added by list: ``add_static_members``)."""
    if kind is SegmentKind.STATIC and rule:
        raise ValidationFailed.single("rule", "a static segment has no rule")
    if kind is SegmentKind.RULE and rule is None:
        raise ValidationFailed.single("rule", "a rule segment needs a rule")
    _check(name, description, rule)
    segment = Segment(
        id=uuid.uuid4(), name=name, description=description, rule=rule or {},
        created_by=actor, kind=kind.value,
    )  # fmt: skip
    session.add(segment)
    await _flush_unique(session)
    return segment, await recompute_segment(session, segment, settings)


async def get_segment(session: AsyncSession, segment_id: uuid.UUID) -> Segment | None:
    return await repository.get(session, segment_id)


async def list_segments(session: AsyncSession) -> list[Segment]:
    return await repository.by_name(session)


async def _locked(session: AsyncSession, segment_id: uuid.UUID) -> Segment:
    segment = await repository.lock(session, segment_id)
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
    if rule is not None and segment.kind == SegmentKind.STATIC:
        raise ValidationFailed.single("rule", "a static segment has no rule")
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
    members = await repository.remove_all_members(session, segment)
    await repository.delete_segment(session, segment)
    return members


def marketable(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Self-excluded players (and those on a break) are in no segment: segments feed
    marketing, and responsible-gambling rules suppress it for them."""
    return and_(condition, P.c.status != PlayerStatus.SELF_EXCLUDED.value)


async def recompute_segment(
    session: AsyncSession, segment: Segment, settings: Settings | None = None
) -> RecomputeResult:
    """Full recompute of one segment: ONE set-based statement (target set, insert new
    members, delete former members, write their outbox events). A static segment's list is
    left as it is."""
    if segment.kind == SegmentKind.STATIC:
        return RecomputeResult(segment_id=segment.id, entered=0, left=0)
    condition = marketable(rules.compile_rule(segment.rule, settings or get_settings()))
    types = await repository.recompute(session, segment, condition)
    segment.computed_at = await repository.db_now(session)
    await session.flush()
    return RecomputeResult(
        segment_id=segment.id,
        entered=types.count("segment.entered"),
        left=types.count("segment.left"),
    )


async def recompute_all(
    session: AsyncSession, settings: Settings | None = None
) -> list[RecomputeResult]:
    segments = await repository.lock_all(session)
    return [await recompute_segment(session, s, settings) for s in segments]


async def recompute_player_segments(
    session: AsyncSession, player_id: uuid.UUID, settings: Settings | None = None
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Re-evaluate every segment for one player (call after a change that may move it).

    One SELECT evaluates all rules for the player; only the differences are written.
    Returns (entered, left) segment ids.
    """
    settings = settings or get_settings()
    segments = await repository.rule_segments(session)
    if not segments:
        return [], []
    conditions = [marketable(rules.compile_rule(s.rule, settings)) for s in segments]
    verdicts = await repository.evaluate_for_player(session, conditions, player_id)
    should = {s.id for s, member in zip(segments, verdicts, strict=False) if member}
    # Static memberships are lists: a rule pass neither adds nor removes them.
    current = await repository.segment_ids_of(session, player_id) & {s.id for s in segments}
    entered = [
        segment_id
        for segment_id in sorted(should - current)
        if await repository.add_member(session, segment_id, player_id)
    ]
    left = [
        segment_id
        for segment_id in sorted(current - should)
        if await repository.remove_member(session, segment_id, player_id)
    ]
    by_id = {s.id: s for s in segments}
    for type_, ids in (("segment.entered", entered), ("segment.left", left)):
        for segment_id in ids:
            await _membership_event(session, type_, by_id[segment_id], player_id)
    return entered, left


async def _membership_event(
    session: AsyncSession, type_: str, segment: Segment, player_id: uuid.UUID
) -> None:
    await outbox.record(
        session, type_, str(player_id),
        {"playerId": str(player_id), "segmentId": str(segment.id), "segmentName": segment.name},
    )  # fmt: skip


async def _static(session: AsyncSession, segment_id: uuid.UUID) -> Segment:
    segment = await _locked(session, segment_id)
    if segment.kind != SegmentKind.STATIC:
        raise ValidationFailed.single("segmentId", "members are added to static segments only")
    return segment


async def add_static_members(
    session: AsyncSession, segment_id: uuid.UUID, player_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Add players to a static segment (one ``segment.entered`` each); returns the players
    that were not members yet. Unknown players are a ValidationFailed, nothing added."""
    segment = await _static(session, segment_id)
    wanted = sorted(set(player_ids))
    missing = await repository.missing_players(session, wanted)
    if missing:
        raise ValidationFailed.single("playerIds", f"unknown player {missing[0]}")
    added = await repository.add_members(session, segment, wanted)
    for player_id in added:
        mark_changed(session, str(player_id))
    return added


async def remove_static_members(
    session: AsyncSession, segment_id: uuid.UUID, player_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Remove players from a static segment (one ``segment.left`` each); returns those
    that were members."""
    segment = await _static(session, segment_id)
    removed = [
        p for p in sorted(set(player_ids)) if await repository.remove_member(session, segment.id, p)
    ]
    for player_id in removed:
        await _membership_event(session, "segment.left", segment, player_id)
    return removed


async def on_player_attributes_changed(session: AsyncSession, change: AttributesChanged) -> None:
    """The ``player_attributes_changed`` listener (registered by pms.hooks).

    Every rule is re-evaluated whatever the attributes were: time-based attributes
    (lastActiveDays, activityStatus) move too, and a full per-player pass is one SELECT.
    """
    await recompute_player_segments(session, change.player_id, change.settings)


async def on_players_attributes_changed(session: AsyncSession, change: PlayersChanged) -> None:
    """The bulk form of the listener (an import's batch): one set-based statement per rule
    segment over the batch's players instead of one pass per player."""
    players = sorted(set(change.player_ids))
    for segment in await repository.rule_segments(session):
        condition = marketable(rules.compile_rule(segment.rule, change.settings))
        await repository.recompute(session, segment, condition, players)
    for player_id in players:
        mark_changed(session, str(player_id))


async def segments_of_players(
    session: AsyncSession, player_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, Segment]]:
    return await repository.segments_of_players(session, player_ids)


async def segments_of_players_on(
    db: Database, player_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, Segment]]:
    return await repository.segments_of_players_on(db, player_ids)


async def member_page(
    session: AsyncSession, segment_id: uuid.UUID, limit: int, after: uuid.UUID | None
) -> tuple[list[uuid.UUID], bool, int]:
    """Member player ids in id order (keyset), whether more follow, and the total."""
    return await repository.member_page(session, segment_id, limit, after)
