"""``previewSegment``: what a rule would select, written nowhere. Members now (count and
the first players by id) and a day-by-day history over the last N days.

The history re-evaluates the rule at the end of each day with *time* moved back: only
players registered by then count, and every time-relative attribute (registeredDays,
lastActiveDays, activityStatus, betsPerDay) is computed as of that day. Attributes PMS
keeps no history of (country, status, VIP level, tags, play-style totals) are taken at
their current values. Bounded: at most ``MAX_DAYS`` days and ``statement_timeout``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, DateTime, column, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors
from sqlalchemy.sql.functions import now as Now

from app.core.errors import ValidationFailed
from app.core.settings import Settings
from app.players.models import Player
from app.segments import rules
from app.segments.service import marketable
from app.segments.tables import BASE, P

MAX_DAYS = 90
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class DayCount:
    day: date
    members: int


@dataclass(frozen=True)
class Preview:
    count: int
    players: list[Player]
    history: list[DayCount]


def _as_of(condition: ColumnElement[bool], at: ColumnElement[Any]) -> ColumnElement[bool]:
    """``condition`` with every now() replaced by ``at``."""

    def swap(element: Any, **_: Any) -> Any:
        return at if isinstance(element, Now) else None

    return visitors.replacement_traverse(condition, {}, swap)


async def preview(
    session: AsyncSession, rule: Any, settings: Settings, *, days: int, first: int
) -> Preview:
    rules.validate(rule)
    if not 0 <= days <= MAX_DAYS:
        raise ValidationFailed.single("days", f"0..{MAX_DAYS}")
    if not 1 <= first <= settings.max_page_size:
        raise ValidationFailed.single("first", f"1..{settings.max_page_size}")
    await session.execute(text(f"SET LOCAL statement_timeout = {TIMEOUT_MS}"))
    await session.execute(text("SET TRANSACTION READ ONLY"))
    condition = marketable(rules.compile_rule(rule, settings))
    count = (await session.execute(
        select(func.count()).select_from(BASE).where(condition)
    )).scalar_one()  # fmt: skip
    ids = list((await session.execute(
        select(P.c.id).select_from(BASE).where(condition).order_by(P.c.id).limit(first)
    )).scalars())  # fmt: skip
    return Preview(
        int(count), await _players(session, ids), await _history(session, condition, days)
    )


async def _players(session: AsyncSession, ids: list[uuid.UUID]) -> list[Player]:
    if not ids:
        return []
    found = await session.execute(select(Player).where(Player.id.in_(ids)))  # type: ignore[attr-defined]
    by_id = {p.id: p for p in found.scalars()}
    return [by_id[i] for i in ids if i in by_id]


async def _history(
    session: AsyncSession, condition: ColumnElement[bool], days: int
) -> list[DayCount]:
    """Members at the end of each of the last ``days`` UTC days (today: so far)."""
    if days == 0:
        return []
    # Each UTC day and its end (today: now), as the moment the rule is evaluated at.
    series = (
        select(column("day", Date), column("at", DateTime(timezone=True)))
        .select_from(text(
            "generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') "
            "- make_interval(days => :d - 1), date_trunc('day', now() AT TIME ZONE 'UTC'), "
            "interval '1 day') AS s(day_start), LATERAL (SELECT day_start::date AS day, "
            "least(now(), (day_start + interval '1 day') AT TIME ZONE 'UTC') AS at) AS e"
        ))
        .subquery("days")
    )  # fmt: skip
    members = (
        select(func.count())
        .select_from(BASE)
        .where(P.c.created_at <= series.c.at, _as_of(condition, series.c.at))
        .correlate(series)
        .scalar_subquery()
    )
    rows = await session.execute(select(series.c.day, members).order_by(series.c.day), {"d": days})
    return [DayCount(day, int(n)) for day, n in rows]
