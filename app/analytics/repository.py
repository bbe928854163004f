"""Every SQL statement of analytics: one upsert per event, the reset of a rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.figures import STEPS_PER_DOUBLING, ZERO_BUCKET

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
) -> bool:  # fmt: skip
    """Whether the player-day row is new."""
    columns = sorted(amounts)
    assert set(columns) <= PLAYER_DAY_COLUMNS, columns
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    updates = ", ".join(f"{c} = analytics_player_days.{c} + EXCLUDED.{c}" for c in columns)
    result = await session.execute(
        text(
            f"INSERT INTO analytics_player_days (day, player_id, currency, {names}) "  # noqa: S608
            f"VALUES (:day, :player, :currency, {values}) "
            f"ON CONFLICT (day, player_id, currency) DO UPDATE SET {updates} "
            "RETURNING xmax = 0 AS inserted"
        ),
        {"day": day, "player": player_id, "currency": currency, **amounts},
    )
    return bool(result.scalar_one())


async def add_player(
    session: AsyncSession, player_id: uuid.UUID, at: datetime, dims: dict[str, str | None]
) -> bool:
    """Whether the player is new here (a repeated registration adds nothing)."""
    result = await session.execute(
        text("INSERT INTO analytics_players (player_id, registered_at, registered_on, country, "
             "currency, traffic_source, affiliate_code) VALUES (:p, :at, :on, :country, "
             ":currency, :source, :affiliate) ON CONFLICT (player_id) DO NOTHING "
             "RETURNING player_id"),
        {"p": player_id, "at": at, "on": at.astimezone(UTC).date(), **dims},
    )  # fmt: skip
    return result.first() is not None


# Milestones are set once: the first deposit, bet, KYC submission and decision.
MILESTONES = frozenset({"first_bet_at", "kyc_submitted_at"})  # and set_first_deposit


# app/analytics/figures.py duration_bucket in SQL: the one definition the consumer, the
# segment moves and the bench's derivation share (so a subtraction hits the added bucket).
def bucket_sql(seconds: str) -> str:
    log = f"floor(log(2, ({seconds})::numeric) * {STEPS_PER_DOUBLING})::smallint"
    return f"CASE WHEN {seconds} < 0.001 THEN {ZERO_BUCKET} ELSE {log} END"


DEPOSIT_SECONDS = "extract(epoch FROM first_deposit_at - registered_at)"
KYC_SECONDS = "extract(epoch FROM kyc_decided_at - kyc_submitted_at)"
# What the facts need of a player whose milestone was just set (app/analytics/facts.py).
_MILESTONE_ROW = (
    "player_id, registered_at, registered_on, kyc_submitted_at, kyc_outcome, "
    "date_trunc('month', registered_on::timestamp)::date AS reg_month, country, "
    "coalesce(traffic_source, '') AS traffic_source, "
    "coalesce(affiliate_code, '') AS affiliate_code, "
    "first_deposit_at IS NOT NULL AS deposited, first_bet_at IS NOT NULL AS bet"
)


async def set_milestone(
    session: AsyncSession, player_id: uuid.UUID, column: str, at: datetime
) -> dict[str, Any] | None:
    """The player's row when the milestone was set now (None otherwise)."""
    assert column in MILESTONES, column
    result = await session.execute(
        text(f"UPDATE analytics_players SET {column} = :at "  # noqa: S608
             f"WHERE player_id = :p AND {column} IS NULL RETURNING {_MILESTONE_ROW}"),
        {"p": player_id, "at": at},
    )  # fmt: skip
    found = result.mappings().first()
    return dict(found) if found else None


async def set_first_deposit(
    session: AsyncSession, player_id: uuid.UUID, at: datetime
) -> dict[str, Any] | None:
    """The player's row when this is their first deposit (None otherwise)."""
    result = await session.execute(
        text(f"UPDATE analytics_players SET first_deposit_at = :at "  # noqa: S608
             f"WHERE player_id = :p AND first_deposit_at IS NULL RETURNING {_MILESTONE_ROW}, "
             f"{bucket_sql(DEPOSIT_SECONDS)} AS bucket"),
        {"p": player_id, "at": at},
    )  # fmt: skip
    found = result.mappings().first()
    return dict(found) if found else None


async def set_kyc_decision(
    session: AsyncSession, player_id: uuid.UUID, outcome: str, at: datetime
) -> dict[str, Any] | None:
    """The first decision counts (time to decision; success rate by decision day): the
    player's row when this was it."""
    result = await session.execute(
        text(f"UPDATE analytics_players SET kyc_decided_at = :at, kyc_outcome = :o, "  # noqa: S608
             f"kyc_submitted_at = coalesce(kyc_submitted_at, :at) "
             f"WHERE player_id = :p AND kyc_decided_at IS NULL RETURNING {_MILESTONE_ROW}, "
             f"{bucket_sql(KYC_SECONDS)} AS bucket"),
        {"p": player_id, "at": at, "o": outcome},
    )  # fmt: skip
    found = result.mappings().first()
    return dict(found) if found else None


async def set_segment_member(
    session: AsyncSession, segment_id: uuid.UUID, player_id: uuid.UUID, member: bool
) -> bool:
    """Whether the membership changed (a repeated event changes nothing)."""
    sql = (
        "INSERT INTO analytics_segment_members (segment_id, player_id) VALUES (:s, :p) "
        "ON CONFLICT DO NOTHING RETURNING player_id"
        if member
        else "DELETE FROM analytics_segment_members WHERE segment_id = :s AND player_id = :p "
        "RETURNING player_id"
    )
    result = await session.execute(text(sql), {"s": segment_id, "p": player_id})
    return result.first() is not None


async def add_registration_error(session: AsyncSession, day: date, field: str, reason: str) -> None:
    await session.execute(
        text("INSERT INTO analytics_registration_errors (day, field, reason, count) "
             "VALUES (:d, :f, :r, 1) ON CONFLICT (day, field, reason) DO UPDATE "
             "SET count = analytics_registration_errors.count + 1"),
        {"d": day, "f": field[:64], "r": reason[:200]},
    )  # fmt: skip


# --- pre-aggregated facts (app/analytics/facts.py decides what to add) -------------------

FACT_COLUMNS = frozenset({
    "active", "paying", "retained", "active_days", "registrations", "bets", "rollbacks",
    "awarded", "fulfilled", "stakes", "wins", "bonus_cost", "deposits_count", "deposits",
    "withdrawals_count", "withdrawals", "first_deposits", "kyc_decisions", "kyc_verified",
    "player_days",
})  # fmt: skip
FACT_KEY = ("grain", "period", "currency", "reg_month", "country", "traffic_source",
            "affiliate_code")  # fmt: skip
PLAYER_DIMS = ("country", "traffic_source", "affiliate_code")
SEGMENT_FACT_KEY = ("segment_id", "grain", "period", "currency", *PLAYER_DIMS)
# The histograms per full combination of the player dimensions: one value joins them.
COMBO_SEP = "\x1f"


def combo_value(dims: Mapping[str, Any]) -> str:
    return COMBO_SEP.join(str(dims[k]) for k in PLAYER_DIMS)


def combo_sql(p: str) -> str:
    """``combo_value`` of the analytics_players row ``p`` in SQL."""
    return (f"concat_ws(chr(31), {p}.country, coalesce({p}.traffic_source, ''), "
            f"coalesce({p}.affiliate_code, ''))")  # fmt: skip


async def player_dims(session: AsyncSession, player_id: uuid.UUID) -> dict[str, Any] | None:
    row = await session.execute(
        text("SELECT date_trunc('month', registered_on::timestamp)::date AS reg_month, "
             "country, coalesce(traffic_source, '') AS traffic_source, "
             "coalesce(affiliate_code, '') AS affiliate_code "
             "FROM analytics_players WHERE player_id = :p"),
        {"p": player_id},
    )  # fmt: skip
    found = row.mappings().first()
    return dict(found) if found else None


_KEY_TYPES = {"grain": "varchar", "period": "date", "registered_on": "date",
              "currency": "varchar", "reg_month": "date",
              "country": "varchar", "traffic_source": "varchar", "affiliate_code": "varchar",
              "dim": "varchar", "value": "varchar", "metric": "varchar",
              "bucket": "smallint"}  # fmt: skip


def _values(rows: list[dict[str, Any]], names: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """A typed VALUES list of ``rows`` (a CTE's source; counters are bigint)."""
    params: dict[str, Any] = {}
    tuples = []
    for i, row in enumerate(rows):
        params |= {f"{name}_{i}": row[name] for name in names}
        tuples.append(
            "("
            + ", ".join(f"CAST(:{name}_{i} AS {_KEY_TYPES.get(name, 'bigint')})" for name in names)
            + ")"
        )
    return f"VALUES {', '.join(tuples)}", params


def _adds(table: str, columns: tuple[str, ...]) -> str:
    return ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in columns)


async def add_facts_rows(
    session: AsyncSession, player: uuid.UUID,
    rows: list[tuple[Mapping[str, Any], dict[str, int]]],
) -> None:  # fmt: skip
    """Add to facts rows (distinct keys), and to the facts of the player's segments, in one
    statement; a row with nothing to add is still made (a period with a player-day in a
    currency lists that currency, as the player-day read does)."""
    if not rows:
        return
    columns = tuple(sorted(FACT_COLUMNS))
    for _, amounts in rows:
        assert set(amounts) <= FACT_COLUMNS, amounts
    values, params = _values([
        {**{k: key[k] for k in FACT_KEY}, **{c: amounts.get(c, 0) for c in columns}}
        for key, amounts in rows
    ], (*FACT_KEY, *columns))  # fmt: skip
    names = ", ".join(columns)
    await session.execute(
        text(
            f"WITH v ({', '.join((*FACT_KEY, *columns))}) AS ({values}), "  # noqa: S608
            f"f AS (INSERT INTO analytics_period_facts ({', '.join((*FACT_KEY, *columns))}) "
            "SELECT * FROM v "
            f"ON CONFLICT ({', '.join(FACT_KEY)}) DO UPDATE "
            f"SET {_adds('analytics_period_facts', columns)}), "
            f"c AS ({_COHORT_ADD}) "
            f"INSERT INTO analytics_segment_facts ({', '.join(SEGMENT_FACT_KEY)}, {names}) "
            f"SELECT m.segment_id, {', '.join('v.' + k for k in SEGMENT_FACT_KEY[1:])}, "
            f"{names} FROM v "
            f"JOIN analytics_segment_members m ON m.player_id = :player WHERE v.grain <> 'c' "
            f"ON CONFLICT ({', '.join(SEGMENT_FACT_KEY)}) DO UPDATE "
            f"SET {_adds('analytics_segment_facts', columns)}"
        ),
        {**params, "player": player},
    )


# The cohort grain's rows of the event, into the cohort facts of the member's segments
# (a player not registered yet is in no cohort: their reg_month is -infinity).
SEGMENT_COHORT_KEY = ("segment_id", "reg_month", "period", "currency", *PLAYER_DIMS)
SEGMENT_COHORT_COLUMNS = ("registrations", "active", "stakes", "wins", "bonus_cost",
                          "player_days")  # fmt: skip
_COHORT_ADD = (
    f"INSERT INTO analytics_segment_cohorts ({', '.join(SEGMENT_COHORT_KEY)}, "  # noqa: S608
    f"{', '.join(SEGMENT_COHORT_COLUMNS)}) "
    f"SELECT m.segment_id, {', '.join('v.' + k for k in SEGMENT_COHORT_KEY[1:])}, "
    f"{', '.join('v.' + c for c in SEGMENT_COHORT_COLUMNS)} FROM v "
    "JOIN analytics_segment_members m ON m.player_id = :player "
    "WHERE v.grain = 'c' AND v.reg_month > DATE '0001-01-01' "
    f"ON CONFLICT ({', '.join(SEGMENT_COHORT_KEY)}) DO UPDATE "
    f"SET {_adds('analytics_segment_cohorts', SEGMENT_COHORT_COLUMNS)}"
)

FUNNEL_KEY = ("registered_on", *PLAYER_DIMS)
FUNNEL_COLUMNS = ("registered", "kyc_verified", "first_deposit", "first_bet")


SEGMENT_FUNNEL_KEY = ("segment_id", *FUNNEL_KEY)


async def add_funnel(
    session: AsyncSession, player: uuid.UUID, key: Mapping[str, Any], amounts: dict[str, int]
) -> None:
    """Add to the funnel row of a registration day and dimensions, and to the funnel of the
    player's segments, in one statement."""
    assert set(amounts) <= set(FUNNEL_COLUMNS), amounts
    columns = tuple(sorted(amounts))
    names = ", ".join((*FUNNEL_KEY, *columns))
    values = ", ".join(f"CAST(:{n} AS {_KEY_TYPES.get(n, 'bigint')})"
                       for n in (*FUNNEL_KEY, *columns))  # fmt: skip
    await session.execute(
        text(
            f"WITH v ({names}) AS (VALUES ({values})), "  # noqa: S608
            f"f AS (INSERT INTO analytics_funnel_facts ({names}) SELECT * FROM v "
            f"ON CONFLICT ({', '.join(FUNNEL_KEY)}) DO UPDATE "
            f"SET {_adds('analytics_funnel_facts', columns)}) "
            f"INSERT INTO analytics_segment_funnel (segment_id, {names}) "
            f"SELECT m.segment_id, v.* FROM v "
            "JOIN analytics_segment_members m ON m.player_id = :player "
            f"ON CONFLICT ({', '.join(SEGMENT_FUNNEL_KEY)}) DO UPDATE "
            f"SET {_adds('analytics_segment_funnel', columns)}"
        ),
        {**{k: key[k] for k in FUNNEL_KEY}, **amounts, "player": player},
    )


DURATION_KEY = ("grain", "dim", "value", "period", "metric", "bucket")


async def add_duration_buckets(
    session: AsyncSession, player: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """Count one duration per row (grain, dim, value, period, metric, bucket; distinct),
    and in the histograms of the player's segments (the dim '' and 'combo' rows again,
    per segment)."""
    values, params = _values(rows, DURATION_KEY)
    await session.execute(
        text(
            f"WITH v ({', '.join(DURATION_KEY)}) AS ({values}) "  # noqa: S608
            f"INSERT INTO analytics_duration_buckets ({', '.join(DURATION_KEY)}, count) "
            "SELECT *, 1 FROM v UNION ALL "
            "SELECT v.grain, s.dim, s.value, v.period, v.metric, v.bucket, 1 "
            "FROM v JOIN analytics_segment_members m ON m.player_id = :player, "
            "LATERAL (VALUES ('', 'segment_id', m.segment_id::text), ('combo', 'segment_combo', "
            "m.segment_id::text || chr(31) || v.value)) s(of, dim, value) WHERE v.dim = s.of "
            f"ON CONFLICT ({', '.join(DURATION_KEY)}) "
            "DO UPDATE SET count = analytics_duration_buckets.count + 1"
        ),
        {**params, "player": player},
    )


# --- segment facts: a member's history moves with them -----------------------------------
# Everything the facts hold of a set of players ({members}: player_id), per grain, period
# and currency, unpivoted as (name, value) and summed; the same figures the consumer adds
# event by event, derived from the player-days as bench/analytics.py's facts_sql does
# (active = a settled bet, paying = a deposit, retained = active in the period before too),
# registrations and first deposits by registration period, KYC by decision period.
_HISTORY = """
WITH x AS (SELECT m.player_id, coalesce(a.country, '') AS country,
                  coalesce(a.traffic_source, '') AS traffic_source,
                  coalesce(a.affiliate_code, '') AS affiliate_code
           FROM ({members}) m LEFT JOIN analytics_players a ON a.player_id = m.player_id),
g (grain, unit, step) AS (VALUES ('d', 'day', interval '1 day'),
                                 ('w', 'week', interval '1 week'),
                                 ('m', 'month', interval '1 month')),
pc AS (  -- per player, grain, period and currency ('' = any): active, paying, active days
  SELECT g.grain, g.step, date_trunc(g.unit, d.day::timestamp)::date AS period, d.player_id,
         c.currency, x.country, x.traffic_source, x.affiliate_code,
         bool_or(d.bets_count > 0) AS active, bool_or(d.deposits_count > 0) AS paying,
         count(DISTINCT d.day) FILTER (WHERE d.bets_count > 0) AS days
  FROM x JOIN analytics_player_days d ON d.player_id = x.player_id CROSS JOIN g,
  LATERAL (VALUES (d.currency), ('')) c(currency)
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8),
h (grain, period, currency, country, traffic_source, affiliate_code, k, v) AS (
  SELECT g.grain, date_trunc(g.unit, d.day::timestamp)::date, d.currency, {dims}, u.k, u.v
  FROM x JOIN analytics_player_days d ON d.player_id = x.player_id CROSS JOIN g,
  LATERAL (VALUES ('player_days', 1::bigint), ('stakes', d.stakes_minor),
                  ('wins', d.wins_minor), ('bonus_cost', d.bonus_cost_minor),
                  ('deposits_count', d.deposits_count), ('deposits', d.deposits_minor),
                  ('withdrawals_count', d.withdrawals_count),
                  ('withdrawals', d.withdrawals_minor)) u(k, v)
  UNION ALL
  SELECT g.grain, date_trunc(g.unit, d.day::timestamp)::date, '', {dims}, u.k, u.v
  FROM x JOIN analytics_player_days d ON d.player_id = x.player_id CROSS JOIN g,
  LATERAL (VALUES ('bets', d.bets_count), ('rollbacks', d.rollbacks_count),
                  ('awarded', d.bonuses_awarded), ('fulfilled', d.bonuses_fulfilled)) u(k, v)
  UNION ALL
  SELECT pc.grain, pc.period, pc.currency, pc.country, pc.traffic_source, pc.affiliate_code,
         u.k, u.v
  FROM pc LEFT JOIN pc b ON b.grain = pc.grain AND b.player_id = pc.player_id
    AND b.currency = pc.currency AND b.period = (pc.period - pc.step)::date,
  LATERAL (VALUES ('active', pc.active::int::bigint), ('paying', pc.paying::int::bigint),
                  ('retained', (pc.currency = '' AND pc.active
                                AND coalesce(b.active, false))::int::bigint),
                  ('active_days', CASE WHEN pc.currency = '' THEN pc.days ELSE 0 END)) u(k, v)
  UNION ALL
  SELECT g.grain, date_trunc(g.unit, p.registered_on::timestamp)::date, '', {dims}, u.k, u.v
  FROM x JOIN analytics_players p ON p.player_id = x.player_id CROSS JOIN g,
  LATERAL (VALUES ('registrations', 1::bigint),
                  ('first_deposits', (p.first_deposit_at IS NOT NULL)::int::bigint)) u(k, v)
  UNION ALL
  SELECT g.grain, date_trunc(g.unit, p.kyc_decided_at AT TIME ZONE 'UTC')::date, '', {dims},
         u.k, u.v
  FROM x JOIN analytics_players p ON p.player_id = x.player_id CROSS JOIN g,
  LATERAL (VALUES ('kyc_decisions', 1::bigint),
                  ('kyc_verified', (p.kyc_outcome = 'VERIFIED')::int::bigint)) u(k, v)
  WHERE p.kyc_decided_at IS NOT NULL)
"""
# The cohort table of a set of (segment, member) pairs ({members}): per member, activity
# month and currency what the consumer adds to the cohort grain (money, player-days,
# active in that currency), the distinct active members per month (currency ''), and
# each member once in their registration month's size. Migration 0031 backfills the same.
_COHORT_HISTORY = """
WITH x AS (SELECT m.segment_id, p.player_id,
                  date_trunc('month', p.registered_on::timestamp)::date AS reg_month,
                  p.country, coalesce(p.traffic_source, '') AS traffic_source,
                  coalesce(p.affiliate_code, '') AS affiliate_code
           FROM ({members}) m JOIN analytics_players p ON p.player_id = m.player_id),
pm AS (
  SELECT x.segment_id, x.player_id, x.reg_month,
         date_trunc('month', d.day::timestamp)::date AS period, d.currency, x.country,
         x.traffic_source, x.affiliate_code, bool_or(d.bets_count > 0) AS active,
         sum(d.stakes_minor) AS stakes, sum(d.wins_minor) AS wins,
         sum(d.bonus_cost_minor) AS bonus_cost, count(*) AS player_days
  FROM x JOIN analytics_player_days d ON d.player_id = x.player_id
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8),
h AS (
  SELECT segment_id, reg_month, period, currency, country, traffic_source, affiliate_code,
         0::bigint AS registrations, active::int::bigint AS active, stakes, wins, bonus_cost,
         player_days
  FROM pm
  UNION ALL
  SELECT segment_id, reg_month, period, '', country, traffic_source, affiliate_code, 0,
         bool_or(active)::int, 0, 0, 0, 0
  FROM pm GROUP BY segment_id, player_id, reg_month, period, country, traffic_source,
                   affiliate_code
  UNION ALL
  SELECT segment_id, reg_month, reg_month, '', country, traffic_source, affiliate_code, 1,
         0, 0, 0, 0, 0
  FROM x)
"""


def _cohort_history_sql(members: str) -> str:
    sums = ", ".join(f":sign * sum(h.{c})" for c in SEGMENT_COHORT_COLUMNS)
    return (
        _COHORT_HISTORY.format(members=members)  # noqa: S608
        + f"INSERT INTO analytics_segment_cohorts ({', '.join(SEGMENT_COHORT_KEY)}, "  # noqa: S608
        f"{', '.join(SEGMENT_COHORT_COLUMNS)}) "
        f"SELECT {', '.join('h.' + k for k in SEGMENT_COHORT_KEY)}, {sums} FROM h "
        f"GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT ({', '.join(SEGMENT_COHORT_KEY)}) "
        f"DO UPDATE SET {_adds('analytics_segment_cohorts', SEGMENT_COHORT_COLUMNS)}"
    )


# The funnel of a set of (segment, member) pairs ({members}): each member's steps
# (facts.funnel_steps in SQL) in their registration day's row. Migration 0032 backfills it.
_FUNNEL_HISTORY = """
INSERT INTO analytics_segment_funnel (segment_id, registered_on, country, traffic_source,
    affiliate_code, registered, kyc_verified, first_deposit, first_bet)
SELECT m.segment_id, p.registered_on, p.country, coalesce(p.traffic_source, ''),
       coalesce(p.affiliate_code, ''), :sign * count(*),
       :sign * count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED'),
       :sign * count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED'
                                AND p.first_deposit_at IS NOT NULL),
       :sign * count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED'
                                AND p.first_deposit_at IS NOT NULL
                                AND p.first_bet_at IS NOT NULL)
FROM ({members}) m JOIN analytics_players p ON p.player_id = m.player_id
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (segment_id, registered_on, country, traffic_source, affiliate_code) DO UPDATE
SET registered = analytics_segment_funnel.registered + EXCLUDED.registered,
    kyc_verified = analytics_segment_funnel.kyc_verified + EXCLUDED.kyc_verified,
    first_deposit = analytics_segment_funnel.first_deposit + EXCLUDED.first_deposit,
    first_bet = analytics_segment_funnel.first_bet + EXCLUDED.first_bet
"""
_X_DIMS = "x.country, x.traffic_source, x.affiliate_code"
_ONE_PLAYER = ("SELECT CAST(:segment AS uuid) AS segment_id, "
               "CAST(:player AS uuid) AS player_id")  # fmt: skip
_MEMBERS = ("SELECT segment_id, player_id FROM analytics_segment_members "
            "WHERE segment_id = :segment")  # fmt: skip


def _history_sql(members: str) -> tuple[str, ...]:
    columns = sorted(FACT_COLUMNS)
    sums = ", ".join(f":sign * coalesce(sum(h.v) FILTER (WHERE h.k = '{c}'), 0)"
                     for c in columns)  # fmt: skip
    facts = (
        _HISTORY.format(members=members, dims=_X_DIMS)  # noqa: S608
        + f"INSERT INTO analytics_segment_facts ({', '.join(SEGMENT_FACT_KEY)}, "  # noqa: S608
        f"{', '.join(columns)}) SELECT CAST(:segment AS uuid), "
        f"{', '.join('h.' + k for k in SEGMENT_FACT_KEY[1:])}, {sums} FROM h "
        f"GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT ({', '.join(SEGMENT_FACT_KEY)}) "
        f"DO UPDATE SET {_adds('analytics_segment_facts', tuple(columns))}"
    )
    durations = (
        f"WITH x AS ({members}), "  # noqa: S608
        "g (grain, unit) AS (VALUES ('d', 'day'), ('w', 'week'), ('m', 'month')) "
        "INSERT INTO analytics_duration_buckets (grain, dim, value, period, metric, bucket, "
        "count) SELECT g.grain, s.dim, s.value, "
        "date_trunc(g.unit, m.at)::date, m.metric, m.bucket, :sign * count(*) "
        "FROM x JOIN analytics_players p ON p.player_id = x.player_id CROSS JOIN g, "
        "LATERAL (VALUES ('segment_id', CAST(CAST(:segment AS uuid) AS text)), "
        "('segment_combo', CAST(CAST(:segment AS uuid) AS text) || chr(31) || "
        f"{combo_sql('p')})) s(dim, value), "
        "LATERAL (VALUES ('deposit', p.registered_on::timestamp, "
        f"{bucket_sql(DEPOSIT_SECONDS)}), "
        f"('kyc', p.kyc_decided_at AT TIME ZONE 'UTC', {bucket_sql(KYC_SECONDS)})) "
        "m(metric, at, bucket) WHERE m.bucket IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6 "
        "ON CONFLICT (grain, dim, value, period, metric, bucket) "
        "DO UPDATE SET count = analytics_duration_buckets.count + EXCLUDED.count"
    )
    cohorts, funnel = _cohort_history_sql(members), _FUNNEL_HISTORY.format(members=members)
    return facts, durations, cohorts, funnel


_PLAYER_HISTORY = _history_sql(_ONE_PLAYER)
_SEGMENT_HISTORY = _history_sql(_MEMBERS)


async def move_segment_history(
    session: AsyncSession, segment_id: uuid.UUID, player_id: uuid.UUID, sign: int
) -> None:
    """Add (``sign`` 1: the player entered) or subtract (-1: left) everything the facts
    hold of the player to the segment's facts, duration histograms, cohort table and
    funnel: four statements."""
    params = {"segment": segment_id, "player": player_id, "sign": sign}
    for sql in _PLAYER_HISTORY:
        await session.execute(text(sql), params)


async def recompute_segment_facts(session: AsyncSession, segment_id: uuid.UUID) -> None:
    """A segment's facts from its current members, set-based (a seeding, a repair)."""
    params = {"segment": segment_id, "sign": 1}
    for table in ("analytics_segment_facts", "analytics_segment_cohorts",
                  "analytics_segment_funnel"):  # fmt: skip
        await session.execute(text(f"DELETE FROM {table} WHERE segment_id = :segment"),  # noqa: S608
                              params)  # fmt: skip
    await session.execute(
        text("DELETE FROM analytics_duration_buckets "
             "WHERE dim IN ('segment_id', 'segment_combo') "
             "AND split_part(value, chr(31), 1) = CAST(CAST(:segment AS uuid) AS text)"), params,
    )  # fmt: skip
    for sql in _SEGMENT_HISTORY:
        await session.execute(text(sql), params)


async def player_period_flags(
    session: AsyncSession, player_id: uuid.UUID, grains: list[str], periods: list[date]
) -> list[dict[str, Any]]:
    """The player's activity rows of those grains and periods (any currency)."""
    result = await session.execute(
        text("SELECT grain, period, currency, active, paying FROM analytics_player_periods "
             "WHERE grain = ANY(:g) AND period = ANY(:periods) AND player_id = :p"),
        {"g": grains, "periods": periods, "p": player_id},
    )  # fmt: skip
    return [dict(r) for r in result.mappings()]


async def set_player_period(
    session: AsyncSession, grain: str, period: date, player_id: uuid.UUID, currency: str,
    active: bool, paying: bool,
) -> None:  # fmt: skip
    await session.execute(
        text("INSERT INTO analytics_player_periods (grain, period, player_id, currency, "
             "active, paying) VALUES (:g, :d, :p, :c, :a, :y) "
             "ON CONFLICT (grain, period, player_id, currency) DO UPDATE SET "
             "active = analytics_player_periods.active OR EXCLUDED.active, "
             "paying = analytics_player_periods.paying OR EXCLUDED.paying"),
        {"g": grain, "d": period, "p": player_id, "c": currency, "a": active, "y": paying},
    )  # fmt: skip


ROLLUP_TABLES = (
    "analytics_daily_money", "analytics_active_players", "analytics_daily_registrations",
    "analytics_daily_counts", "analytics_players", "analytics_player_days",
    "analytics_segment_members", "analytics_registration_errors",
    "analytics_player_periods", "analytics_period_facts", "analytics_duration_buckets",
    "analytics_segment_facts", "analytics_funnel_facts", "analytics_segment_cohorts",
    "analytics_segment_funnel",
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
    filters: Mapping[str, object], player: str = "p.player_id", dims: str = "p"
) -> tuple[str, dict[str, object]]:
    """``AND ...`` conditions on the player dimensions of ``dims`` (``p``: the player row
    joined by the caller, ``f``: a facts row, ``s``: a segment's facts row)."""
    parts: list[str] = []
    params: dict[str, object] = {}
    alias = "f" if dims == "s" else dims  # a segment's facts are read as ``f`` too
    for key in PLAYER_DIMS:
        if filters.get(key) is not None:
            parts.append(f" AND {alias}.{key} = :f_{key}")
            params[f"f_{key}"] = filters[key]
    if dims == "s":  # a segment's own facts: the segment is their key
        return "".join(parts), params | {"f_segment": filters["segment_id"]}
    if filters.get("segment_id") is not None:
        assert dims == "p", "facts hold no segment membership"
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

# The exact funnel from the players (a segment filter: current members; and the reference
# the funnel facts are tested against).
FUNNEL = """
SELECT count(*) AS registered,
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED') AS kyc_verified,
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED'
                        AND p.first_deposit_at IS NOT NULL) AS first_deposit,
       count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED' AND p.first_deposit_at IS NOT NULL
                        AND p.first_bet_at IS NOT NULL) AS first_bet
FROM analytics_players p WHERE p.registered_on BETWEEN :lo AND :hi {cond}
"""

# The funnel facts of every player at once, set-based (what the consumer keeps row by row;
# the bench's seeding and the tests' reference; migration 0029 backfills the same).
FUNNEL_FACTS_FROM_PLAYERS = """
INSERT INTO analytics_funnel_facts (registered_on, country, traffic_source, affiliate_code,
    registered, kyc_verified, first_deposit, first_bet)
SELECT registered_on, country, coalesce(traffic_source, ''), coalesce(affiliate_code, ''),
       count(*), count(*) FILTER (WHERE kyc_outcome = 'VERIFIED'),
       count(*) FILTER (WHERE kyc_outcome = 'VERIFIED' AND first_deposit_at IS NOT NULL),
       count(*) FILTER (WHERE kyc_outcome = 'VERIFIED' AND first_deposit_at IS NOT NULL
                        AND first_bet_at IS NOT NULL)
FROM analytics_players GROUP BY 1, 2, 3, 4
"""

# The same from the funnel facts: a row per registration day and dimension combination.
FUNNEL_FACTS = """
SELECT coalesce(sum(f.registered), 0) AS registered,
       coalesce(sum(f.kyc_verified), 0) AS kyc_verified,
       coalesce(sum(f.first_deposit), 0) AS first_deposit,
       coalesce(sum(f.first_bet), 0) AS first_bet
FROM analytics_funnel_facts f WHERE f.registered_on BETWEEN :lo AND :hi {cond}
"""
# A segment's (with any player-dimension filter): its members' funnel rows.
SEGMENT_FUNNEL_FACTS = FUNNEL_FACTS.replace(
    "FROM analytics_funnel_facts f WHERE",
    "FROM analytics_segment_funnel f WHERE f.segment_id = :f_segment AND",
)


# The same figures from the pre-aggregated facts (app/analytics/facts.py): a few rows per
# period and dimension values instead of every player-day; for any filter but a segment.
_FACTS = "FROM analytics_period_facts f WHERE f.grain = :grain"
_MONTHS_SINCE = (
    "((extract(year FROM f.period) - extract(year FROM f.reg_month)) * 12"
    " + extract(month FROM f.period) - extract(month FROM f.reg_month))::int"
)

FACT_ACTIVITY = f"""
SELECT f.period, sum(f.active) AS active, sum(f.active_days) AS active_days,
       sum(f.paying) AS paying, sum(f.bets) AS bets, sum(f.rollbacks) AS rollbacks,
       sum(f.awarded) AS awarded, sum(f.fulfilled) AS fulfilled,
       sum(f.registrations) AS registrations, sum(f.first_deposits) AS first_deposits,
       sum(f.kyc_decisions) AS decisions, sum(f.kyc_verified) AS verified
{_FACTS} AND f.currency = '' AND f.period BETWEEN :lo AND :hi {{cond}} GROUP BY 1
"""

# The buckets holding the two middle durations (ranks (n-1)/2 and n/2 from 0) of each
# period's histogram for one dimension value ('' = every player): at most two rows per
# period and metric instead of every bucket.
DURATION_MEDIAN_BUCKETS = """
SELECT period, metric, bucket, upto - count AS below, count, total FROM (
  SELECT b.period, b.metric, b.bucket, b.count,
         sum(b.count) OVER (PARTITION BY b.period, b.metric ORDER BY b.bucket) AS upto,
         sum(b.count) OVER (PARTITION BY b.period, b.metric) AS total
  FROM analytics_duration_buckets b
  WHERE b.grain = :grain AND b.dim = :dim AND b.value = :value
    AND b.period BETWEEN :lo AND :hi) h
WHERE upto > (total - 1) / 2 AND upto - count <= total / 2
"""

# The same from the histograms per full combination (dim 'combo' / 'segment_combo'):
# the matching combinations' buckets summed first, read by the value's parts (generated
# columns; an index-only scan of ix_analytics_duration_buckets_combos or _combo_affiliates).
# {cond}: combo_filter_sql.
DURATION_COMBO_MEDIAN_BUCKETS = """
SELECT period, metric, bucket, upto - count AS below, count, total FROM (
  SELECT period, metric, bucket, count,
         sum(count) OVER (PARTITION BY period, metric ORDER BY bucket) AS upto,
         sum(count) OVER (PARTITION BY period, metric) AS total
  FROM (SELECT b.period, b.metric, b.bucket, sum(b.count) AS count
        FROM analytics_duration_buckets b
        WHERE b.grain = :grain AND b.dim = :dim AND b.period BETWEEN :lo AND :hi {cond}
        GROUP BY 1, 2, 3) s) h
WHERE upto > (total - 1) / 2 AND upto - count <= total / 2
"""


def combo_filter_sql(filters: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """The histogram kind and ``AND ...`` conditions on its value's parts for ``filters``
    (a segment: its combinations; the segment part is '' in the others, and always named
    so that the index's prefix goes on to the country and source)."""
    segment = filters.get("segment_id")
    parts = [" AND b.segment = :c_segment"]
    parts += [f" AND b.{name} = :c_{name}" for name in PLAYER_DIMS
              if filters.get(name) is not None]  # fmt: skip
    params: dict[str, object] = {
        f"c_{name}": str(filters[name]) for name in PLAYER_DIMS if filters.get(name) is not None
    }
    params["c_segment"] = "" if segment is None else str(segment)
    return "".join(parts), params | {"dim": "segment_combo" if segment else "combo"}


FACT_MONEY = f"""
SELECT f.period, f.currency, sum(f.stakes) AS stakes, sum(f.wins) AS wins,
       sum(f.bonus_cost) AS bonus_cost, sum(f.deposits_count) AS deposits_count,
       sum(f.deposits) AS deposits, sum(f.withdrawals_count) AS withdrawals_count,
       sum(f.withdrawals) AS withdrawals, sum(f.active) AS active, sum(f.paying) AS paying
{_FACTS} AND f.currency <> '' AND f.period BETWEEN :lo AND :hi {{cond}} GROUP BY 1, 2
"""

# Churned in P = active in the period before - retained in P (active in both).
FACT_CHURN = f"""
SELECT period, sum(before) AS previous_active, sum(before) - sum(kept) AS churned FROM (
  SELECT (f.period + CAST(CAST(:step AS text) AS interval))::date AS period,
         f.active AS before, 0 AS kept
  {_FACTS} AND f.currency = '' AND f.period >= :prev_lo AND f.period < :last_start {{cond}}
  UNION ALL
  SELECT f.period, 0, f.retained
  {_FACTS} AND f.currency = '' AND f.period BETWEEN :lo AND :last_start {{cond}}) x
GROUP BY 1 HAVING sum(before) > 0
"""  # noqa: S608 (fixed text; only values are bound)

# A segment's facts (with any player-dimension filter too).
_SEGMENT_FACTS = ("FROM analytics_segment_facts f "
                  "WHERE f.segment_id = :f_segment AND f.grain = :grain")  # fmt: skip
SEGMENT_ACTIVITY = FACT_ACTIVITY.replace(_FACTS, _SEGMENT_FACTS)
SEGMENT_CHURN = FACT_CHURN.replace(_FACTS, _SEGMENT_FACTS)
# A currency left with no member's player-day (they left) is not listed, as in the grouping.
SEGMENT_MONEY = FACT_MONEY.replace(_FACTS, _SEGMENT_FACTS).replace(
    "GROUP BY 1, 2", "GROUP BY 1, 2 HAVING sum(f.player_days) > 0"
)

_COHORT_FACTS = "FROM analytics_period_facts f WHERE f.grain = 'c'"

FACT_COHORT_SIZES = f"""
SELECT f.reg_month AS cohort, sum(f.registrations) AS players
{_COHORT_FACTS} AND f.currency = '' AND f.period = f.reg_month
  AND f.reg_month BETWEEN :lo AND :hi {{cond}}
GROUP BY 1 HAVING sum(f.registrations) > 0
"""

FACT_COHORT_ACTIVE = f"""
SELECT f.reg_month AS cohort, {_MONTHS_SINCE} AS months_since, sum(f.active) AS active
{_COHORT_FACTS} AND f.currency = '' AND f.reg_month BETWEEN :lo AND :hi {{cond}}
GROUP BY 1, 2 HAVING sum(f.active) > 0
"""

FACT_COHORTS = f"""
SELECT f.reg_month AS cohort, {_MONTHS_SINCE} AS months_since, f.currency,
       sum(f.stakes - f.wins - f.bonus_cost) AS ngr
{_COHORT_FACTS} AND f.currency <> '' AND f.reg_month BETWEEN :lo AND :hi {{cond}}
GROUP BY 1, 2, 3
"""

# A segment's cohort table (analytics_segment_cohorts, with any player-dimension filter):
# the same reads; a currency left with no member's player-day (they left) is not listed.
_SEGMENT_COHORTS = ("FROM analytics_segment_cohorts f "
                    "WHERE f.segment_id = :f_segment")  # fmt: skip
SEGMENT_COHORT_SIZES = FACT_COHORT_SIZES.replace(_COHORT_FACTS, _SEGMENT_COHORTS)
SEGMENT_COHORT_ACTIVE = FACT_COHORT_ACTIVE.replace(_COHORT_FACTS, _SEGMENT_COHORTS)
SEGMENT_COHORTS = FACT_COHORTS.replace(_COHORT_FACTS, _SEGMENT_COHORTS).replace(
    "GROUP BY 1, 2, 3", "GROUP BY 1, 2, 3 HAVING sum(f.player_days) > 0"
)


@dataclass(frozen=True)
class Reads:
    """The statements behind a series or cohort table, and whose dimensions they filter."""

    activity: str
    money: str
    churn: str
    cohort_sizes: str
    cohort_active: str
    cohorts: str
    dims: str

    @property
    def from_facts(self) -> bool:
        """Whether registrations and KYC decisions are counted by ``activity`` too."""
        return self.dims in ("f", "s")


PLAYER_DAY_READS = Reads(ACTIVITY, MONEY, CHURN, COHORT_SIZES, COHORT_ACTIVE, COHORTS, "p")
FACT_READS = Reads(FACT_ACTIVITY, FACT_MONEY, FACT_CHURN, FACT_COHORT_SIZES,
                   FACT_COHORT_ACTIVE, FACT_COHORTS, "f")  # fmt: skip

SEGMENT_FACT_READS = Reads(SEGMENT_ACTIVITY, SEGMENT_MONEY, SEGMENT_CHURN,
                           SEGMENT_COHORT_SIZES, SEGMENT_COHORT_ACTIVE, SEGMENT_COHORTS,
                           "s")  # fmt: skip


def reads_for(filters: Mapping[str, object]) -> Reads:
    """The facts answer every filter of player dimensions; a segment (current membership,
    with or without other filters) reads the segment's facts and cohort table."""
    if filters.get("segment_id") is None:
        return FACT_READS
    return SEGMENT_FACT_READS


def funnel_read(filters: Mapping[str, object]) -> tuple[str, str]:
    """The funnel statement for ``filters`` and whose dimensions it filters: the funnel
    facts, or a segment's (its current members')."""
    if filters.get("segment_id") is None:
        return FUNNEL_FACTS, "f"
    return SEGMENT_FUNNEL_FACTS, "s"


async def fetch(
    session: AsyncSession, sql: str, params: Mapping[str, object],
    filters: Mapping[str, object], *, player: str = "p.player_id", dims: str = "p",
) -> list[dict[str, Any]]:  # fmt: skip
    """Run one of the read statements above with the filter conditions put in."""
    cond, extra = filter_sql(filters, player, dims)
    result = await session.execute(text(sql.format(cond=cond)), {**params, **extra})
    return [dict(row) for row in result.mappings()]
