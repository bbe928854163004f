"""Pure arithmetic of the analytics figures: periods, ratios, FX conversion. No I/O."""

from __future__ import annotations

import math
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


# --- medians of durations from log-scale histograms --------------------------------------
# Medians do not merge across the facts' dimension rows; bucket counts do. Bucket k holds
# durations in [2^(k/S), 2^((k+1)/S)) seconds; a median is read as the geometric midpoint of
# the bucket holding it, so it is within a factor 2^(1/(2S)) of the exact percentile_cont
# median (the mean of two such values, for an even count, stays within it too).
STEPS_PER_DOUBLING = 32
MEDIAN_RELATIVE_ERROR = 2 ** (1 / (2 * STEPS_PER_DOUBLING)) - 1  # 1.09 %
ZERO_BUCKET = -32768  # under 1 ms, or negative (events applied out of order): read as 0
_SMALLEST = 0.001


def duration_bucket(seconds: float) -> int:
    if seconds < _SMALLEST:
        return ZERO_BUCKET
    return math.floor(math.log2(seconds) * STEPS_PER_DOUBLING)


def bucket_value(bucket: int) -> float:
    if bucket == ZERO_BUCKET:
        return 0.0
    return float(2 ** ((bucket + 0.5) / STEPS_PER_DOUBLING))


@dataclass(frozen=True)
class Bucket:
    """A histogram bucket with how many durations lie below it and in the whole histogram."""

    bucket: int
    below: int
    count: int
    total: int


def median_of_buckets(buckets: list[Bucket]) -> float | None:
    """The median (percentile_cont 0.5) of a histogram's durations from the buckets holding
    its two middle ranks, within ``MEDIAN_RELATIVE_ERROR`` (or 1 ms)."""
    if not buckets or buckets[0].total <= 0:
        return None
    n = buckets[0].total
    values = [bucket_value(next(b.bucket for b in buckets if b.below <= rank < b.below + b.count))
              for rank in ((n - 1) // 2, n // 2)]  # fmt: skip
    return (values[0] + values[1]) / 2


def histogram_median(counts: dict[int, int]) -> float | None:
    """The same from a whole histogram (bucket -> count)."""
    buckets, below, total = [], 0, sum(counts.values())
    for bucket in sorted(counts):
        buckets.append(Bucket(bucket, below, counts[bucket], total))
        below += counts[bucket]
    return median_of_buckets(buckets)
