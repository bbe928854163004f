"""Analytics types: one day of the rollups (staff with analytics:read)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from app.analytics.service import DailyPoint
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
