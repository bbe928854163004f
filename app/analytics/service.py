"""Analytics reads for staff: daily series from the rollups, with the range checked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository
from app.analytics.consumer import REGISTRATION_FAILED
from app.core.errors import FieldProblem, ValidationFailed
from app.events import outbox

MAX_SPAN_DAYS = 366
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class DailyPoint:
    day: date
    currency: str
    deposits_count: int
    deposits_minor: int
    withdrawals_count: int
    withdrawals_minor: int
    bets_count: int
    stakes_minor: int
    wins_minor: int
    active_players: int
    registrations: int
    rollbacks: int

    @property
    def ggr_minor(self) -> int:
        """Gross gaming revenue: stakes - wins (bonus cost not yet deducted)."""
        return self.stakes_minor - self.wins_minor


def check_range(
    from_day: date, to_day: date, currency: str, max_span_days: int = MAX_SPAN_DAYS
) -> None:
    problems: list[FieldProblem] = []
    if to_day < from_day:
        problems.append(FieldProblem("toDay", "must not be before fromDay"))
    elif (to_day - from_day).days + 1 > max_span_days:
        problems.append(FieldProblem("toDay", f"the range is at most {max_span_days} days"))
    if not _CURRENCY.match(currency):
        problems.append(FieldProblem("currency", "must be an ISO 4217 code (EUR)"))
    if problems:
        raise ValidationFailed(problems)


async def daily(
    session: AsyncSession, from_day: date, to_day: date, currency: str,
    max_span_days: int = MAX_SPAN_DAYS,
) -> list[DailyPoint]:  # fmt: skip
    check_range(from_day, to_day, currency, max_span_days)
    rows = await repository.daily_series(session, from_day, to_day, currency)
    return [DailyPoint(currency=currency, **r) for r in rows]  # type: ignore[arg-type]


async def record_registration_failure(
    session: AsyncSession, problems: Sequence[FieldProblem]
) -> None:
    """A refused registration, as an event (for the rollups and any alerting consumer):
    the fields and the validator's fixed reasons only, never the submitted values."""
    data = {"problems": [{"field": p.field, "reason": p.message} for p in problems]}
    await outbox.record(session, REGISTRATION_FAILED, None, data)
