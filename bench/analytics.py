"""Analytics queries at 1M players and the equivalent of 50M ledger rows (issue 14 item 3).

    .venv/bin/python bench/analytics.py [--players 1000000] [--seconds 240]
    .venv/bin/python bench/analytics.py --rebuild-events 200000   # rebuild slice only

The database (default ``pms_bench_analytics`` on the local server) is dropped and
re-migrated. The rollup tables are seeded directly in SQL (INSERT ... SELECT
generate_series, indexes dropped during the load and re-created after): per player 1-10
active days, 1-8 settled bets a day, a deposit every third day. At two ledger rows per
settled bet (stake debit, win credit) and one per deposit that is what ~50M ledger rows
feed the consumer; the script prints the implied count. Then every query cell (series
per day/week/month with no filter and a segment/country/source filter, cohorts, funnel)
runs round-robin, each round through both paths in turn: the service function
(``app.analytics.metrics``) on the app's own pool, and the GraphQL endpoint (uvicorn,
one worker, a staff token with analytics:read). p50/p99 per cell and path.

``--compare-combined``: on the database a query run left seeded, the combined-filter
series from the facts against the player-day grouping (timed, checked equal).

``--rebuild-events N``: N outbox events (registrations, deposits, settled bets) generated
in SQL, ``app.analytics.consumer.rebuild`` run over them (events/s), and the player-day
rollup it produced compared row for row with the direct-SQL aggregation of the same
generator (the seeding method above).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fresh_db import fresh_database  # noqa: E402  (bench/fresh_db.py)

from app.analytics import (  # noqa: E402
    consumer,
    metrics,
    repository,
)
from app.analytics.figures import MEDIAN_RELATIVE_ERROR, Fx, Granularity  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.principal import Principal, PrincipalKind  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.identity.keys import KeyRing  # noqa: E402
from app.identity.tokens import issue_access_token  # noqa: E402
from app.segments.service import create_segment  # noqa: E402
from bench.wallet import BENCH_SECRET_KEY, free_port, start_server  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_analytics"
YEAR_START = date(2026, 1, 1)  # registrations spread over 2026-01-01 .. 2026-11-30
REG_DAYS = 334

# --- seeding ---------------------------------------------------------------------------
# Player i: id md5('p' || i), hash h drives every dimension (so reruns are identical).

PLAYERS = f"""
INSERT INTO analytics_players (player_id, registered_at, registered_on, country, currency,
    traffic_source, affiliate_code, kyc_submitted_at, kyc_decided_at, kyc_outcome,
    first_deposit_at, first_bet_at)
SELECT md5('p' || i)::uuid, at, at::date,
       (ARRAY['DE','AT','CH','FR','GB','SE','BR','CA'])[1 + h % 8],
       (ARRAY['EUR','EUR','EUR','EUR','EUR','EUR','EUR','USD','USD','GBP'])[1 + h % 10],
       (ARRAY['organic','affiliate','ppc','social','email'])[1 + (h / 8) % 5],
       CASE WHEN (h / 8) % 5 = 1 THEN 'aff' || (h % 50) END,
       CASE WHEN h % 10 < 6 THEN at + interval '1 hour' END,
       CASE WHEN h % 10 < 6 THEN at + make_interval(hours => 2 + h % 48) END,
       CASE WHEN h % 10 < 6 THEN CASE WHEN h % 7 = 0 THEN 'REJECTED' ELSE 'VERIFIED' END END,
       CASE WHEN h % 10 < 5 THEN at + make_interval(hours => 3 + h % 200) END,
       CASE WHEN h % 10 < 5 THEN at + make_interval(hours => 4 + h % 200) END
FROM (SELECT i, abs(hashtext('p' || i)) AS h,
             TIMESTAMPTZ '{YEAR_START}' + make_interval(days => i % {REG_DAYS},
                                                   secs => i % 86400) AS at
      FROM generate_series(1, :n) i) g
"""

# 1-10 active days per player (every third day from registration), 1-8 bets a day.
PLAYER_DAYS = """
INSERT INTO analytics_player_days (day, player_id, currency, bets_count, stakes_minor,
    wins_minor, bonus_cost_minor, bonuses_awarded, bonuses_fulfilled, deposits_count,
    deposits_minor, withdrawals_count, withdrawals_minor, rollbacks_count)
SELECT p.registered_on + (k - 1) * 3 + (h % 3), p.player_id, p.currency,
       b, b * 250, b * 240, CASE WHEN k = 1 AND h % 20 = 0 THEN 500 ELSE 0 END,
       (k = 1 AND h % 10 = 0)::int, (k = 1 AND h % 20 = 0)::int,
       (k % 3 = 1)::int, CASE WHEN k % 3 = 1 THEN 1000 + (h % 50) * 100 ELSE 0 END,
       (k = 4)::int, CASE WHEN k = 4 THEN 2000 ELSE 0 END, (h % 97 = k)::int
FROM (SELECT player_id, registered_on, currency, abs(hashtext(player_id::text)) AS h
      FROM analytics_players) p,
     LATERAL generate_series(1, 1 + p.h % 10) k,
     LATERAL (SELECT 1 + (p.h / 10 + k) % 8 AS b) bets
"""

DERIVED = (
    """INSERT INTO analytics_active_players (day, player_id)
       SELECT DISTINCT day, player_id FROM analytics_player_days WHERE bets_count > 0""",
    """INSERT INTO analytics_daily_money (day, currency, deposits_count, deposits_minor,
           withdrawals_count, withdrawals_minor, bets_count, stakes_minor, wins_minor)
       SELECT day, currency, sum(deposits_count), sum(deposits_minor),
              sum(withdrawals_count), sum(withdrawals_minor), sum(bets_count),
              sum(stakes_minor), sum(wins_minor)
       FROM analytics_player_days GROUP BY 1, 2""",
    """INSERT INTO analytics_daily_registrations (day, country, registrations)
       SELECT registered_on, country, count(*) FROM analytics_players GROUP BY 1, 2""",
    """INSERT INTO analytics_daily_counts (day, name, count)
       SELECT day, 'bet.rolled_back', sum(rollbacks_count) FROM analytics_player_days
       GROUP BY 1 HAVING sum(rollbacks_count) > 0""",
    """INSERT INTO analytics_daily_counts (day, name, count)
       SELECT day, 'player.registration_failed', 40 + extract(day FROM day)::int
       FROM generate_series(DATE '2026-01-01', DATE '2026-12-31', interval '1 day') day""",
    """INSERT INTO analytics_registration_errors (day, field, reason, count)
       SELECT day, f, 'is invalid', 10 FROM generate_series(DATE '2026-01-01',
              DATE '2026-12-31', interval '1 day') day, unnest(ARRAY['email','phone']) f""",
)

# The pre-aggregated facts derived in SQL from the player-days and players (what the
# consumer's app/analytics/facts.py adds event by event), into ``{target}``. Per grain:
# the per-currency money and distinct players, then the currency-free counts, distinct
# players, player-days and retained players (active in the period before too), then the
# registrations.
_UNIT = {"d": "day", "w": "week", "m": "month", "c": "month"}
_STEP = {"d": "1 day", "w": "1 week", "m": "1 month", "c": "1 month"}
_DIMS = """CASE WHEN '{grain}' = 'c' THEN date_trunc('month', p.registered_on::timestamp)::date
       ELSE DATE '-infinity' END, coalesce(p.country, ''), coalesce(p.traffic_source, ''),
       coalesce(p.affiliate_code, '')"""
FACTS_MONEY = """
INSERT INTO {target} (grain, period, currency, reg_month, country, traffic_source,
    affiliate_code, active, paying, stakes, wins, bonus_cost, deposits_count, deposits,
    withdrawals_count, withdrawals, player_days)
SELECT '{grain}', date_trunc('{unit}', d.day::timestamp)::date, d.currency, {dims},
       count(DISTINCT d.player_id) FILTER (WHERE d.bets_count > 0),
       count(DISTINCT d.player_id) FILTER (WHERE d.deposits_count > 0),
       sum(d.stakes_minor), sum(d.wins_minor), sum(d.bonus_cost_minor), sum(d.deposits_count),
       sum(d.deposits_minor), sum(d.withdrawals_count), sum(d.withdrawals_minor), count(*)
FROM analytics_player_days d LEFT JOIN analytics_players p ON p.player_id = d.player_id
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
FACTS_COUNTS = """
INSERT INTO {target} (grain, period, currency, reg_month, country, traffic_source,
    affiliate_code, active, paying, retained, active_days, bets, rollbacks, awarded,
    fulfilled)
WITH pp AS (
  SELECT date_trunc('{unit}', d.day::timestamp)::date AS period, d.player_id,
         bool_or(d.bets_count > 0) AS active, bool_or(d.deposits_count > 0) AS paying,
         count(DISTINCT d.day) FILTER (WHERE d.bets_count > 0) AS days, sum(d.bets_count) AS bets,
         sum(d.rollbacks_count) AS rollbacks, sum(d.bonuses_awarded) AS awarded,
         sum(d.bonuses_fulfilled) AS fulfilled
  FROM analytics_player_days d GROUP BY 1, 2)
SELECT '{grain}', pp.period, '', {dims}, count(*) FILTER (WHERE pp.active),
       count(*) FILTER (WHERE pp.paying),
       CASE WHEN '{grain}' = 'c' THEN 0  -- cohorts keep no retention
            ELSE count(*) FILTER (WHERE pp.active AND b.active) END,
       sum(pp.days), sum(pp.bets), sum(pp.rollbacks), sum(pp.awarded), sum(pp.fulfilled)
FROM pp LEFT JOIN analytics_players p ON p.player_id = pp.player_id
LEFT JOIN pp b ON b.player_id = pp.player_id
  AND b.period = (pp.period - CAST('{step}' AS interval))::date
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
FACTS_REGISTRATIONS = """
INSERT INTO {target} (grain, period, currency, reg_month, country, traffic_source,
    affiliate_code, registrations, first_deposits)
SELECT '{grain}', date_trunc('{unit}', p.registered_on::timestamp)::date, '', {dims}, count(*),
       count(p.first_deposit_at)
FROM analytics_players p GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (grain, period, currency, reg_month, country, traffic_source, affiliate_code)
DO UPDATE SET registrations = EXCLUDED.registrations, first_deposits = EXCLUDED.first_deposits
"""
FACTS_KYC = """
INSERT INTO {target} (grain, period, currency, reg_month, country, traffic_source,
    affiliate_code, kyc_decisions, kyc_verified)
SELECT '{grain}', date_trunc('{unit}', p.kyc_decided_at AT TIME ZONE 'UTC')::date, '', {dims},
       count(*), count(*) FILTER (WHERE p.kyc_outcome = 'VERIFIED')
FROM analytics_players p WHERE p.kyc_decided_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (grain, period, currency, reg_month, country, traffic_source, affiliate_code)
DO UPDATE SET kyc_decisions = EXCLUDED.kyc_decisions, kyc_verified = EXCLUDED.kyc_verified
"""
# The duration histograms (app/analytics/figures.py duration_bucket, in SQL) per grain,
# one dimension at a time and per full combination ('combo'): registration -> first
# deposit by registration period, KYC submission -> first decision by decision period.
DURATIONS = """
INSERT INTO {target} (grain, dim, value, period, metric, bucket, count)
SELECT '{grain}', d.dim, d.value, date_trunc('{unit}', m.at::timestamp)::date, m.metric,
       m.bucket, count(*)
FROM analytics_players p,
LATERAL (VALUES ('deposit', p.registered_on, {deposit}),
                ('kyc', (p.kyc_decided_at AT TIME ZONE 'UTC')::date, {kyc})) m(metric, at, bucket),
LATERAL (VALUES ('', ''), ('country', p.country),
                ('traffic_source', coalesce(p.traffic_source, '')),
                ('affiliate_code', coalesce(p.affiliate_code, '')),
                ('combo', {combo})) d(dim, value)
WHERE m.bucket IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
""".format(
    target="{target}",
    grain="{grain}",
    unit="{unit}",
    deposit=repository.bucket_sql(repository.DEPOSIT_SECONDS),
    kyc=repository.bucket_sql(repository.KYC_SECONDS),
    combo=repository.combo_sql("p"),
)


def facts_sql(target: str, durations: str = "analytics_duration_buckets") -> list[str]:
    out = []
    for grain, unit in _UNIT.items():
        dims = _DIMS.format(grain=grain)
        for sql in (FACTS_MONEY, FACTS_COUNTS, FACTS_REGISTRATIONS, FACTS_KYC):
            out.append(sql.format(target=target, grain=grain, unit=unit, dims=dims,
                                  step=_STEP[grain]))  # fmt: skip
        if grain != "c":
            out.append(DURATIONS.format(target=durations, grain=grain, unit=unit))
    return out


# Secondary indexes of the rollups (dropped for the load, re-created after).
INDEXES = ("ix_analytics_players_registered_on", "ix_analytics_player_days_player_id",
           "ix_analytics_players_kyc_decided_at")  # fmt: skip
IMPLIED_LEDGER_ROWS = """
SELECT sum(2 * bets_count + deposits_count + withdrawals_count) FROM analytics_player_days
"""


async def index_definitions(db: Database) -> list[str]:
    async with db.read_session() as s:
        rows = await s.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
            {"names": list(INDEXES)},
        )
        return [str(r[0]) for r in rows]


async def seed(db: Database, players: int, settings: Settings) -> uuid.UUID:
    """Every rollup for ``players``; returns a segment holding every tenth of them."""
    definitions = await index_definitions(db)
    t0 = time.perf_counter()
    async with db.transaction() as s:
        for name in INDEXES:
            await s.execute(text(f"DROP INDEX {name}"))
        await s.execute(text(PLAYERS), {"n": players})
        await s.execute(text(PLAYER_DAYS))
        for sql in DERIVED:
            await s.execute(text(sql))
        for sql in facts_sql("analytics_period_facts"):
            await s.execute(text(sql))
        await s.execute(text(repository.FUNNEL_FACTS_FROM_PLAYERS))
        segment, _ = await create_segment(
            s, name="bench tenth", rule={"attr": "country", "op": "eq", "value": "DE"},
            actor="system:bench", settings=settings,
        )  # fmt: skip
        await s.execute(
            text("INSERT INTO analytics_segment_members (segment_id, player_id) "
                 "SELECT :s, player_id FROM analytics_players "
                 "WHERE abs(hashtext(player_id::text)) % 10 = 3"),
            {"s": segment.id},
        )  # fmt: skip
        await repository.recompute_segment_facts(s, segment.id)
        loaded = time.perf_counter() - t0
        for definition in definitions:
            await s.execute(text(definition))
    async with db.engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        await conn.execute(text("VACUUM ANALYZE"))
    async with db.read_session() as s:
        days = (await s.execute(text("SELECT count(*) FROM analytics_player_days"))).scalar()
        fact_rows = (await s.execute(text("SELECT count(*) FROM analytics_period_facts"))).scalar()
        buckets = (await s.execute(text("SELECT count(*) FROM analytics_duration_buckets"))
                   ).scalar()  # fmt: skip
        ledger = (await s.execute(text(IMPLIED_LEDGER_ROWS))).scalar()
    print(f"seeded {players:,} players, {days:,} player-days (= {ledger:,} ledger rows at 2 "
          f"per settled bet, 1 per deposit/withdrawal): load {loaded:.0f} s, "
          f"indexes + analyze {time.perf_counter() - t0 - loaded:.0f} s; {fact_rows:,} fact rows, "
          f"{buckets:,} duration bucket rows",
          flush=True)  # fmt: skip
    return segment.id


# --- the query cells -------------------------------------------------------------------

SERIES_GQL = """query($i: AnalyticsSeriesInput!) { analyticsSeries(input: $i) {
  __typename ... on AnalyticsSeries { periods { start activePlayers stickiness churnRate
    registrations registrationToDepositConversion kycSuccessRate rollbackRate
    registrationFailures money { currency ngr { amount } arpu { amount }
    arppu { amount } averageDeposit { amount } } reporting { ngr { amount } } } }
  ... on ValidationError { message } } }"""
COHORTS_GQL = """query($i: AnalyticsCohortsInput!) { analyticsCohorts(input: $i) {
  __typename ... on AnalyticsCohortTable { cohorts { month players
    cells { monthsSince activePlayers ltv { amount } } } } ... on ValidationError { message } } }"""
FUNNEL_GQL = """query($i: AnalyticsFunnelInput!) { analyticsFunnel(input: $i) {
  __typename ... on AnalyticsFunnel { steps { name players conversionFromStart } }
  ... on ValidationError { message } } }"""

RANGES = {  # the dashboard's views: a month of days, a quarter of weeks, a year of months
    Granularity.DAY: (date(2026, 10, 1), date(2026, 10, 31)),
    Granularity.WEEK: (date(2026, 8, 3), date(2026, 11, 1)),
    Granularity.MONTH: (date(2026, 1, 1), date(2026, 11, 30)),
}


@dataclass
class Cell:
    name: str
    direct: Callable[[Any], Awaitable[object]]
    query: str
    variables: dict[str, Any]
    samples: dict[str, list[float]] = field(default_factory=lambda: {"service": [], "gql": []})


def cells(segment: uuid.UUID) -> list[Cell]:
    fx = Fx("EUR")
    span = 366
    filters = {
        "none": (metrics.Filters(), None),
        "segment": (metrics.Filters(segment_id=segment), {"segmentId": str(segment)}),
        "country": (metrics.Filters(country="DE"), {"country": "DE"}),
        "source": (metrics.Filters(traffic_source="affiliate"), {"trafficSource": "affiliate"}),
        "segment+country": (
            metrics.Filters(segment_id=segment, country="DE"),
            {"segmentId": str(segment), "country": "DE"},
        ),
        "country+source": (  # DE x affiliate: no deposits in the seed
            metrics.Filters(country="DE", traffic_source="organic"),
            {"country": "DE", "trafficSource": "organic"},
        ),
    }
    combined = ("segment+country", "country+source")
    out: list[Cell] = []
    for g, (lo, hi) in RANGES.items():
        for fname, (f, gf) in filters.items():
            if fname in combined and g is Granularity.WEEK:
                continue  # the day and month views only
            out.append(Cell(
                f"series {g.value:<5} {fname}",
                lambda s, g=g, lo=lo, hi=hi, f=f: metrics.series(
                    s, g, lo, hi, currency=None, filters=f, fx=fx, max_span_days=span),
                SERIES_GQL,
                {"i": {"granularity": g.name, "fromDay": str(lo), "toDay": str(hi),
                       "filter": gf}},
            ))  # fmt: skip
    for fname in ("none", "country", "segment"):  # segment: the segment's facts
        f, gf = filters[fname]
        out.append(Cell(
            f"cohorts 11 months {fname}",
            lambda s, f=f: metrics.cohorts(s, date(2026, 1, 1), date(2026, 11, 1),
                                           currency=None, filters=f, fx=fx, max_span_days=span),
            COHORTS_GQL, {"i": {"fromMonth": "2026-01-01", "toMonth": "2026-11-01",
                                "filter": gf}},
        ))  # fmt: skip
        out.append(Cell(
            f"funnel 90 days {fname}",
            lambda s, f=f: metrics.funnel(s, date(2026, 8, 1), date(2026, 10, 29), filters=f,
                                          max_span_days=span),
            FUNNEL_GQL, {"i": {"fromDay": "2026-08-01", "toDay": "2026-10-29", "filter": gf}},
        ))  # fmt: skip
    return out


async def staff_token(url: str, settings: Settings) -> str:
    db = Database(url)
    try:
        keyring = KeyRing(db, settings)
        await keyring.load()
        principal = Principal(PrincipalKind.STAFF, id=str(uuid.uuid4()),
                              roles=frozenset({"FINANCE"}))  # fmt: skip
        token, _ = await issue_access_token(principal, keyring, settings)
        return token
    finally:
        await db.dispose()


async def run_cells(db: Database, http: httpx.AsyncClient, todo: list[Cell], seconds: float,
                    max_rounds: int, warmup: bool) -> int:  # fmt: skip
    """Rounds of every cell, each through both paths, until the time or the rounds run out
    (with ``warmup`` the first round warms caches and is not counted)."""
    deadline = time.perf_counter() + seconds
    rounds = 0 if warmup else 1
    while rounds <= max_rounds and time.perf_counter() < deadline:
        for cell in todo:
            t0 = time.perf_counter()
            async with db.read_session() as s:
                await cell.direct(s)
            t1 = time.perf_counter()
            r = await http.post("/graphql", json={"query": cell.query,
                                                  "variables": cell.variables})  # fmt: skip
            t2 = time.perf_counter()
            body = r.json()
            assert "errors" not in body and "message" not in str(body)[:200], body
            print(f"  {cell.name:<28} {(t1 - t0) * 1000:>9.1f} {(t2 - t1) * 1000:>9.1f} ms",
                  flush=True)  # fmt: skip
            if rounds:
                cell.samples["service"].append((t1 - t0) * 1000)
                cell.samples["gql"].append((t2 - t1) * 1000)
        rounds += 1
    return rounds - 1


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(todo: list[Cell], rounds: int) -> None:
    print(
        f"\n{rounds} counted rounds per cell; ms              service p50    p99 | "
        f"GraphQL p50    p99 | p99 < 200?"
    )
    for c in todo:
        s, g = c.samples["service"], c.samples["gql"]
        ok = "yes" if pct(g, 99) < 200 else "NO"
        print(
            f"{c.name:<28} {pct(s, 50):>12.1f} {pct(s, 99):>6.1f} | "
            f"{pct(g, 50):>11.1f} {pct(g, 99):>6.1f} | {ok}"
        )


async def queries(
    url: str, players: int, seconds: float, rounds: int, warmup: bool, only: list[str]
) -> None:
    settings = Settings(_env_file=None, env="prod", secret_key=BENCH_SECRET_KEY,
                        database_url=url)  # fmt: skip
    db = await fresh_database(url)
    segment = await seed(db, players, settings)
    port = free_port()
    os.environ["PMS_REQUEST_TIMEOUT_SECONDS"] = "600"  # a slow cell is measured, not cut
    server = start_server(url, port, pool_size=4)
    try:
        headers = {"Authorization": f"Bearer {await staff_token(url, settings)}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers,
                                     timeout=600) as http:  # fmt: skip
            todo = [c for c in cells(segment) if not only or any(o in c.name for o in only)]
            done = await run_cells(db, http, todo, seconds, rounds, warmup)
        report(todo, done)
    finally:
        server.terminate()
        server.wait(10)
        await db.dispose()


# --- the rebuild slice -----------------------------------------------------------------

# Events of players 1..n/20 (registered, then deposits and settled bets on later days).
EVENTS = f"""
INSERT INTO outbox_events (event_id, type, source, subject, time, data, published_at)
SELECT gen_random_uuid(), e.type, 'bench', pid::text, e.at, e.data, now()
FROM (SELECT g, md5('p' || (1 + g % :players))::uuid AS pid,
             1 + g % :players AS i, g / :players AS k FROM generate_series(0, :n - 1) g) x,
LATERAL (SELECT TIMESTAMPTZ '{YEAR_START}' + make_interval(days => x.i % 30 + x.k % 9,
                                                     secs => x.k) AS at) t,
LATERAL (SELECT CASE WHEN x.k = 0 THEN 'player.registered'
                     WHEN x.k % 5 = 1 THEN 'wallet.deposited' ELSE 'bet.settled' END AS type,
                CASE WHEN x.k = 0 THEN jsonb_build_object('playerId', x.pid, 'country', 'DE',
                          'currency', 'EUR', 'trafficSource', 'organic')
                     WHEN x.k % 5 = 1 THEN jsonb_build_object('playerId', x.pid,
                          'amount', '10.00', 'currency', 'EUR')
                     ELSE jsonb_build_object('playerId', x.pid, 'stake', '2.50',
                          'win', (x.k % 3)::text || '.00', 'currency', 'EUR') END AS data,
                CASE WHEN x.k = 0 THEN t.at - interval '1 day' ELSE t.at END AS at) e
"""

# The same generator aggregated straight into player-day rows (the seeding method).
EXPECTED = """
SELECT time::date AS day, (data->>'playerId')::uuid AS player_id, data->>'currency' AS c,
       count(*) FILTER (WHERE type = 'bet.settled') AS bets,
       coalesce(sum((data->>'stake')::numeric * 100), 0) AS stakes,
       coalesce(sum((data->>'win')::numeric * 100), 0) AS wins,
       count(*) FILTER (WHERE type = 'wallet.deposited') AS deposits,
       coalesce(sum((data->>'amount')::numeric * 100), 0) AS deposited
FROM outbox_events WHERE type IN ('bet.settled', 'wallet.deposited') GROUP BY 1, 2, 3
"""
ACTUAL = """
SELECT day, player_id, currency, bets_count, stakes_minor, wins_minor, deposits_count,
       deposits_minor FROM analytics_player_days
"""


async def rebuild_slice(url: str, events: int, check_facts: bool = True) -> None:
    settings = Settings(_env_file=None, env="prod", secret_key=BENCH_SECRET_KEY,
                        database_url=url)  # fmt: skip
    db = await fresh_database(url)
    players = max(1, events // 20)
    async with db.transaction() as s:
        await s.execute(text(EVENTS), {"n": events, "players": players})
    t0 = time.perf_counter()
    applied = await consumer.rebuild(db, settings)
    elapsed = time.perf_counter() - t0
    async with db.read_session() as s:
        diff = (await s.execute(text(
            f"SELECT count(*) FROM (({EXPECTED}) EXCEPT ({ACTUAL})) a"
        ))).scalar()  # fmt: skip
        diff_back = (await s.execute(text(
            f"SELECT count(*) FROM (({ACTUAL}) EXCEPT ({EXPECTED})) a"
        ))).scalar()  # fmt: skip
        rows = (await s.execute(text("SELECT count(*) FROM analytics_player_days"))).scalar()
    if check_facts:
        facts_diff = await compare_facts(db)
        print(f"facts kept by the rebuild vs derived in SQL from its player-days: {facts_diff}")
    print(f"rebuild: {applied:,} events of {players:,} players in {elapsed:.1f} s = "
          f"{applied / elapsed:,.0f} events/s; {rows:,} player-day rows; rows differing from "
          f"the direct SQL aggregation: {diff} missing, {diff_back} extra")  # fmt: skip
    await db.dispose()


async def compare_facts(db: Database) -> str:
    """The consumer's facts against the SQL derivation the seeding uses (analytics_player_
    periods are not derived: only the consumer reads them)."""
    async with db.transaction() as s:
        for table in ("analytics_period_facts", "analytics_duration_buckets"):
            await s.execute(text(f"CREATE TEMP TABLE expected_{table} (LIKE {table} "
                                 "INCLUDING ALL)"))  # fmt: skip
        tables = ("analytics_period_facts", "analytics_duration_buckets", "analytics_funnel_facts")
        await s.execute(text("CREATE TEMP TABLE expected_analytics_funnel_facts "
                             "(LIKE analytics_funnel_facts INCLUDING ALL)"))  # fmt: skip
        for sql in facts_sql("expected_analytics_period_facts",
                             "expected_analytics_duration_buckets"):  # fmt: skip
            await s.execute(text(sql))
        await s.execute(text(repository.FUNNEL_FACTS_FROM_PLAYERS.replace(
            "INTO analytics_funnel_facts", "INTO expected_analytics_funnel_facts")))  # fmt: skip
        out = []
        for table in tables:
            kept, derived = f"SELECT * FROM {table}", f"SELECT * FROM expected_{table}"
            missing = (await s.execute(text(f"SELECT count(*) FROM ({derived} EXCEPT {kept}) a"))
                       ).scalar()  # fmt: skip
            extra = (await s.execute(text(f"SELECT count(*) FROM ({kept} EXCEPT {derived}) a"))
                     ).scalar()  # fmt: skip
            total = (await s.execute(text(f"SELECT count(*) FROM expected_{table}"))).scalar()
            await s.execute(text(f"DROP TABLE expected_{table}"))
            out.append(f"{table}: {total:,} derived rows, {missing} missing, {extra} extra")
    return "; ".join(out)


# --- combined filters: facts vs the member grouping, on the seeded database -----------


async def compare_combined(url: str, rounds: int) -> None:
    """On the database a query run left seeded: each combined-filter series (day, month)
    from the facts and from the player-day grouping with the exact per-player medians
    (the path before branch combos), alternated; equal but for the medians, which must be
    within MEDIAN_RELATIVE_ERROR."""
    db = Database(url)
    async with db.read_session() as s:
        segment = (await s.execute(text("SELECT segment_id FROM analytics_segment_members "
                                        "LIMIT 1"))).scalar_one()  # fmt: skip
    exact = repository.PLAYER_DAY_READS
    worst = 0.0
    for fname, f in (("segment+country", metrics.Filters(segment_id=segment, country="DE")),
                     ("country+source", metrics.Filters(country="DE",
                                                        traffic_source="organic"))):  # fmt: skip
        for g in (Granularity.DAY, Granularity.MONTH):
            lo, hi = RANGES[g]
            ms: dict[str, list[float]] = {"facts": [], "grouping": []}
            got: dict[str, Any] = {}
            for _ in range(rounds):
                for path in ms:
                    original = repository.reads_for
                    if path == "grouping":
                        repository.reads_for = lambda f, **k: exact
                    try:
                        async with db.read_session() as s:
                            t0 = time.perf_counter()
                            got[path] = await metrics.series(
                                s, g, lo, hi, currency=None, filters=f, fx=Fx("EUR"),
                                max_span_days=366)  # fmt: skip
                            ms[path].append((time.perf_counter() - t0) * 1000)
                    finally:
                        repository.reads_for = original
            worst = max(worst, _same_but_medians(got["facts"], got["grouping"]))
            print(
                f"series {g.value:<5} {fname:<16} facts {statistics.median(ms['facts']):7.1f}"
                f" ms p50 | grouping {statistics.median(ms['grouping']):8.1f} ms p50"
            )
    print(
        f"equal but the medians; worst median error {worst * 100:.2f} % "
        f"(bound {MEDIAN_RELATIVE_ERROR * 100:.2f} %)"
    )
    await compare_segment_cohorts(db, segment, rounds)
    await db.dispose()


async def compare_segment_cohorts(db: Database, segment: uuid.UUID, rounds: int) -> None:
    """The cohort table by segment (alone, + country) from analytics_segment_cohorts and
    from the members' player-days (the path before branch cohorts3), alternated: equal."""
    views = {"segment": metrics.Filters(segment_id=segment),
             "segment+country": metrics.Filters(segment_id=segment, country="DE")}  # fmt: skip
    for fname, f in views.items():
        ms: dict[str, list[float]] = {"facts": [], "grouping": []}
        got: dict[str, Any] = {}
        for _ in range(rounds):
            for path in ms:
                original = repository.reads_for
                if path == "grouping":
                    repository.reads_for = lambda f, **k: repository.PLAYER_DAY_READS
                try:
                    async with db.read_session() as s:
                        t0 = time.perf_counter()
                        got[path] = await metrics.cohorts(
                            s, date(2026, 1, 1), date(2026, 11, 1), currency=None, filters=f,
                            fx=Fx("EUR"), max_span_days=366)  # fmt: skip
                        ms[path].append((time.perf_counter() - t0) * 1000)
                finally:
                    repository.reads_for = original
        assert got["facts"] == got["grouping"], fname
        assert got["facts"].cohorts, fname
        print(
            f"cohorts 11 months {fname:<16} facts {statistics.median(ms['facts']):7.1f} ms "
            f"p50 | grouping {statistics.median(ms['grouping']):8.1f} ms p50 (equal)"
        )
    for fname, f in views.items():
        await compare_segment_funnel(db, fname, f, rounds)


async def compare_segment_funnel(db: Database, fname: str, f: metrics.Filters, rounds: int) -> None:
    """The 90-day funnel by segment from analytics_segment_funnel and from counting the
    members' player rows (before), alternated: equal."""
    ms: dict[str, list[float]] = {"facts": [], "grouping": []}
    got: dict[str, Any] = {}
    for _ in range(rounds):
        for path in ms:
            original = repository.funnel_read
            if path == "grouping":
                repository.funnel_read = lambda f: (repository.FUNNEL, "p")
            try:
                async with db.read_session() as s:
                    t0 = time.perf_counter()
                    got[path] = await metrics.funnel(s, date(2026, 8, 1), date(2026, 10, 29),
                                                     filters=f, max_span_days=366)  # fmt: skip
                    ms[path].append((time.perf_counter() - t0) * 1000)
            finally:
                repository.funnel_read = original
    assert got["facts"] == got["grouping"] and got["facts"][0].players > 0, fname
    print(
        f"funnel 90 days    {fname:<16} facts {statistics.median(ms['facts']):7.1f} ms "
        f"p50 | grouping {statistics.median(ms['grouping']):8.1f} ms p50 (equal)"
    )


def _same_but_medians(a: metrics.Series, b: metrics.Series) -> float:
    names = ("median_seconds_to_first_deposit", "median_kyc_decision_seconds")
    worst = 0.0
    for p, q in zip(a.periods, b.periods, strict=True):
        for n in names:
            x, y = getattr(p, n), getattr(q, n)
            assert (x is None) == (y is None), (p.start, n)
            if y:
                worst = max(worst, abs(x - y) / abs(y))
        blank: dict[str, Any] = dict.fromkeys(names)
        assert replace(p, **blank) == replace(q, **blank), p.start
    assert worst <= MEDIAN_RELATIVE_ERROR, worst
    return worst


# --- the reads of branch analytics2, at scale, on the players alone --------------------
# The funnel and the duration histograms derive from analytics_players only, so a run at
# 1M players seeds that table (a minute, not the 15 of the whole seeding) and times each
# read before (per-player funnel; split_part over the combination values, with the index
# of 0028) and after (funnel facts; the generated dimension columns), alternated.

OLD_COMBO_INDEX = ("CREATE INDEX ix_bench_old_combos ON analytics_duration_buckets "
                   "(grain, dim, period) WHERE dim IN ('combo', 'segment_combo')")  # fmt: skip
OLD_COMBO_MEDIANS = repository.DURATION_COMBO_MEDIAN_BUCKETS.replace("{cond}", (
    " AND split_part(b.value, chr(31), 1) = :c_country"
    " AND split_part(b.value, chr(31), 2) = :c_traffic_source"))  # fmt: skip


async def player_reads(url: str, players: int, rounds: int) -> None:
    db = await fresh_database(url)
    t0 = time.perf_counter()
    async with db.transaction() as s:
        await s.execute(text("DROP INDEX ix_analytics_players_registered_on"))
        await s.execute(text(PLAYERS), {"n": players})
        await s.execute(text(repository.FUNNEL_FACTS_FROM_PLAYERS))
        for grain in ("d", "m"):
            await s.execute(text(DURATIONS.format(target="analytics_duration_buckets",
                                                  grain=grain, unit=_UNIT[grain])))  # fmt: skip
        await s.execute(text("CREATE INDEX ix_analytics_players_registered_on "
                             "ON analytics_players (registered_on)"))  # fmt: skip
        await s.execute(text(OLD_COMBO_INDEX))
    async with db.engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        await conn.execute(text("VACUUM ANALYZE"))
    print(f"seeded {players:,} players in {time.perf_counter() - t0:.0f} s", flush=True)
    funnel = {"lo": date(2026, 8, 1), "hi": date(2026, 10, 29)}
    combo = {"grain": "d", "lo": RANGES[Granularity.DAY][0], "hi": RANGES[Granularity.DAY][1]}
    de_organic = metrics.Filters(country="DE", traffic_source="organic")
    new_cond, new_params = repository.combo_filter_sql(dataclass_dict(de_organic))
    reads = {
        "funnel 90 days none": (
            (repository.FUNNEL, funnel, {}, "p"), (repository.FUNNEL_FACTS, funnel, {}, "f")),
        "funnel 90 days country": (
            (repository.FUNNEL, funnel, {"country": "DE"}, "p"),
            (repository.FUNNEL_FACTS, funnel, {"country": "DE"}, "f")),
        "day medians country+source": (
            (OLD_COMBO_MEDIANS, combo | {"dim": "combo", "c_country": "DE",
                                         "c_traffic_source": "organic"}, {}, "p"),
            (repository.DURATION_COMBO_MEDIAN_BUCKETS.replace("{cond}", new_cond),
             combo | new_params, {}, "p")),
    }  # fmt: skip
    for name, paths in reads.items():
        ms: list[list[float]] = [[], []]
        got: list[Any] = [None, None]
        for _ in range(rounds + 1):  # the first round warms the cache and is not counted
            for i, (sql, params, flt, dims) in enumerate(paths):
                async with db.read_session() as s:
                    t = time.perf_counter()
                    got[i] = await repository.fetch(s, sql, params, flt, dims=dims)
                    ms[i].append((time.perf_counter() - t) * 1000)
        key = (lambda r: sorted(map(str, r))) if "medians" in name else (lambda r: r)
        assert key(got[0]) == key(got[1]), (name, got)
        print(f"{name:<28} before {statistics.median(ms[0][1:]):7.1f} ms p50 "
              f"{max(ms[0][1:]):7.1f} max | after {statistics.median(ms[1][1:]):6.1f} ms p50 "
              f"{max(ms[1][1:]):6.1f} max | {len(got[1])} rows, equal", flush=True)  # fmt: skip
    await db.dispose()


def dataclass_dict(f: metrics.Filters) -> dict[str, Any]:
    return {k: getattr(f, k) for k in ("segment_id", "country", "traffic_source",
                                       "affiliate_code")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--no-warmup", action="store_true", help="count the first round too")
    parser.add_argument("--rebuild-events", type=int, default=0)
    parser.add_argument(
        "--compare-combined",
        action="store_true",
        help="combined filters, facts vs grouping, on the seeded database",
    )
    parser.add_argument(
        "--no-facts",
        action="store_true",
        help="a tree without analytics_period_facts (the baseline)",
    )
    parser.add_argument(
        "--cells", default="", help="only the cells whose name holds one of these (comma list)"
    )
    parser.add_argument(
        "--player-reads",
        action="store_true",
        help="seed the players alone; the funnel and combined medians before/after",
    )
    args = parser.parse_args()
    url = os.environ.get("PMS_BENCH_DATABASE_URL", DEFAULT_URL)
    if args.player_reads:
        asyncio.run(player_reads(url, args.players, args.rounds))
    elif args.compare_combined:
        asyncio.run(compare_combined(url, args.rounds))
    elif args.rebuild_events:
        asyncio.run(rebuild_slice(url, args.rebuild_events, not args.no_facts))
    else:
        only = [c.strip() for c in args.cells.split(",") if c.strip()]
        asyncio.run(queries(url, args.players, args.seconds, args.rounds, not args.no_warmup,
                            only))  # fmt: skip


if __name__ == "__main__":
    main()
