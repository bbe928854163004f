"""Every SQL statement of analytics: one upsert per event, the reset of a rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Columns a money event adds to (names are fixed here, never from input).
MONEY_COLUMNS = frozenset({
    "deposits_count", "deposits_minor", "withdrawals_count", "withdrawals_minor",
    "bets_count", "stakes_minor", "wins_minor",
})  # fmt: skip


async def add_money(
    session: AsyncSession, day: date, currency: str, amounts: dict[str, int]
) -> None:
    columns = sorted(amounts)
    assert set(columns) <= MONEY_COLUMNS, columns
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = analytics_daily_money.{c} + EXCLUDED.{c}" for c in columns)
    await session.execute(
        text(
            f"INSERT INTO analytics_daily_money (day, currency, {names}) "  # noqa: S608
            f"VALUES (:day, :currency, {values}) "
            f"ON CONFLICT (day, currency) DO UPDATE SET {updates}"
        ),
        {"day": day, "currency": currency, **amounts},
    )


async def mark_active(session: AsyncSession, day: date, player_id: uuid.UUID) -> None:
    await session.execute(
        text("INSERT INTO analytics_active_players (day, player_id) VALUES (:d, :p) "
             "ON CONFLICT DO NOTHING"),
        {"d": day, "p": player_id},
    )  # fmt: skip


async def add_registration(session: AsyncSession, day: date, country: str) -> None:
    await session.execute(
        text("INSERT INTO analytics_daily_registrations (day, country, registrations) "
             "VALUES (:d, :c, 1) ON CONFLICT (day, country) DO UPDATE "
             "SET registrations = analytics_daily_registrations.registrations + 1"),
        {"d": day, "c": country},
    )  # fmt: skip


async def add_count(session: AsyncSession, day: date, name: str) -> None:
    await session.execute(
        text("INSERT INTO analytics_daily_counts (day, name, count) VALUES (:d, :n, 1) "
             "ON CONFLICT (day, name) DO UPDATE SET count = analytics_daily_counts.count + 1"),
        {"d": day, "n": name},
    )  # fmt: skip


PLAYER_DAY_COLUMNS = frozenset({
    "bets_count", "stakes_minor", "wins_minor", "bonus_cost_minor", "bonuses_awarded",
    "bonuses_fulfilled", "deposits_count", "deposits_minor", "withdrawals_count",
    "withdrawals_minor", "rollbacks_count",
})  # fmt: skip


async def add_player_day(
    session: AsyncSession, day: date, player_id: uuid.UUID, currency: str,
    amounts: dict[str, int],
) -> None:  # fmt: skip
    columns = sorted(amounts)
    assert set(columns) <= PLAYER_DAY_COLUMNS, columns
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = analytics_player_days.{c} + EXCLUDED.{c}" for c in columns)
    await session.execute(
        text(
            f"INSERT INTO analytics_player_days (day, player_id, currency, {names}) "  # noqa: S608
            f"VALUES (:day, :player, :currency, {values}) "
            f"ON CONFLICT (day, player_id, currency) DO UPDATE SET {updates}"
        ),
        {"day": day, "player": player_id, "currency": currency, **amounts},
    )


async def add_player(
    session: AsyncSession, player_id: uuid.UUID, at: datetime, dims: dict[str, str | None]
) -> None:
    await session.execute(
        text("INSERT INTO analytics_players (player_id, registered_at, registered_on, country, "
             "currency, traffic_source, affiliate_code) VALUES (:p, :at, :on, :country, "
             ":currency, :source, :affiliate) ON CONFLICT (player_id) DO NOTHING"),
        {"p": player_id, "at": at, "on": at.astimezone(UTC).date(), **dims},
    )  # fmt: skip


# Milestones are set once: the first deposit, bet, KYC submission and decision.
MILESTONES = frozenset({"first_deposit_at", "first_bet_at", "kyc_submitted_at"})


async def set_milestone(
    session: AsyncSession, player_id: uuid.UUID, column: str, at: datetime
) -> None:
    assert column in MILESTONES, column
    await session.execute(
        text(f"UPDATE analytics_players SET {column} = :at "  # noqa: S608
             f"WHERE player_id = :p AND {column} IS NULL"),
        {"p": player_id, "at": at},
    )  # fmt: skip


async def set_kyc_decision(
    session: AsyncSession, player_id: uuid.UUID, outcome: str, at: datetime
) -> None:
    """The first decision counts (time to decision; success rate by decision day)."""
    await session.execute(
        text("UPDATE analytics_players SET kyc_decided_at = :at, kyc_outcome = :o, "
             "kyc_submitted_at = coalesce(kyc_submitted_at, :at) "
             "WHERE player_id = :p AND kyc_decided_at IS NULL"),
        {"p": player_id, "at": at, "o": outcome},
    )  # fmt: skip


async def set_segment_member(
    session: AsyncSession, segment_id: uuid.UUID, player_id: uuid.UUID, member: bool
) -> None:
    sql = (
        "INSERT INTO analytics_segment_members (segment_id, player_id) VALUES (:s, :p) "
        "ON CONFLICT DO NOTHING"
        if member
        else "DELETE FROM analytics_segment_members WHERE segment_id = :s AND player_id = :p"
    )
    await session.execute(text(sql), {"s": segment_id, "p": player_id})


async def add_registration_error(session: AsyncSession, day: date, field: str, reason: str) -> None:
    await session.execute(
        text("INSERT INTO analytics_registration_errors (day, field, reason, count) "
             "VALUES (:d, :f, :r, 1) ON CONFLICT (day, field, reason) DO UPDATE "
             "SET count = analytics_registration_errors.count + 1"),
        {"d": day, "f": field[:64], "r": reason[:200]},
    )  # fmt: skip


ROLLUP_TABLES = (
    "analytics_daily_money", "analytics_active_players", "analytics_daily_registrations",
    "analytics_daily_counts", "analytics_players", "analytics_player_days",
    "analytics_segment_members", "analytics_registration_errors",
)  # fmt: skip


async def clear(session: AsyncSession) -> None:
    """Empty every rollup (a rebuild, in the caller's transaction)."""
    for table in ROLLUP_TABLES:
        await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608


DAILY_SERIES = """
SELECT d::date AS day,
       coalesce(m.deposits_count, 0) AS deposits_count,
       coalesce(m.deposits_minor, 0) AS deposits_minor,
       coalesce(m.withdrawals_count, 0) AS withdrawals_count,
       coalesce(m.withdrawals_minor, 0) AS withdrawals_minor,
       coalesce(m.bets_count, 0) AS bets_count,
       coalesce(m.stakes_minor, 0) AS stakes_minor,
       coalesce(m.wins_minor, 0) AS wins_minor,
       (SELECT count(*) FROM analytics_active_players a WHERE a.day = d::date) AS active_players,
       (SELECT coalesce(sum(r.registrations), 0) FROM analytics_daily_registrations r
         WHERE r.day = d::date) AS registrations,
       (SELECT coalesce(sum(c.count), 0) FROM analytics_daily_counts c
         WHERE c.day = d::date AND c.name = 'bet.rolled_back') AS rollbacks
FROM generate_series(CAST(:f AS date), CAST(:t AS date), interval '1 day') AS d
LEFT JOIN analytics_daily_money m ON m.day = d::date AND m.currency = :c
ORDER BY d
"""


async def daily_series(
    session: AsyncSession, from_day: date, to_day: date, currency: str
) -> list[dict[str, object]]:
    """One row per day of the range (zeros where nothing happened), from the rollups only:
    primary-key lookups, never the ledger."""
    result = await session.execute(text(DAILY_SERIES), {"f": from_day, "t": to_day, "c": currency})
    return [dict(row) for row in result.mappings()]


# --- reads: filters and per-period figures, from the rollups only ----------------------
# The filter fragments are fixed text; only their values are bound.


def filter_sql(
    filters: Mapping[str, object], player: str = "p.player_id"
) -> tuple[str, dict[str, object]]:
    """``AND ...`` conditions on the player dimension ``p`` (joined by the caller)."""
    parts: list[str] = []
    params: dict[str, object] = {}
    for key, column in (("country", "p.country"), ("traffic_source", "p.traffic_source"),
                        ("affiliate_code", "p.affiliate_code")):  # fmt: skip
        if filters.get(key) is not None:
            parts.append(f" AND {column} = :f_{key}")
            params[f"f_{key}"] = filters[key]
    if filters.get("segment_id") is not None:
        parts.append(
            " AND EXISTS (SELECT 1 FROM analytics_segment_members s "  # noqa: S608
            f"WHERE s.segment_id = :f_segment AND s.player_id = {player})"
        )
        params["f_segment"] = filters["segment_id"]
    return "".join(parts), params


_PERIOD = "date_trunc(CAST(:g AS text), {col}::timestamp)::date"
_DAYS = ("FROM analytics_player_days d LEFT JOIN analytics_players p "
         "ON p.player_id = d.player_id WHERE d.day BETWEEN :lo AND :hi")  # fmt: skip

ACTIVITY = f"""
WITH pd AS (
  SELECT d.day, d.player_id, sum(d.bets_count) AS bets, sum(d.deposits_count) AS deposits,
         sum(d.rollbacks_count) AS rollbacks, sum(d.bonuses_awarded) AS awarded,
         sum(d.bonuses_fulfilled) AS fulfilled
  {_DAYS} {{cond}} GROUP BY d.day, d.player_id)
SELECT {_PERIOD.format(col="pd.day")} AS period,
       count(DISTINCT pd.player_id) FILTER (WHERE pd.bets > 0) AS active,
       count(*) FILTER (WHERE pd.bets > 0) AS active_days,
       count(DISTINCT pd.player_id) FILTER (WHERE pd.deposits > 0) AS paying,
       sum(pd.bets) AS bets, sum(pd.rollbacks) AS rollbacks,
       sum(pd.awarded) AS awarded, sum(pd.fulfilled) AS fulfilled
FROM pd GROUP BY 1
"""  # noqa: S608 (fixed text; only values are bound)

MONEY = f"""
SELECT {_PERIOD.format(col="d.day")} AS period, d.currency,
       sum(d.stakes_minor) AS stakes, sum(d.wins_minor) AS wins,
       sum(d.bonus_cost_minor) AS bonus_cost, sum(d.deposits_count) AS deposits_count,
       sum(d.deposits_minor) AS deposits, sum(d.withdrawals_count) AS withdrawals_count,
       sum(d.withdrawals_minor) AS withdrawals,
       count(DISTINCT d.player_id) FILTER (WHERE d.bets_count > 0) AS active,
       count(DISTINCT d.player_id) FILTER (WHERE d.deposits_count > 0) AS paying
{_DAYS} {{cond}} GROUP BY 1, 2
"""

CHURN = f"""
WITH act AS (
  SELECT DISTINCT {_PERIOD.format(col="d.day")} AS period, d.player_id
  FROM analytics_player_days d LEFT JOIN analytics_players p ON p.player_id = d.player_id
  WHERE d.day BETWEEN :prev_lo AND :hi AND d.bets_count > 0 {{cond}}),
nxt AS (SELECT (period + CAST(CAST(:step AS text) AS interval))::date AS period, player_id
        FROM act WHERE period < :last_start)
SELECT n.period, count(*) AS previous_active,
       count(*) FILTER (WHERE a.player_id IS NULL) AS churned
FROM nxt n LEFT JOIN act a ON a.player_id = n.player_id AND a.period = n.period
GROUP BY 1
"""  # noqa: S608 (fixed text; only values are bound)

REGISTRATIONS = f"""
SELECT {_PERIOD.format(col="p.registered_on")} AS period, count(*) AS registrations,
       count(p.first_deposit_at) AS first_deposits,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM p.first_deposit_at - p.registered_at)) AS median_deposit_s
FROM analytics_players p WHERE p.registered_on BETWEEN :lo AND :hi {{cond}} GROUP BY 1
"""  # noqa: S608 (fixed text; only values are bound)

KYC = f"""
SELECT {_PERIOD.format(col="(p.kyc_decided_at AT TIME ZONE 'UTC')")} AS period,
       count(*) AS decisions, count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED') AS verified,
       percentile_cont(0.5) WITHIN GROUP (
         ORDER BY extract(epoch FROM p.kyc_decided_at - p.kyc_submitted_at)) AS median_kyc_s
FROM analytics_players p
WHERE p.kyc_decided_at >= CAST(:lo AS date) AT TIME ZONE 'UTC'
  AND p.kyc_decided_at < (CAST(:hi AS date) + 1) AT TIME ZONE 'UTC' {{cond}}
GROUP BY 1
"""  # noqa: S608 (fixed text; only values are bound)

REGISTRATION_ERRORS = f"""
SELECT {_PERIOD.format(col="e.day")} AS period, e.field, e.reason, sum(e.count) AS count
FROM analytics_registration_errors e WHERE e.day BETWEEN :lo AND :hi
GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3
"""  # noqa: S608 (fixed text; only values are bound)

REGISTRATION_FAILURES = f"""
SELECT {_PERIOD.format(col="c.day")} AS period, sum(c.count) AS failures
FROM analytics_daily_counts c WHERE c.day BETWEEN :lo AND :hi AND c.name = :name GROUP BY 1
"""  # noqa: S608 (fixed text; only values are bound)

COHORTS = """
SELECT date_trunc('month', p.registered_on::timestamp)::date AS cohort,
       ((extract(year FROM d.day) - extract(year FROM p.registered_on)) * 12
        + extract(month FROM d.day) - extract(month FROM p.registered_on))::int AS months_since,
       d.currency, sum(d.stakes_minor - d.wins_minor - d.bonus_cost_minor) AS ngr
FROM analytics_players p JOIN analytics_player_days d ON d.player_id = p.player_id
WHERE p.registered_on BETWEEN :lo AND :hi {cond}
GROUP BY 1, 2, 3
"""

COHORT_ACTIVE = """
SELECT date_trunc('month', p.registered_on::timestamp)::date AS cohort,
       ((extract(year FROM d.day) - extract(year FROM p.registered_on)) * 12
        + extract(month FROM d.day) - extract(month FROM p.registered_on))::int AS months_since,
       count(DISTINCT d.player_id) AS active
FROM analytics_players p JOIN analytics_player_days d ON d.player_id = p.player_id
WHERE p.registered_on BETWEEN :lo AND :hi AND d.bets_count > 0 {cond}
GROUP BY 1, 2
"""

COHORT_SIZES = """
SELECT date_trunc('month', p.registered_on::timestamp)::date AS cohort, count(*) AS players
FROM analytics_players p WHERE p.registered_on BETWEEN :lo AND :hi {cond} GROUP BY 1
"""

FUNNEL = """
SELECT count(*) AS registered,
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED') AS kyc_verified,
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED'
                        AND p.first_deposit_at IS NOT NULL) AS first_deposit,
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED' AND p.first_deposit_at IS NOT NULL
                        AND p.first_bet_at IS NOT NULL) AS first_bet
FROM analytics_players p WHERE p.registered_on BETWEEN :lo AND :hi {cond}
"""


async def fetch(
    session: AsyncSession, sql: str, params: Mapping[str, object],
    filters: Mapping[str, object], *, player: str = "p.player_id",
) -> list[dict[str, Any]]:  # fmt: skip
    """Run one of the read statements above with the filter conditions put in."""
    cond, extra = filter_sql(filters, player)
    result = await session.execute(text(sql.format(cond=cond)), {**params, **extra})
    return [dict(row) for row in result.mappings()]
