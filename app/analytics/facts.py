"""The pre-aggregated facts (analytics_period_facts): every player-day change the consumer
applies is also added to its day's, ISO week's and month's facts under the player's
dimensions, so a series or cohort table reads a handful of rows per period.

Distinct-player counts (active, paying, retained) stay exact through one activity row
per player and period (analytics_player_periods): a count is added the first time the
row's flag turns on. A mergeable sketch (HyperLogLog) would be smaller but approximate,
and the figures must equal those grouped from the player-days. Callers hold the
consumer's lock (one writer), so reading a flag and then setting it is safe.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository
from app.analytics.figures import Granularity, next_period, period_start, previous_period

GRAINS = {"d": Granularity.DAY, "w": Granularity.WEEK, "m": Granularity.MONTH}
GRAIN_OF = {g: code for code, g in GRAINS.items()}
# The cohort grain: the month's facts again, split by registration month too. Only the
# cohort table needs that dimension; kept apart, it does not multiply the series' rows.
COHORT = "c"
ANY_CURRENCY = ""  # the currency-free facts: distinct players and counts of things
NO_REGISTRATION = date.min  # no registration month (asyncpg stores it as -infinity)
UNKNOWN_DIMS = {"reg_month": NO_REGISTRATION, "country": "", "traffic_source": "",
                "affiliate_code": ""}  # fmt: skip

# player-day column -> fact column, kept per currency (money) or currency-free (counts)
MONEY = {"stakes_minor": "stakes", "wins_minor": "wins", "bonus_cost_minor": "bonus_cost",
         "deposits_count": "deposits_count", "deposits_minor": "deposits",
         "withdrawals_count": "withdrawals_count",
         "withdrawals_minor": "withdrawals"}  # fmt: skip
COUNTS = {"bets_count": "bets", "rollbacks_count": "rollbacks", "bonuses_awarded": "awarded",
          "bonuses_fulfilled": "fulfilled"}  # fmt: skip


def _key(grain: str, period: date, currency: str, dims: dict[str, Any]) -> dict[str, Any]:
    if grain != COHORT:
        dims = dims | {"reg_month": NO_REGISTRATION}
    return {"grain": grain, "period": period, "currency": currency, **dims}


async def _add(
    session: AsyncSession, grain: str, period: date, currency: str, dims: dict[str, Any],
    amounts: dict[str, int],
) -> None:  # fmt: skip
    """Into the grain's facts, and a month's also into the cohort grain's."""
    await repository.add_facts(session, _key(grain, period, currency, dims), amounts)
    if grain == "m":
        await repository.add_facts(session, _key(COHORT, period, currency, dims), amounts)


async def add_registration(session: AsyncSession, day: date, player: uuid.UUID) -> None:
    dims = await repository.player_dims(session, player) or UNKNOWN_DIMS
    for grain, g in GRAINS.items():
        await _add(session, grain, period_start(day, g), ANY_CURRENCY, dims,
                   {"registrations": 1})  # fmt: skip


async def add_player_day(
    session: AsyncSession, day: date, player: uuid.UUID, currency: str, amounts: dict[str, int]
) -> None:
    """What ``repository.add_player_day`` added, into the facts of each grain."""
    dims = await repository.player_dims(session, player) or UNKNOWN_DIMS
    active, paying = amounts.get("bets_count", 0) > 0, amounts.get("deposits_count", 0) > 0
    new_active_day = False  # set by the day grain, which comes first
    for grain, g in GRAINS.items():  # the day first: its new activity counts in active_days
        period = period_start(day, g)
        money = {MONEY[c]: v for c, v in amounts.items() if c in MONEY}
        money |= await _turn_on(session, grain, period, player, currency, active, paying)
        await _add(session, grain, period, currency, dims, money)
        counts = {COUNTS[c]: v for c, v in amounts.items() if c in COUNTS}
        counts |= await _turn_on(session, grain, period, player, ANY_CURRENCY, active, paying)
        if grain == "d":
            new_active_day = "active" in counts
        if new_active_day:
            counts["active_days"] = 1
        await _add(session, grain, period, ANY_CURRENCY, dims, counts)
        if "active" in counts:
            await _retained(session, grain, g, period, player, dims)


async def _turn_on(
    session: AsyncSession, grain: str, period: date, player: uuid.UUID, currency: str,
    active: bool, paying: bool,
) -> dict[str, int]:  # fmt: skip
    """Set the player's flags for the period; the counts that this turned on (1 each)."""
    if not (active or paying):
        return {}
    flags = await repository.player_period_flags(session, grain, [period], player, currency)
    was_active, was_paying = flags.get(period, (False, False))
    turned = {"active": 1} if active and not was_active else {}
    turned |= {"paying": 1} if paying and not was_paying else {}
    if turned:
        await repository.set_player_period(session, grain, period, player, currency,
                                           active, paying)  # fmt: skip
    return turned


async def _retained(
    session: AsyncSession, grain: str, g: Granularity, period: date, player: uuid.UUID,
    dims: dict[str, Any],
) -> None:  # fmt: skip
    """A player newly active in ``period``: retained there if active in the period before,
    and retained in the next one if already active there (events may come in any order)."""
    before, after = previous_period(period, g), next_period(period, g)
    flags = await repository.player_period_flags(session, grain, [before, after], player,
                                                 ANY_CURRENCY)  # fmt: skip
    for retained_in, other in ((period, before), (after, after)):
        if flags.get(other, (False, False))[0]:
            key = _key(grain, retained_in, ANY_CURRENCY, dims)
            await repository.add_facts(session, key, {"retained": 1})
