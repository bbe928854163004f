"""Analytics queries for staff (analytics:read): read from the rollups only."""

from __future__ import annotations

from datetime import date

import strawberry

from app.analytics import metrics, service
from app.analytics.figures import Fx
from app.core.errors import ValidationFailed
from app.segments.service import get_segment
from permissions.roles import Permission as P
from permissions.rules import required
from schema.context import Info
from schema.errors import ValidationError
from schema.ids import parse_uuid
from schema.inputs.analytics import (
    AnalyticsCohortsInput,
    AnalyticsFilter,
    AnalyticsFunnelInput,
    AnalyticsSeriesInput,
)  # fmt: skip
from schema.types.analytics import (
    AnalyticsCohortsResult,
    AnalyticsCohortTable,
    AnalyticsDailyResult,
    AnalyticsDailySeries,
    AnalyticsDay,
    AnalyticsFunnel,
    AnalyticsFunnelResult,
    AnalyticsFunnelStep,
    AnalyticsSeries,
    AnalyticsSeriesResult,
)  # fmt: skip


async def _filters(info: Info, raw: AnalyticsFilter | None) -> metrics.Filters:
    """The filter as the service takes it; an unknown segment is a ValidationFailed."""
    if raw is None:
        return metrics.Filters()
    segment = None
    if raw.segment_id is not None:
        segment = parse_uuid(raw.segment_id, "segmentId")
        async with info.context.db.read_session() as session:
            if await get_segment(session, segment) is None:
                raise ValidationFailed.single("segmentId", "no such segment")
    return metrics.Filters(segment, raw.country, raw.traffic_source, raw.affiliate_code)


def _fx(info: Info) -> Fx:
    s = info.context.settings
    return Fx(s.analytics_reporting_currency, dict(s.analytics_fx_rates))


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(
        description="Daily figures (deposits, withdrawals, stakes, wins, GGR, DAU, "
        "registrations, rollbacks) for a date range of at most PMS_ANALYTICS_MAX_SPAN_DAYS days, "
        "in one currency.",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_daily(
        self, info: Info, from_day: date, to_day: date, currency: str
    ) -> AnalyticsDailyResult:
        try:
            async with info.context.db.read_session() as session:
                points = await service.daily(
                    session, from_day, to_day, currency,
                    info.context.settings.analytics_max_span_days,
                )  # fmt: skip
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        return AnalyticsDailySeries(
            currency=currency, days=[AnalyticsDay.from_point(p) for p in points]
        )

    @strawberry.field(
        description="Business metrics per day, ISO week or month over a date range (at most "
        "PMS_ANALYTICS_MAX_SPAN_DAYS), optionally for one segment, country, traffic source or "
        "affiliate; per currency and in the reporting currency.",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_series(
        self, info: Info, input: AnalyticsSeriesInput
    ) -> AnalyticsSeriesResult:
        try:
            filters = await _filters(info, input.filter)
            async with info.context.db.read_session() as session:
                result = await metrics.series(
                    session, input.granularity, input.from_day, input.to_day,
                    currency=input.currency, filters=filters, fx=_fx(info),
                    max_span_days=info.context.settings.analytics_max_span_days,
                )  # fmt: skip
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        return AnalyticsSeries.of(result)

    @strawberry.field(
        description="Cohorts by registration month x months since: active players, "
        "retention, net revenue and LTV (cumulative net revenue per registered player).",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_cohorts(
        self, info: Info, input: AnalyticsCohortsInput
    ) -> AnalyticsCohortsResult:
        try:
            filters = await _filters(info, input.filter)
            async with info.context.db.read_session() as session:
                table = await metrics.cohorts(
                    session, input.from_month, input.to_month, currency=input.currency,
                    filters=filters, fx=_fx(info),
                    max_span_days=info.context.settings.analytics_max_span_days,
                )  # fmt: skip
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        return AnalyticsCohortTable.of(table)

    @strawberry.field(
        description="Registration -> KYC verified -> first deposit -> first bet, for the "
        "players registered in a date range.",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_funnel(
        self, info: Info, input: AnalyticsFunnelInput
    ) -> AnalyticsFunnelResult:
        try:
            filters = await _filters(info, input.filter)
            async with info.context.db.read_session() as session:
                steps = await metrics.funnel(
                    session, input.from_day, input.to_day, filters=filters,
                    max_span_days=info.context.settings.analytics_max_span_days,
                )  # fmt: skip
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        return AnalyticsFunnel(from_day=input.from_day, to_day=input.to_day, steps=[
            AnalyticsFunnelStep(name=s.name, players=s.players,
                                conversion_from_previous=s.from_previous,
                                conversion_from_start=s.from_start)
            for s in steps
        ])  # fmt: skip
