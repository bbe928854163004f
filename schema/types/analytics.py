"""Analytics types (staff with analytics:read): daily rollups, period series, cohort
tables and the funnel."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from app.analytics import metrics
from app.analytics.figures import ratio
from app.analytics.service import DailyPoint
from schema.enums import GranularityEnum
from schema.errors import ValidationError
from schema.scalars import Money


@strawberry.type(description="One UTC day of business figures, in one currency.")
class AnalyticsDay:
    day: date
    deposits_count: int
    deposits: Money
    withdrawals_count: int
    withdrawals: Money
    bets_count: int
    stakes: Money
    wins: Money
    ggr: Money = strawberry.field(description="Stakes - wins (bonus cost not yet deducted).")
    active_players: int = strawberry.field(description="Players with a bet settled that day (DAU).")
    registrations: int
    rollbacks: int = strawberry.field(description="Bet rollbacks (reversals) that day.")

    @classmethod
    def from_point(cls, p: DailyPoint) -> AnalyticsDay:
        c = p.currency
        return cls(
            day=p.day, deposits_count=p.deposits_count, deposits=Money.of(p.deposits_minor, c),
            withdrawals_count=p.withdrawals_count,
            withdrawals=Money.of(p.withdrawals_minor, c), bets_count=p.bets_count,
            stakes=Money.of(p.stakes_minor, c), wins=Money.of(p.wins_minor, c),
            ggr=Money.of(p.ggr_minor, c), active_players=p.active_players,
            registrations=p.registrations, rollbacks=p.rollbacks,
        )  # fmt: skip


@strawberry.type
class AnalyticsDailySeries:
    currency: str
    days: list[AnalyticsDay]


AnalyticsDailyResult = Annotated[
    AnalyticsDailySeries | ValidationError, strawberry.union("AnalyticsDailyResult")
]


# --- issue 14: series, cohorts, funnel -------------------------------------------------


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money.of(minor, currency)


@strawberry.type(description="One currency's money in a period (or the reporting-currency sum).")
class AnalyticsMoney:
    currency: str
    stakes: Money
    wins: Money
    bonus_cost: Money = strawberry.field(description="Bonus money converted to real money.")
    ggr: Money = strawberry.field(description="Stakes - wins.")
    ngr: Money = strawberry.field(description="Net gaming revenue: stakes - wins - bonus cost.")
    deposits_count: int
    deposits: Money
    average_deposit: Money | None
    withdrawals_count: int
    withdrawals: Money
    active_players: int = strawberry.field(description="Players with a bet in this currency.")
    paying_players: int = strawberry.field(description="Players with a deposit in this currency.")
    arpu: Money | None = strawberry.field(description="NGR / active players.")
    arppu: Money | None = strawberry.field(description="NGR / paying players.")

    @classmethod
    def of(cls, m: metrics.MoneyFigures) -> AnalyticsMoney:
        c = m.currency
        return cls(
            currency=c, stakes=Money.of(m.stakes, c), wins=Money.of(m.wins, c),
            bonus_cost=Money.of(m.bonus_cost, c), ggr=Money.of(m.ggr, c),
            ngr=Money.of(m.ngr, c), deposits_count=m.deposits_count,
            deposits=Money.of(m.deposits, c), average_deposit=_money(m.average_deposit, c),
            withdrawals_count=m.withdrawals_count, withdrawals=Money.of(m.withdrawals, c),
            active_players=m.active, paying_players=m.paying, arpu=_money(m.arpu, c),
            arppu=_money(m.arppu, c),
        )  # fmt: skip


@strawberry.type
class AnalyticsRegistrationError:
    field: str
    reason: str
    count: int


@strawberry.type(description="Business figures of one day, ISO week or month (UTC). Ratios "
                 "are null when their denominator is 0.")  # fmt: skip
class AnalyticsPeriod:
    start: date
    end: date = strawberry.field(description="The period's last day (inclusive).")
    active_players: int = strawberry.field(
        description="Distinct players with a settled bet in the period (DAU, WAU or MAU)."
    )
    average_daily_active_players: float
    stickiness: float | None = strawberry.field(
        description="Average daily active / active players of the period (DAU/MAU by month)."
    )
    previous_active_players: int = strawberry.field(description="Active in the period before.")
    churned_players: int = strawberry.field(
        description="Active in the period before, not in this one."
    )
    churn_rate: float | None
    registrations: int
    first_deposits: int = strawberry.field(
        description="Of this period's registrations, players who have deposited since."
    )
    registration_to_deposit_conversion: float | None
    median_seconds_to_first_deposit: float | None = strawberry.field(
        description="Of this period's registrations who deposited, the median time from "
        "registration to the first deposit: read from log-scale histograms, within 1.1 % "
        "(or 1 ms) of the exact median; exact when several filters are combined."
    )
    registration_failures: int | None = strawberry.field(
        description="Refused registration attempts (null when a filter is set: a refused "
        "attempt has no player to filter by)."
    )
    registration_error_rate: float | None = strawberry.field(
        description="Failures / (failures + registrations)."
    )
    registration_errors: list[AnalyticsRegistrationError] | None = strawberry.field(
        description="Refusals by field and reason (one attempt can fail on several fields)."
    )
    kyc_decisions: int = strawberry.field(description="First KYC decisions made in the period.")
    kyc_verified: int
    kyc_success_rate: float | None
    median_kyc_decision_seconds: float | None = strawberry.field(
        description="From KYC submission to the first decision: the median, within 1.1 % "
        "(or 1 ms) of the exact one (log-scale histograms; exact when several filters are "
        "combined)."
    )
    bets: int
    rollbacks: int = strawberry.field(description="Bet and round rollbacks (reversals).")
    rollback_rate: float | None = strawberry.field(description="Rollbacks / settled bets.")
    bonuses_awarded: int
    bonuses_fulfilled: int
    bonus_conversion: float | None = strawberry.field(description="Fulfilled / awarded.")
    paying_players: int = strawberry.field(description="Distinct players with a deposit.")
    money: list[AnalyticsMoney] = strawberry.field(description="Per currency.")
    reporting: AnalyticsMoney = strawberry.field(
        description="Every currency converted to the reporting currency with the configured "
        "FX rates (PMS_ANALYTICS_FX_RATES); ARPU/ARPPU over all active/paying players."
    )
    missing_rates: list[str] = strawberry.field(
        description="Currencies left out of `reporting` for want of a rate."
    )

    @classmethod
    def of(cls, p: metrics.Period) -> AnalyticsPeriod:
        assert p.reporting is not None
        errors = p.registration_errors
        return cls(
            start=p.start, end=p.end, active_players=p.active,
            average_daily_active_players=p.average_daily_active, stickiness=p.stickiness,
            previous_active_players=p.previous_active, churned_players=p.churned,
            churn_rate=p.churn_rate, registrations=p.registrations,
            first_deposits=p.first_deposits, registration_to_deposit_conversion=p.conversion,
            median_seconds_to_first_deposit=p.median_seconds_to_first_deposit,
            registration_failures=p.registration_failures,
            registration_error_rate=p.registration_error_rate,
            registration_errors=None if errors is None else [
                AnalyticsRegistrationError(field=e.field, reason=e.reason, count=e.count)
                for e in errors
            ],
            kyc_decisions=p.kyc_decisions, kyc_verified=p.kyc_verified,
            kyc_success_rate=p.kyc_success_rate,
            median_kyc_decision_seconds=p.median_kyc_decision_seconds, bets=p.bets,
            rollbacks=p.rollbacks, rollback_rate=p.rollback_rate,
            bonuses_awarded=p.bonuses_awarded, bonuses_fulfilled=p.bonuses_fulfilled,
            bonus_conversion=p.bonus_conversion, paying_players=p.paying,
            money=[AnalyticsMoney.of(m) for m in p.money],
            reporting=AnalyticsMoney.of(p.reporting), missing_rates=p.missing_rates,
        )  # fmt: skip


@strawberry.type
class AnalyticsSeries:
    granularity: GranularityEnum
    from_day: date = strawberry.field(description="The first day of the first period.")
    to_day: date = strawberry.field(description="The last day of the last period.")
    reporting_currency: str
    periods: list[AnalyticsPeriod]

    @classmethod
    def of(cls, s: metrics.Series) -> AnalyticsSeries:
        return cls(
            granularity=s.granularity, from_day=s.from_day, to_day=s.to_day,
            reporting_currency=s.reporting_currency,
            periods=[AnalyticsPeriod.of(p) for p in s.periods],
        )  # fmt: skip


@strawberry.type
class AnalyticsCohortCell:
    months_since: int = strawberry.field(description="0 = the registration month.")
    active_players: int
    retention: float | None = strawberry.field(description="Active players / cohort size.")
    net_revenue: Money = strawberry.field(description="NGR of that month.")
    cumulative_net_revenue: Money
    ltv: Money | None = strawberry.field(
        description="Cumulative NGR per registered player of the cohort (LTV so far)."
    )


@strawberry.type
class AnalyticsCohort:
    month: date
    players: int = strawberry.field(description="Registrations that month.")
    cells: list[AnalyticsCohortCell]
    missing_rates: list[str]


@strawberry.type(description="Registration month x months since registration.")
class AnalyticsCohortTable:
    currency: str
    cohorts: list[AnalyticsCohort]

    @classmethod
    def of(cls, t: metrics.CohortTable) -> AnalyticsCohortTable:
        c = t.currency
        return cls(currency=c, cohorts=[
            AnalyticsCohort(month=k.month, players=k.players, missing_rates=k.missing_rates,
                            cells=[AnalyticsCohortCell(
                                months_since=x.months_since, active_players=x.active,
                                retention=ratio(x.active, k.players),
                                net_revenue=Money.of(x.ngr, c),
                                cumulative_net_revenue=Money.of(x.cumulative_ngr, c),
                                ltv=_money(k.ltv(x), c)) for x in k.cells])
            for k in t.cohorts
        ])  # fmt: skip


@strawberry.type
class AnalyticsFunnelStep:
    name: str = strawberry.field(description="REGISTERED, KYC_VERIFIED, FIRST_DEPOSIT, FIRST_BET")
    players: int = strawberry.field(description="Reached this step and every one before.")
    conversion_from_previous: float | None
    conversion_from_start: float | None


@strawberry.type(description="Players registered in the range, step by step.")
class AnalyticsFunnel:
    from_day: date
    to_day: date
    steps: list[AnalyticsFunnelStep]


AnalyticsSeriesResult = Annotated[
    AnalyticsSeries | ValidationError, strawberry.union("AnalyticsSeriesResult")
]
AnalyticsCohortsResult = Annotated[
    AnalyticsCohortTable | ValidationError, strawberry.union("AnalyticsCohortsResult")
]
AnalyticsFunnelResult = Annotated[
    AnalyticsFunnel | ValidationError, strawberry.union("AnalyticsFunnelResult")
]
