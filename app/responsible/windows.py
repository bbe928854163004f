"""Limit windows. ``calendar``: the UTC day, ISO week (from Monday) or month. ``rolling``:
a window opens at the first counted activity and lasts the period (1, 7 or 30 days), so
a new one opens with the first activity after it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.responsible.models import LimitPeriod

ROLLING_LENGTH = {
    LimitPeriod.DAY: timedelta(days=1),
    LimitPeriod.WEEK: timedelta(days=7),
    LimitPeriod.MONTH: timedelta(days=30),
}


def calendar_start(period: str, now: datetime) -> datetime:
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == LimitPeriod.DAY:
        return day
    if period == LimitPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def calendar_end(period: str, start: datetime) -> datetime:
    if period == LimitPeriod.DAY:
        return start + timedelta(days=1)
    if period == LimitPeriod.WEEK:
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def current(
    period: str, mode: str, window_start: datetime | None, now: datetime
) -> tuple[datetime, datetime, bool]:
    """(start, resets_at, fresh) of the window ``now`` falls in; ``fresh`` means the
    stored counter belongs to an earlier window and starts again from zero."""
    if mode == "calendar":
        start = calendar_start(period, now)
        return start, calendar_end(period, start), window_start != start
    length = ROLLING_LENGTH[LimitPeriod(period)]
    if window_start is not None and now < window_start + length:
        return window_start, window_start + length, False
    return now, now + length, True
