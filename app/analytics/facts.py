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
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository
from app.analytics.figures import (
    Granularity,
    next_period,
    period_start,
    previous_period,
)

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


Key = tuple[str, date, str]  # grain, period, currency
Flags = dict[Key, tuple[bool, bool]]  # the player's (active, paying) per period row


def _key(grain: str, period: date, currency: str, dims: dict[str, Any]) -> dict[str, Any]:
    if grain != COHORT:
        dims = dims | {"reg_month": NO_REGISTRATION}
    return {"grain": grain, "period": period, "currency": currency, **dims}


class _Batch:
    """The facts one event adds, summed per row and written in one statement; a month's
    also go to the cohort grain."""

    def __init__(self, player: uuid.UUID, dims: dict[str, Any]) -> None:
        self.player, self.dims = player, dims
        self.rows: dict[Key, dict[str, int]] = {}

    def add(self, grain: str, period: date, currency: str, amounts: dict[str, int]) -> None:
        grains = (grain, COHORT) if grain == "m" else (grain,)
        for g in grains:
            row = self.rows.setdefault((g, period, currency), {})
            for name, value in amounts.items():
                row[name] = row.get(name, 0) + value

    async def write(self, session: AsyncSession) -> None:
        await repository.add_facts_rows(session, self.player, [
            (_key(g, period, currency, self.dims), amounts)
            for (g, period, currency), amounts in self.rows.items()
        ])  # fmt: skip


async def add_registration(session: AsyncSession, day: date, player: uuid.UUID) -> None:
    """A new player (``day``: their registration day): in the facts and the funnel."""
    dims = await repository.player_dims(session, player) or UNKNOWN_DIMS
    batch = _Batch(player, dims)
    for grain, g in GRAINS.items():
        batch.add(grain, period_start(day, g), ANY_CURRENCY, {"registrations": 1})
    await batch.write(session)
    await repository.add_funnel(session, player, {**dims, "registered_on": day},
                                {"registered": 1})  # fmt: skip


# --- the funnel (analytics_funnel_facts) ------------------------------------------------
# Each step counts the players who reached it and every step before (metrics.funnel).


def funnel_steps(verified: bool, deposited: bool, bet: bool) -> dict[str, int]:
    """A registered player's contribution to each funnel column."""
    return {"registered": 1, "kyc_verified": int(verified),
            "first_deposit": int(verified and deposited),
            "first_bet": int(verified and deposited and bet)}  # fmt: skip


def _reached(player: dict[str, Any], without: str | None = None) -> dict[str, int]:
    flags = {"verified": player["kyc_outcome"] == "VERIFIED",
             "deposited": bool(player["deposited"]), "bet": bool(player["bet"])}  # fmt: skip
    if without is not None:
        flags[without] = False
    return funnel_steps(**flags)


async def add_funnel_milestone(session: AsyncSession, player: dict[str, Any], flag: str) -> None:
    """A milestone just set on the player's row (``flag``: 'verified', 'deposited' or
    'bet', false before): the funnel columns it completes, in their registration day's row."""
    after, before = _reached(player), _reached(player, without=flag)
    delta = {k: v - before[k] for k, v in after.items() if v != before[k]}
    if delta:
        await repository.add_funnel(session, player["player_id"], player, delta)


# The dimensions a duration histogram is kept by, one at a time ('' = every player), and
# 'combo': all of them at once (repository.combo_value).
DURATION_DIMS = ("", "country", "traffic_source", "affiliate_code")


async def add_first_deposit(session: AsyncSession, player: dict[str, Any], at: datetime) -> None:
    """A registered player's first deposit: counted in their registration periods, with its
    time since the registration."""
    day = player["registered_on"]
    await _milestone(session, player, day, {"first_deposits": 1}, "deposit")


async def add_kyc_decision(session: AsyncSession, player: dict[str, Any], at: datetime) -> None:
    """A player's first KYC decision: counted in the decision's periods, with its time since
    the submission."""
    counts = {"kyc_decisions": 1, "kyc_verified": int(player["kyc_outcome"] == "VERIFIED")}
    day = at.astimezone(UTC).date()
    await _milestone(session, player, day, counts, "kyc")


async def _milestone(
    session: AsyncSession, player: dict[str, Any], day: date, counts: dict[str, int],
    metric: str,
) -> None:  # fmt: skip
    dims = {k: player[k] for k in UNKNOWN_DIMS}
    batch = _Batch(player["player_id"], dims)
    bucket = player["bucket"]  # repository.bucket_sql: figures.duration_bucket in SQL
    buckets = []
    for grain, g in GRAINS.items():
        period = period_start(day, g)
        batch.add(grain, period, ANY_CURRENCY, counts)
        values = {dim: dims[dim] if dim else "" for dim in DURATION_DIMS}
        values["combo"] = repository.combo_value(dims)
        buckets += [{"grain": grain, "dim": dim, "value": value, "period": period,
                     "metric": metric, "bucket": bucket}
                    for dim, value in values.items()]  # fmt: skip
    await batch.write(session)
    await repository.add_duration_buckets(session, player["player_id"], buckets)


async def add_player_day(
    session: AsyncSession, day: date, player: uuid.UUID, currency: str, amounts: dict[str, int],
    new_row: bool,
) -> None:  # fmt: skip
    """What ``repository.add_player_day`` added, into the facts of each grain: three
    statements (dimensions, flags, facts) plus one per flag turned on."""
    batch = _Batch(player, await repository.player_dims(session, player) or UNKNOWN_DIMS)
    active, paying = amounts.get("bets_count", 0) > 0, amounts.get("deposits_count", 0) > 0
    periods = {grain: period_start(day, g) for grain, g in GRAINS.items()}
    flags = await _flags(session, player, periods) if active or paying else {}
    new_active_day = False  # set by the day grain, which comes first
    for grain, period in periods.items():
        money = {MONEY[c]: v for c, v in amounts.items() if c in MONEY}
        money |= {"player_days": 1} if new_row else {}
        money |= await _turn_on(session, flags, (grain, period, currency), player, active, paying)
        batch.add(grain, period, currency, money)
        counts = {COUNTS[c]: v for c, v in amounts.items() if c in COUNTS}
        any_key = (grain, period, ANY_CURRENCY)
        counts |= await _turn_on(session, flags, any_key, player, active, paying)
        if grain == "d":
            new_active_day = "active" in counts
        if new_active_day:
            counts["active_days"] = 1
        batch.add(grain, period, ANY_CURRENCY, counts)
        if "active" in counts:
            _retained(batch, flags, grain, period)
    await batch.write(session)


def _neighbours(grain: str, period: date) -> tuple[date, date]:
    g = GRAINS[grain]
    return previous_period(period, g), next_period(period, g)


async def _flags(session: AsyncSession, player: uuid.UUID, periods: dict[str, date]) -> Flags:
    """The player's rows for these periods and their neighbours (for retention), at once."""
    wanted = {p for grain, period in periods.items() for p in (period, *_neighbours(grain, period))}
    rows = await repository.player_period_flags(session, player, list(GRAINS), sorted(wanted))
    return {(r["grain"], r["period"], r["currency"]): (r["active"], r["paying"]) for r in rows}


async def _turn_on(
    session: AsyncSession, flags: Flags, key: Key, player: uuid.UUID, active: bool,
    paying: bool,
) -> dict[str, int]:  # fmt: skip
    """Set the player's flags for the period; the counts that this turned on (1 each)."""
    was_active, was_paying = flags.get(key, (False, False))
    turned = {"active": 1} if active and not was_active else {}
    turned |= {"paying": 1} if paying and not was_paying else {}
    if turned:
        grain, period, currency = key
        await repository.set_player_period(session, grain, period, player, currency,
                                           active, paying)  # fmt: skip
        flags[key] = (was_active or active, was_paying or paying)
    return turned


def _retained(batch: _Batch, flags: Flags, grain: str, period: date) -> None:
    """A player newly active in ``period``: retained there if active in the period before,
    and retained in the next one if already active there (events may come in any order)."""
    before, after = _neighbours(grain, period)
    for retained_in, other in ((period, before), (after, after)):
        if flags.get((grain, other, ANY_CURRENCY), (False, False))[0]:
            batch.rows.setdefault((grain, retained_in, ANY_CURRENCY), {})
            row = batch.rows[(grain, retained_in, ANY_CURRENCY)]
            row["retained"] = row.get("retained", 0) + 1
