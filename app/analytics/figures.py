"""Pure arithmetic of the analytics figures: periods, ratios, FX conversion. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from app.core.currencies import exponent


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday first
    MONTH = "month"


STEP = {Granularity.DAY: "1 day", Granularity.WEEK: "1 week", Granularity.MONTH: "1 month"}


def period_start(day: date, g: Granularity) -> date:
    if g is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if g is Granularity.MONTH:
        return day.replace(day=1)
    return day


def next_period(start: date, g: Granularity) -> date:
    if g is Granularity.MONTH:
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=7 if g is Granularity.WEEK else 1)


def previous_period(start: date, g: Granularity) -> date:
    if g is Granularity.MONTH:
        return (start - timedelta(days=1)).replace(day=1)
    return start - timedelta(days=7 if g is Granularity.WEEK else 1)


def periods(from_day: date, to_day: date, g: Granularity) -> list[date]:
    """The starts of the whole periods that cover [from_day, to_day]."""
    starts, start = [], period_start(from_day, g)
    while start <= to_day:
        starts.append(start)
        start = next_period(start, g)
    return starts


def months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def ratio(part: int | float, whole: int | float) -> float | None:
    """part / whole, or None (not 0) when there is nothing to divide by."""
    return None if not whole else float(part) / float(whole)


def per(minor: int, count: int) -> int | None:
    """An average in minor units, rounded half-even; None for no count."""
    if not count:
        return None
    return int((Decimal(minor) / Decimal(count)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Fx:
    """Conversion to the reporting currency with the configured rates (one unit of a
    currency is worth ``rates[currency]`` units of the reporting currency)."""

    reporting: str
    rates: dict[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal | None:
        return Decimal(1) if currency == self.reporting else self.rates.get(currency)

    def convert(self, minor: int, currency: str) -> int | None:
        rate = self.rate(currency)
        if rate is None:
            return None
        major = Decimal(minor).scaleb(-exponent(currency)) * rate
        target = major.scaleb(exponent(self.reporting))
        return int(target.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
