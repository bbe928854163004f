"""Analytics queries for staff (analytics:read): read from the rollups only."""

from __future__ import annotations

from datetime import date

import strawberry

from app.analytics import service
from app.core.errors import ValidationFailed
from permissions.roles import Permission as P
from permissions.rules import required
from schema.context import Info
from schema.errors import ValidationError
from schema.types.analytics import AnalyticsDailyResult, AnalyticsDailySeries, AnalyticsDay


@strawberry.type
class AnalyticsQueries:
    @strawberry.field(
        description="Daily figures (deposits, withdrawals, stakes, wins, GGR, DAU, "
        "registrations, rollbacks) for a date range of at most 366 days, in one currency.",
        extensions=[required(P.ANALYTICS_READ)],
    )
    async def analytics_daily(
        self, info: Info, from_day: date, to_day: date, currency: str
    ) -> AnalyticsDailyResult:
        try:
            async with info.context.db.read_session() as session:
                points = await service.daily(session, from_day, to_day, currency)
        except ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        return AnalyticsDailySeries(
            currency=currency, days=[AnalyticsDay.from_point(p) for p in points]
        )
