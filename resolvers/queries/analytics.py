"""Analytics queries for staff (analytics:read): read from the rollups only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

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

T = TypeVar("T")


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


def _max_span(info: Info) -> int:
    return info.context.settings.analytics_max_span_days


async def _filtered_read(
    info: Info, raw: AnalyticsFilter | None,
    read: Callable[[AsyncSession, metrics.Filters], Awaitable[T]],
) -> T | ValidationError:  # fmt: skip
    """The shape every filtered analytics query shares: the filter checked, one read
    session, a refused input as a typed ValidationError."""
    try:
        filters = await _filters(info, raw)
        async with info.context.db.read_session() as session:
            return await read(session, filters)
    except ValidationFailed as exc:
        return ValidationError.from_domain(exc)


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
                points = await service.daily(session, from_day, to_day, currency, _max_span(info))
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
        async def read(session: AsyncSession, filters: metrics.Filters) -> AnalyticsSeries:
            result = await metrics.series(
                session, input.granularity, input.from_day, input.to_day,
                currency=input.currency, filters=filters, fx=_fx(info),
                max_span_days=_max_span(info),
            )  # fmt: skip
            return AnalyticsSeries.of(result)

        return await _filtered_read(info, input.filter, read)

    @strawberry.field(
        description="Cohorts by registration month x months since: active players, "
        "retention, net revenue and LTV (cumulative net revenue per registered player).",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_cohorts(
        self, info: Info, input: AnalyticsCohortsInput
    ) -> AnalyticsCohortsResult:
        async def read(session: AsyncSession, filters: metrics.Filters) -> AnalyticsCohortTable:
            table = await metrics.cohorts(
                session, input.from_month, input.to_month, currency=input.currency,
                filters=filters, fx=_fx(info), max_span_days=_max_span(info),
            )  # fmt: skip
            return AnalyticsCohortTable.of(table)

        return await _filtered_read(info, input.filter, read)

    @strawberry.field(
        description="Registration -> KYC verified -> first deposit -> first bet, for the "
        "players registered in a date range.",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_funnel(
        self, info: Info, input: AnalyticsFunnelInput
    ) -> AnalyticsFunnelResult:
        async def read(session: AsyncSession, filters: metrics.Filters) -> AnalyticsFunnel:
            steps = await metrics.funnel(
                session, input.from_day, input.to_day, filters=filters,
                max_span_days=_max_span(info),
            )  # fmt: skip
            return AnalyticsFunnel(from_day=input.from_day, to_day=input.to_day, steps=[
                AnalyticsFunnelStep(name=s.name, players=s.players,
                                    conversion_from_previous=s.from_previous,
                                    conversion_from_start=s.from_start)
                for s in steps
            ])  # fmt: skip

        return await _filtered_read(info, input.filter, read)
