"""Inputs of the analytics queries."""

from __future__ import annotations

from datetime import date

import strawberry

from schema.enums import GranularityEnum


@strawberry.input(description="Optional filters; each narrows the figures to matching players.")
class AnalyticsFilter:
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="Current members of this segment."
    )
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2.")
    traffic_source: str | None = strawberry.field(
        default=None, description="As given at registration (trafficSource)."
    )
    affiliate_code: str | None = strawberry.field(
        default=None, description="As given at registration (affiliateCode)."
    )


@strawberry.input
class AnalyticsSeriesInput:
    granularity: GranularityEnum
    from_day: date
    to_day: date = strawberry.field(
        description="Inclusive; the range is widened to whole periods (ISO weeks, months)."
    )
    currency: str | None = strawberry.field(
        default=None, description="Only this currency in `money` (default: every currency)."
    )
    filter: AnalyticsFilter | None = None


@strawberry.input
class AnalyticsCohortsInput:
    from_month: date = strawberry.field(description="Any day of the first registration month.")
    to_month: date = strawberry.field(description="Any day of the last registration month.")
    currency: str | None = strawberry.field(
        default=None,
        description="Revenue in this currency only (default: all, converted to "
        "the reporting currency).",
    )
    filter: AnalyticsFilter | None = None


@strawberry.input
class AnalyticsFunnelInput:
    from_day: date = strawberry.field(description="Registrations from this UTC day...")
    to_day: date = strawberry.field(description="...to this one, inclusive.")
    filter: AnalyticsFilter | None = None
