"""Business metrics for staff over whole days, weeks or months, optionally filtered by
segment, country, traffic source or affiliate: every figure read from the rollups."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository
from app.analytics.consumer import REGISTRATION_FAILED
from app.analytics.facts import GRAIN_OF
from app.analytics.figures import (
    STEP,
    Bucket,
    Fx,
    Granularity,
    median_of_buckets,
    months_between,
    next_period,
    per,
    periods,
    previous_period,
    ratio,
)  # fmt: skip
from app.core.currencies import FREE_SPINS_UNIT
from app.core.errors import FieldProblem, ValidationFailed

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Filters:
    segment_id: uuid.UUID | None = None
    country: str | None = None
    traffic_source: str | None = None
    affiliate_code: str | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def problems(self) -> list[FieldProblem]:
        out = []
        if self.country is not None and not _COUNTRY.match(self.country):
            out.append(FieldProblem("country", "must be an ISO 3166-1 alpha-2 code such as DE"))
        for name, value in (("trafficSource", self.traffic_source),
                            ("affiliateCode", self.affiliate_code)):  # fmt: skip
            if value is not None and not _TAG.match(value):
                out.append(FieldProblem(name, "1-64 letters, digits, '_', '.', ':' or '-'"))
        return out


def check_range(
    from_day: date, to_day: date, max_span_days: int, *, currency: str | None = None,
    filters: Filters | None = None,
) -> None:  # fmt: skip
    problems: list[FieldProblem] = []
    if to_day < from_day:
        problems.append(FieldProblem("toDay", "must not be before fromDay"))
    elif (to_day - from_day).days + 1 > max_span_days:
        problems.append(FieldProblem("toDay", f"the range is at most {max_span_days} days"))
    if currency is not None and not _CURRENCY.match(currency):
        problems.append(FieldProblem("currency", "must be an ISO 4217 code (EUR)"))
    problems += filters.problems() if filters else []
    if problems:
        raise ValidationFailed(problems)


@dataclass
class MoneyFigures:
    """One currency's money in a period (minor units), or its reporting-currency sum."""

    currency: str
    stakes: int = 0
    wins: int = 0
    bonus_cost: int = 0
    deposits_count: int = 0
    deposits: int = 0
    withdrawals_count: int = 0
    withdrawals: int = 0
    active: int = 0
    paying: int = 0

    @property
    def ggr(self) -> int:
        return self.stakes - self.wins

    @property
    def ngr(self) -> int:
        """Net gaming revenue: stakes - wins - bonus cost."""
        return self.stakes - self.wins - self.bonus_cost

    @property
    def arpu(self) -> int | None:
        return per(self.ngr, self.active)

    @property
    def arppu(self) -> int | None:
        return per(self.ngr, self.paying)

    @property
    def average_deposit(self) -> int | None:
        return per(self.deposits, self.deposits_count)


MONEY_FIELDS = ("stakes", "wins", "bonus_cost", "deposits", "withdrawals")


def reporting_sum(
    rows: list[MoneyFigures], fx: Fx, active: int, paying: int
) -> tuple[MoneyFigures, list[str]]:
    """The period's money in the reporting currency; currencies without a rate are left
    out and returned by name."""
    total = MoneyFigures(fx.reporting, active=active, paying=paying)
    missing = []
    for row in rows:
        if fx.rate(row.currency) is None:
            missing.append(row.currency)
            continue
        for name in MONEY_FIELDS:
            converted = fx.convert(getattr(row, name), row.currency)
            setattr(total, name, getattr(total, name) + (converted or 0))
        total.deposits_count += row.deposits_count
        total.withdrawals_count += row.withdrawals_count
    return total, sorted(missing)


@dataclass(frozen=True)
class RegistrationErrorCount:
    field: str
    reason: str
    count: int


@dataclass
class Period:
    start: date
    end: date  # inclusive
    active: int = 0
    active_days: int = 0
    paying: int = 0
    bets: int = 0
    rollbacks: int = 0
    bonuses_awarded: int = 0
    bonuses_fulfilled: int = 0
    previous_active: int = 0
    churned: int = 0
    registrations: int = 0
    first_deposits: int = 0
    median_seconds_to_first_deposit: float | None = None
    kyc_decisions: int = 0
    kyc_verified: int = 0
    median_kyc_decision_seconds: float | None = None
    # Failed registrations carry no player, so no filter applies to them: None when filtered.
    registration_failures: int | None = None
    registration_errors: list[RegistrationErrorCount] | None = None
    money: list[MoneyFigures] = field(default_factory=list)
    reporting: MoneyFigures | None = None
    missing_rates: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def average_daily_active(self) -> float:
        return self.active_days / self.days

    @property
    def stickiness(self) -> float | None:
        """Average daily actives / distinct actives of the period (DAU/MAU for a month)."""
        return ratio(self.average_daily_active, self.active)

    @property
    def churn_rate(self) -> float | None:
        return ratio(self.churned, self.previous_active)

    @property
    def conversion(self) -> float | None:
        return ratio(self.first_deposits, self.registrations)

    @property
    def kyc_success_rate(self) -> float | None:
        return ratio(self.kyc_verified, self.kyc_decisions)

    @property
    def rollback_rate(self) -> float | None:
        return ratio(self.rollbacks, self.bets)

    @property
    def bonus_conversion(self) -> float | None:
        return ratio(self.bonuses_fulfilled, self.bonuses_awarded)

    @property
    def registration_error_rate(self) -> float | None:
        if self.registration_failures is None:
            return None
        return ratio(self.registration_failures, self.registration_failures + self.registrations)


@dataclass(frozen=True)
class Series:
    granularity: Granularity
    from_day: date
    to_day: date
    reporting_currency: str
    periods: list[Period]


def _int(value: Any) -> int:
    return int(value or 0)


def _secs(value: Any) -> float | None:
    return None if value is None else float(value)


async def series(
    session: AsyncSession, g: Granularity, from_day: date, to_day: date, *,
    currency: str | None, filters: Filters, fx: Fx, max_span_days: int,
) -> Series:  # fmt: skip
    """Figures per whole period covering [from_day, to_day] (UTC)."""
    check_range(from_day, to_day, max_span_days, currency=currency, filters=filters)
    starts = periods(from_day, to_day, g)
    lo, hi = starts[0], next_period(starts[-1], g) - ONE_DAY
    by_start = {s: Period(s, next_period(s, g) - ONE_DAY) for s in starts}
    f = asdict(filters)
    params = {"g": g.value, "grain": GRAIN_OF[g], "lo": lo, "hi": hi}
    reads = repository.reads_for(f)

    for r in await repository.fetch(session, reads.activity, params, f, dims=reads.dims):
        p = by_start[r["period"]]
        p.active, p.active_days, p.paying = (
            _int(r["active"]),
            _int(r["active_days"]),
            _int(r["paying"]),
        )
        p.bets, p.rollbacks = _int(r["bets"]), _int(r["rollbacks"])
        p.bonuses_awarded, p.bonuses_fulfilled = _int(r["awarded"]), _int(r["fulfilled"])
        if reads.from_facts:
            p.registrations, p.first_deposits = _int(r["registrations"]), _int(r["first_deposits"])
            p.kyc_decisions, p.kyc_verified = _int(r["decisions"]), _int(r["verified"])
    churn = {**params, "prev_lo": previous_period(lo, g), "step": STEP[g], "last_start": starts[-1]}
    for r in await repository.fetch(session, reads.churn, churn, f, dims=reads.dims):
        p = by_start[r["period"]]
        p.previous_active, p.churned = _int(r["previous_active"]), _int(r["churned"])
    dims = [k for k in _DURATION_DIMS if f[k] is not None]
    if reads.from_facts:
        await _medians_from_histograms(session, params, f, dims, by_start)
    else:
        await _milestones_per_player(session, params, f, by_start)
    if not filters.any:
        await _registration_errors(session, params, by_start)
    await _money(session, reads, params, f, by_start, currency, fx)
    return Series(g, lo, hi, fx.reporting, [by_start[s] for s in starts])


_DURATION_DIMS = ("country", "traffic_source", "affiliate_code", "segment_id")


async def _medians_from_histograms(
    session: AsyncSession, params: Mapping[str, object], f: Mapping[str, object],
    dims: list[str], by_start: dict[date, Period],
) -> None:  # fmt: skip
    """The medians from the duration histograms of the one dimension filtered by (or of
    every player), or of the matching full combinations (several filters): within
    ``MEDIAN_RELATIVE_ERROR`` of the exact ones."""
    if len(dims) > 1:
        cond, key = repository.combo_filter_sql(f)
        sql = repository.DURATION_COMBO_MEDIAN_BUCKETS.replace("{cond}", cond)
        key |= params
    else:
        dim = dims[0] if dims else ""
        sql = repository.DURATION_MEDIAN_BUCKETS
        key = {**params, "dim": dim, "value": str(f[dim]) if dim else ""}
    middle: dict[tuple[date, str], list[Bucket]] = defaultdict(list)
    for r in await repository.fetch(session, sql, key, {}):
        bucket = Bucket(int(r["bucket"]), _int(r["below"]), _int(r["count"]), _int(r["total"]))
        middle[(r["period"], r["metric"])].append(bucket)
    for start, p in by_start.items():
        p.median_seconds_to_first_deposit = median_of_buckets(middle.get((start, "deposit"), []))
        p.median_kyc_decision_seconds = median_of_buckets(middle.get((start, "kyc"), []))


async def _milestones_per_player(
    session: AsyncSession, params: Mapping[str, object], f: Mapping[str, object],
    by_start: dict[date, Period],
) -> None:  # fmt: skip
    """Registrations and KYC decisions with their exact medians, grouped from the players
    at query time (the player-day reads: the exact reference of the facts)."""
    for r in await repository.fetch(session, repository.REGISTRATIONS, params, f):
        p = by_start[r["period"]]
        p.registrations, p.first_deposits = _int(r["registrations"]), _int(r["first_deposits"])
        p.median_seconds_to_first_deposit = _secs(r["median_deposit_s"])
    for r in await repository.fetch(session, repository.KYC, params, f):
        p = by_start[r["period"]]
        p.kyc_decisions, p.kyc_verified = _int(r["decisions"]), _int(r["verified"])
        p.median_kyc_decision_seconds = _secs(r["median_kyc_s"])


async def _registration_errors(
    session: AsyncSession, params: Mapping[str, object], by_start: dict[date, Period]
) -> None:
    for p in by_start.values():
        p.registration_failures, p.registration_errors = 0, []
    failures = {**params, "name": REGISTRATION_FAILED}
    for r in await repository.fetch(session, repository.REGISTRATION_FAILURES, failures, {}):
        by_start[r["period"]].registration_failures = _int(r["failures"])
    for r in await repository.fetch(session, repository.REGISTRATION_ERRORS, params, {}):
        errors = by_start[r["period"]].registration_errors
        assert errors is not None
        errors.append(RegistrationErrorCount(str(r["field"]), str(r["reason"]), _int(r["count"])))


async def _money(
    session: AsyncSession, reads: repository.Reads, params: Mapping[str, object],
    f: Mapping[str, object],
    by_start: dict[date, Period], currency: str | None, fx: Fx,
) -> None:  # fmt: skip
    rows: dict[date, list[MoneyFigures]] = defaultdict(list)
    for r in await repository.fetch(session, reads.money, params, f, dims=reads.dims):
        if r["currency"] == FREE_SPINS_UNIT:
            continue  # spins are no money; their conversion shows up as bonus cost
        rows[r["period"]].append(MoneyFigures(
            str(r["currency"]), _int(r["stakes"]), _int(r["wins"]), _int(r["bonus_cost"]),
            _int(r["deposits_count"]), _int(r["deposits"]), _int(r["withdrawals_count"]),
            _int(r["withdrawals"]), _int(r["active"]), _int(r["paying"]),
        ))  # fmt: skip
    for start, p in by_start.items():
        all_rows = sorted(rows.get(start, []), key=lambda m: m.currency)
        p.reporting, p.missing_rates = reporting_sum(all_rows, fx, p.active, p.paying)
        p.money = [m for m in all_rows if currency is None or m.currency == currency]


# --- cohorts ---------------------------------------------------------------------------


@dataclass
class CohortCell:
    months_since: int
    active: int = 0
    ngr: int = 0
    cumulative_ngr: int = 0


@dataclass
class Cohort:
    month: date
    players: int
    cells: list[CohortCell]
    missing_rates: list[str] = field(default_factory=list)

    def ltv(self, cell: CohortCell) -> int | None:
        """Historic net revenue per player of the cohort, up to that month."""
        return per(cell.cumulative_ngr, self.players)


@dataclass(frozen=True)
class CohortTable:
    currency: str
    cohorts: list[Cohort]


async def cohorts(
    session: AsyncSession, from_month: date, to_month: date, *, currency: str | None,
    filters: Filters, fx: Fx, max_span_days: int, today: date | None = None,
) -> CohortTable:  # fmt: skip
    """Registration month x months since: active players, NGR and LTV (cumulative NGR per
    registered player), in ``currency`` or converted to the reporting currency."""
    lo = from_month.replace(day=1)
    hi = next_period(to_month.replace(day=1), Granularity.MONTH) - ONE_DAY
    check_range(lo, hi, max_span_days, currency=currency, filters=filters)
    now = today or datetime.now(UTC).date()
    f, params = asdict(filters), {"lo": lo, "hi": hi}
    reads = repository.reads_for(f)
    rows = await repository.fetch(session, reads.cohort_sizes, params, f, dims=reads.dims)
    sizes: dict[date, int] = {r["cohort"]: _int(r["players"]) for r in rows}
    table = {
        m: Cohort(m, n, [CohortCell(k) for k in range(max(0, months_between(m, now)) + 1)])
        for m, n in sorted(sizes.items())
    }
    for r in await repository.fetch(session, reads.cohort_active, params, f, dims=reads.dims):
        cell = _cell(table, r)
        if cell is not None:
            cell.active = _int(r["active"])
    for r in await repository.fetch(session, reads.cohorts, params, f, dims=reads.dims):
        cell, cur = _cell(table, r), str(r["currency"])
        if cell is None or cur == FREE_SPINS_UNIT or (currency and cur != currency):
            continue
        amount = _int(r["ngr"]) if currency else fx.convert(_int(r["ngr"]), cur)
        if amount is None:
            table[r["cohort"]].missing_rates.append(cur)
            continue
        cell.ngr += amount
    for cohort in table.values():
        running = 0
        for cell in cohort.cells:
            running += cell.ngr
            cell.cumulative_ngr = running
        cohort.missing_rates = sorted(set(cohort.missing_rates))
    return CohortTable(currency or fx.reporting, list(table.values()))


def _cell(table: dict[date, Cohort], r: dict[str, Any]) -> CohortCell | None:
    cohort = table.get(r["cohort"])
    k = _int(r["months_since"])
    if cohort is None or not 0 <= k < len(cohort.cells):
        return None
    return cohort.cells[k]


# --- funnel ----------------------------------------------------------------------------

FUNNEL_STEPS = ("registered", "kyc_verified", "first_deposit", "first_bet")


@dataclass(frozen=True)
class FunnelStep:
    name: str
    players: int
    from_previous: float | None
    from_start: float | None


async def funnel(
    session: AsyncSession, from_day: date, to_day: date, *, filters: Filters,
    max_span_days: int,
) -> list[FunnelStep]:  # fmt: skip
    """Players registered in the range, and how many of them went on to each next step
    (each step counts those who reached it and every step before)."""
    check_range(from_day, to_day, max_span_days, filters=filters)
    f = asdict(filters)
    sql, dims = repository.funnel_read(f)
    rows = await repository.fetch(session, sql, {"lo": from_day, "hi": to_day}, f, dims=dims)
    counts = [_int(rows[0][name]) for name in FUNNEL_STEPS]
    return [
        FunnelStep(name.upper(), n, ratio(n, counts[i - 1]) if i else None, ratio(n, counts[0]))
        for i, (name, n) in enumerate(zip(FUNNEL_STEPS, counts, strict=True))
    ]
