"""The cohort table of a segment (analytics_segment_cohorts): kept by the consumer as
members enter, play, leave and re-enter, by a set-based recompute, a rebuild and
migration 0031's backfill, and every cohort table by segment read from it equals the one
grouped from the members' player-days."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import text

from app.analytics import metrics, repository
from app.analytics.consumer import consume_events, rebuild
from app.analytics.figures import Fx
from app.core import migrations
from app.core.db import Database
from tests.integration.analytics.test_facts import MEMBERS, SPAN, both_ways
from tests.integration.analytics.test_metrics import (
    COHORTS,
    analytics_settings,
    traffic,
    world,
)
from tests.integration.test_migrations import scratch_url

__all__ = ["analytics_settings", "scratch_url", "world"]  # fixtures used here

# the segment alone and with each player-dimension filter (nobody for AT + the segment)
WITH = [{}, {"country": "DE"}, {"traffic_source": "google"}, {"affiliate_code": "aff1"},
        {"country": "DE", "traffic_source": "facebook"}, {"country": "AT"}]  # fmt: skip
RANGES = [(date(2026, 9, 1), date(2026, 10, 1)), (date(2026, 8, 1), date(2026, 11, 1)),
          (date(2026, 10, 1), date(2026, 10, 1))]  # fmt: skip
TODAY = date(2026, 11, 15)
SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)
KEY = {"segment_id", "reg_month", "period", "currency", "country", "traffic_source",
       "affiliate_code"}  # fmt: skip


async def cohorts_agree(w, monkeypatch, *segments: str) -> dict[str, metrics.CohortTable]:
    """Every cohort table by each segment (alone and with other filters, in each currency
    and the reporting one, over several month ranges) from the cohort facts equals the one
    grouped from the members' player-days; the segment-alone September-October tables."""
    fx = Fx("EUR", {"USD": w.settings.analytics_fx_rates["USD"]})
    out = {}
    for segment in segments:
        for lo, hi in RANGES:
            for currency in (None, "EUR", "USD"):
                for other in WITH:
                    flt = metrics.Filters(segment_id=uuid.UUID(segment), **other)
                    got, expected = await both_ways(
                        w.db, monkeypatch, metrics.cohorts, lo, hi, currency=currency,
                        filters=flt, fx=fx, today=TODAY, **SPAN,
                    )  # fmt: skip
                    assert got == expected, (segment, lo, currency, other)
                    if not other and currency is None and lo == RANGES[0][0]:
                        out[segment] = got
        await funnels_agree(w, monkeypatch, segment)
    return out


FUNNEL_DAYS = [(date(2026, 9, 1), date(2026, 10, 31)), (date(2026, 9, 7), date(2026, 9, 7)),
               (date(2026, 10, 1), date(2026, 10, 31))]  # fmt: skip


async def funnels_agree(w, monkeypatch, segment: str) -> None:
    """The funnel by the segment (alone and with other filters) from its funnel facts
    equals the count of its current members' player rows."""
    for lo, hi in FUNNEL_DAYS:
        for other in WITH:
            flt = metrics.Filters(segment_id=uuid.UUID(segment), **other)
            async with w.db.read_session() as s:
                got = await metrics.funnel(s, lo, hi, filters=flt, **SPAN)
            with monkeypatch.context() as m:
                m.setattr(repository, "funnel_read", lambda f: (repository.FUNNEL, "p"))
                async with w.db.read_session() as s:
                    expected = await metrics.funnel(s, lo, hi, filters=flt, **SPAN)
            assert got == expected, (segment, lo, other)


async def steps(w, segment: str) -> list[int]:
    """The segment's funnel over September and October: players per step."""
    async with w.db.read_session() as s:
        funnel = await metrics.funnel(s, *FUNNEL_DAYS[0],
                                      filters=metrics.Filters(segment_id=uuid.UUID(segment)),
                                      **SPAN)  # fmt: skip
    return [step.players for step in funnel]


def shape(table: metrics.CohortTable) -> list[tuple]:
    """(month, players, [(months since, active, NGR)]) per cohort."""
    return [(c.month, c.players, [(x.months_since, x.active, x.ngr) for x in c.cells])
            for c in table.cohorts]  # fmt: skip


async def cohort_rows(db, segment: str) -> list[tuple]:
    """The segment's cohort rows with anything in them, then its funnel rows."""
    async with db.read_session() as s:
        rows = (await s.execute(text(
            "SELECT * FROM analytics_segment_cohorts WHERE segment_id = :s ORDER BY reg_month, "
            "period, currency, country, traffic_source, affiliate_code"), {"s": segment})
        ).mappings().all()  # fmt: skip
        funnel = (await s.execute(text(
            "SELECT * FROM analytics_segment_funnel WHERE segment_id = :s AND (registered, "
            "kyc_verified, first_deposit, first_bet) <> (0, 0, 0, 0) ORDER BY registered_on, "
            "country, traffic_source, affiliate_code"), {"s": segment})).all()  # fmt: skip
    kept = [tuple(r.values()) for r in rows if any(v for k, v in r.items() if k not in KEY)]
    return kept + [tuple(r) for r in funnel]


MIGRATIONS = ("0031_segment_cohorts", "0032_segment_funnel")


def migration_backfills() -> list[str]:
    out = []
    for name in MIGRATIONS:
        path = Path(__file__).parents[3] / "alembic" / "versions" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out.append(str(module.BACKFILL))
    return out


async def new_segment(w, name: str) -> str:
    body = await w.gql(
        "mutation($n: String!) { createSegment(input: {name: $n, kind: STATIC}) { "
        "... on SegmentSuccess { segment { id } } } }", {"n": name},
        **await w.auth.staff_headers("MARKETER"),
    )  # fmt: skip
    return str(body["data"]["createSegment"]["segment"]["id"])


async def test_segment_cohorts_move_with_members_and_equal_the_grouping(world, monkeypatch):
    players = await traffic(world)
    marketer = await world.auth.staff_headers("MARKETER")

    async def members(segment: str, op: str, *names: str) -> None:
        ids = [players[n] for n in names]
        r = await world.gql(MEMBERS.format(op=op), {"s": segment, "p": ids}, **marketer)
        assert r["data"][f"{op}StaticSegmentMembers"]["__typename"] == "SegmentSuccess"
        assert await consume_events(world.db, world.settings) > 0

    a, b = await new_segment(world, "alice bob dave"), await new_segment(world, "carol dave")
    assert shape((await cohorts_agree(world, monkeypatch, a))[a]) == []  # no members yet

    await members(a, "add", "alice", "bob", "dave")
    await members(b, "add", "carol", "dave")
    entered = await cohorts_agree(world, monkeypatch, a, b)
    assert shape(entered[a]) == [
        (SEP, 2, [(0, 2, 1100), (1, 1, 500), (2, 0, 0)]),  # alice, bob; in October alice
        (OCT, 1, [(0, 1, 400), (1, 0, 0)]),  # dave (USD, converted)
    ]
    assert await steps(world, a) == [3, 1, 1, 1]  # alice verified, deposited and bet
    assert await steps(world, b) == [2, 0, 0, 0]  # carol was rejected
    assert shape(entered[b]) == [(SEP, 1, [(0, 0, 0), (1, 0, 0), (2, 0, 0)]),  # carol
                                 (OCT, 1, [(0, 1, 400), (1, 0, 0)])]  # fmt: skip

    await world.bet(players["alice"], "3.00", "1.00")  # while a member of a
    await world.deposit(players["carol"], "10.00")  # of b
    await world.bet(players["carol"], "4.00", "0")
    await world.deposit(players["dave"], "7.00", "USD")  # of both
    await world.at("2026-10-06 12:00")
    assert await consume_events(world.db, world.settings) > 0
    played = await cohorts_agree(world, monkeypatch, a, b)
    assert shape(played[a])[0][2][1] == (1, 1, 700)  # alice's October: + 2.00
    assert shape(played[b])[0][2][1] == (1, 1, 400)  # carol active in October now

    await members(a, "remove", "bob")
    left = await cohorts_agree(world, monkeypatch, a, b)
    assert shape(left[a])[0] == (SEP, 1, [(0, 1, 600), (1, 1, 700), (2, 0, 0)])  # alice
    assert shape(left[b]) == shape(played[b])  # the other segment unmoved
    assert await steps(world, a) == [2, 1, 1, 1]

    await members(a, "add", "bob")  # re-joins with the same history
    rejoined = await cohorts_agree(world, monkeypatch, a, b)
    assert shape(rejoined[a]) == shape(played[a])
    await members(a, "remove", "alice")
    await cohorts_agree(world, monkeypatch, a, b)

    assert await steps(world, a) == [2, 0, 0, 0]  # bob and dave
    kept = {s: await cohort_rows(world.db, s) for s in (a, b)}
    assert all(kept.values())
    async with world.db.transaction() as s:
        for seg in (a, b):
            await repository.recompute_segment_facts(s, uuid.UUID(seg))
    assert {s: await cohort_rows(world.db, s) for s in (a, b)} == kept
    async with world.db.transaction() as s:
        for table, backfill in zip(("analytics_segment_cohorts", "analytics_segment_funnel"),
                                   migration_backfills(), strict=True):  # fmt: skip
            await s.execute(text(f"DELETE FROM {table}"))
            await s.execute(text(backfill))
    assert {s: await cohort_rows(world.db, s) for s in (a, b)} == kept
    await rebuild(world.db, world.settings)
    assert {s: await cohort_rows(world.db, s) for s in (a, b)} == kept
    await cohorts_agree(world, monkeypatch, a, b)


async def test_cohorts_by_segment_bad_input_is_typed_and_writes_nothing(world):
    await traffic(world)
    segment = await new_segment(world, "empty")
    months = {"fromMonth": "2026-09-01", "toMonth": "2026-10-01"}
    cases = [
        ({"segmentId": str(uuid.uuid4())}, "segmentId"),  # no such segment
        ({"segmentId": "42; DROP"}, "segmentId"),
        ({"segmentId": segment, "country": "de"}, "country"),
        ({"segmentId": segment, "trafficSource": "a b"}, "trafficSource"),
    ]
    async with world.db.read_session() as s:
        before = (await s.execute(text("SELECT count(*) FROM analytics_segment_cohorts"))
                  ).scalar()  # fmt: skip
    for flt, field in cases:
        result = await world.query(COHORTS, {**months, "filter": flt})
        assert (result["__typename"], result["field"]) == ("ValidationError", field), flt
    async with world.db.read_session() as s:
        after = (await s.execute(text("SELECT count(*) FROM analytics_segment_cohorts"))
                 ).scalar()  # fmt: skip
    assert after == before


# Two players (one registered in August with days in August and September, in EUR and
# USD; one registered in September), members of two segments, before migration 0031.
BEFORE_0031 = (
    "INSERT INTO analytics_players (player_id, registered_at, registered_on, country, "
    "currency, traffic_source) VALUES "
    "('00000000-0000-0000-0000-00000000000a', '2026-08-30 10:00Z', '2026-08-30', 'DE', "
    "'EUR', 'google'), "
    "('00000000-0000-0000-0000-00000000000b', '2026-09-02 10:00Z', '2026-09-02', 'AT', "
    "'EUR', NULL)",
    "INSERT INTO analytics_player_days (day, player_id, currency, bets_count, stakes_minor, "
    "wins_minor, bonus_cost_minor, deposits_count, deposits_minor) VALUES "
    "('2026-08-30', '00000000-0000-0000-0000-00000000000a', 'EUR', 2, 1000, 300, 0, 1, 5000), "
    "('2026-09-03', '00000000-0000-0000-0000-00000000000a', 'EUR', 1, 500, 0, 100, 0, 0), "
    "('2026-09-04', '00000000-0000-0000-0000-00000000000a', 'USD', 0, 0, 0, 0, 1, 2000), "
    "('2026-09-04', '00000000-0000-0000-0000-00000000000b', 'EUR', 3, 900, 900, 0, 0, 0)",
    "INSERT INTO analytics_segment_members (segment_id, player_id) VALUES "
    "('00000000-0000-0000-0000-000000000051', '00000000-0000-0000-0000-00000000000a'), "
    "('00000000-0000-0000-0000-000000000051', '00000000-0000-0000-0000-00000000000b'), "
    "('00000000-0000-0000-0000-000000000052', '00000000-0000-0000-0000-00000000000b')",
)
S1, S2 = "00000000-0000-0000-0000-000000000051", "00000000-0000-0000-0000-000000000052"


async def test_migrations_0031_0032_fill_segment_cohorts_and_funnel_of_a_database(scratch_url):
    """Upgrading a database with rollups fills the cohort and funnel facts of its segments
    as the consumer keeps them
    (the set-based recompute of each segment gives the same rows): no rebuild needed."""
    await asyncio.to_thread(migrations.upgrade, scratch_url, "0030_analytics_funnel")
    db = Database(scratch_url)
    try:
        async with db.transaction() as s:
            for sql in BEFORE_0031:
                await s.execute(text(sql))
        await asyncio.to_thread(migrations.upgrade, scratch_url)
        migrated = {seg: await cohort_rows(db, seg) for seg in (S1, S2)}
        async with db.transaction() as s:
            for seg in (S1, S2):
                await repository.recompute_segment_facts(s, uuid.UUID(seg))
        assert {seg: await cohort_rows(db, seg) for seg in (S1, S2)} == migrated
        aug, sep = date(2026, 8, 1), date(2026, 9, 1)
        # segment 1, player a's August cohort: (period, currency, registrations, active,
        # stakes, wins, bonus cost, player-days)
        assert [(r[2], r[3], *r[7:]) for r in migrated[S1] if r[1] == aug] == [
            (aug, "", 1, 1, 0, 0, 0, 0),
            (aug, "EUR", 0, 1, 1000, 300, 0, 1),
            (sep, "", 0, 1, 0, 0, 0, 0),
            (sep, "EUR", 0, 1, 500, 0, 100, 1),
            (sep, "USD", 0, 0, 0, 0, 0, 1),
        ]
        assert [(r[1], r[2], r[3], r[4], *r[7:]) for r in migrated[S2][:2]] == [
            (sep, sep, "", "AT", 1, 1, 0, 0, 0, 0),
            (sep, sep, "EUR", "AT", 0, 1, 900, 900, 0, 1),
        ]
        # the funnel rows: b registered on Sep 2 (no KYC: the first step only)
        assert migrated[S2][2:] == [
            (uuid.UUID(S2), date(2026, 9, 2), "AT", "", "", 1, 0, 0, 0),
        ]
    finally:
        await db.dispose()
