"""The pre-aggregated facts (app/analytics/facts.py): the consumer and a rebuild keep the
same rows, and every series and cohort figure read from them equals the one grouped from
the player-days (the read a segment filter still uses)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.analytics import facts, metrics, repository
from app.analytics.consumer import consume_events, rebuild
from app.analytics.figures import MEDIAN_RELATIVE_ERROR, Fx, Granularity
from tests.integration.analytics.test_metrics import analytics_settings, traffic, world

__all__ = ["analytics_settings", "world"]  # fixtures of test_metrics, used here

FILTERS = [
    metrics.Filters(),
    metrics.Filters(country="DE"),
    metrics.Filters(traffic_source="facebook"),
    metrics.Filters(affiliate_code="aff1"),
    metrics.Filters(country="AT", traffic_source="google"),  # nobody
    metrics.Filters(country="DE", traffic_source="google"),  # alice, bob: combined medians
    metrics.Filters(country="DE", traffic_source="google", affiliate_code="aff1"),  # alice
]
SNAPSHOT = {
    "facts": "SELECT * FROM analytics_period_facts ORDER BY grain, period, currency, "
             "reg_month, country, traffic_source, affiliate_code",
    "periods": "SELECT * FROM analytics_player_periods "
               "ORDER BY grain, period, player_id, currency",
    "funnel": "SELECT * FROM analytics_funnel_facts "
              "ORDER BY registered_on, country, traffic_source, affiliate_code",
}  # fmt: skip


async def snapshot(db) -> dict[str, list[tuple]]:
    async with db.read_session() as s:
        return {k: [tuple(r) for r in (await s.execute(text(sql))).all()]
                for k, sql in SNAPSHOT.items()}  # fmt: skip


async def both_ways(db, monkeypatch, read, *args, **kwargs):
    """``read(session, ...)`` from the facts, then from the player-days."""
    async with db.read_session() as s:
        from_facts = await read(s, *args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(repository, "reads_for", lambda f, **k: repository.PLAYER_DAY_READS)
        async with db.read_session() as s:
            from_player_days = await read(s, *args, **kwargs)
    return from_facts, from_player_days


MEDIANS = ("median_seconds_to_first_deposit", "median_kyc_decision_seconds")


def close_medians(got: metrics.Series, exact: metrics.Series) -> metrics.Series:
    """``got`` with its medians (from the histograms) checked against the exact ones of
    ``exact`` to the documented precision, then replaced by them: the rest must be equal."""
    periods = []
    for p, q in zip(got.periods, exact.periods, strict=True):
        for name in MEDIANS:
            a, b = getattr(p, name), getattr(q, name)
            assert (a is None) == (b is None), (p.start, name)
            if b is not None:
                assert abs(a - b) <= MEDIAN_RELATIVE_ERROR * abs(b) + 0.001, (p.start, name)
        periods.append(replace(p, **{name: getattr(q, name) for name in MEDIANS}))
    return replace(got, periods=periods)


SPAN = {"max_span_days": 366}
SEP, OCT_END = date(2026, 9, 1), date(2026, 10, 31)


async def test_consumer_and_rebuild_keep_the_same_facts(world):
    await traffic(world)
    consumed = await snapshot(world.db)
    assert consumed["facts"] and consumed["periods"]

    await rebuild(world.db, world.settings)
    assert await snapshot(world.db) == consumed


@pytest.mark.parametrize("granularity", list(Granularity))
async def test_series_from_facts_equal_the_player_day_grouping(world, monkeypatch, granularity):
    await traffic(world)
    fx = Fx("EUR", {"USD": world.settings.analytics_fx_rates["USD"]})
    for flt in FILTERS:
        for currency in (None, "USD"):
            got, expected = await both_ways(
                world.db, monkeypatch, metrics.series, granularity, SEP, OCT_END,
                currency=currency, filters=flt, fx=fx, **SPAN,
            )  # fmt: skip
            assert close_medians(got, expected) == expected, (flt, currency)


async def test_cohorts_from_facts_equal_the_player_day_grouping(world, monkeypatch):
    await traffic(world)
    fx = Fx("EUR", {"USD": world.settings.analytics_fx_rates["USD"]})
    for flt in FILTERS:
        for currency in (None, "EUR", "USD"):
            got, expected = await both_ways(
                world.db, monkeypatch, metrics.cohorts, SEP, date(2026, 10, 1),
                currency=currency, filters=flt, fx=fx, today=date(2026, 11, 15), **SPAN,
            )  # fmt: skip
            assert got == expected, (flt, currency)
            assert flt.country != "AT" or got.cohorts == []  # AT + google: nobody


async def test_unfiltered_facts_hold_real_figures(world):
    await traffic(world)
    async with world.db.read_session() as session:
        s = await metrics.series(session, Granularity.MONTH, SEP, OCT_END, currency=None,
                                 filters=metrics.Filters(), fx=Fx("EUR"), **SPAN)  # fmt: skip
    september, october = s.periods
    assert (september.active, september.paying, september.registrations) == (2, 2, 3)
    assert (october.active, october.previous_active, october.churned) == (2, 2, 1)  # Bob left


async def test_retained_and_churn_stay_exact_when_activity_comes_out_of_order(db, monkeypatch):
    """Later activity applied first (a rebuild after a late event, a slow transaction): a
    player active in October, then found active in September too, is retained in October."""
    player = uuid.uuid4()
    async with db.transaction() as s:
        at = datetime(2026, 9, 2, 10, tzinfo=UTC)
        dims = {"country": "DE", "currency": "EUR", "source": "ppc", "affiliate": None}
        await repository.add_player(s, player, at, dims)
        await facts.add_registration(s, at.date(), player)
        for day in (date(2026, 10, 6), date(2026, 9, 28), date(2026, 10, 1), date(2026, 9, 29)):
            amounts = {"bets_count": 1, "stakes_minor": 100, "wins_minor": 40}
            new = await repository.add_player_day(s, day, player, "EUR", amounts)
            await facts.add_player_day(s, day, player, "EUR", amounts, new)
    for g in Granularity:
        got, expected = await both_ways(
            db, monkeypatch, metrics.series, g, SEP, OCT_END, currency=None,
            filters=metrics.Filters(traffic_source="ppc"), fx=Fx("EUR"), **SPAN,
        )  # fmt: skip
        assert close_medians(got, expected) == expected, g
    month = {p.start: p for p in got.periods}
    assert (month[date(2026, 10, 1)].previous_active, month[date(2026, 10, 1)].churned) == (1, 0)
    assert month[date(2026, 9, 1)].active_days == 2


async def test_histogram_medians_are_within_the_bound_of_the_exact_ones(db, monkeypatch):
    """Many players with spread-out times to first deposit and to KYC decision (seconds to
    weeks, some instant), through the consumer's own functions: every median of every
    grain and single-dimension filter is within the documented error of percentile_cont
    over the players, and the counts are equal."""
    base = datetime(2026, 9, 1, 0, 30, tzinfo=UTC)
    async with db.transaction() as s:
        for i in range(240):
            player, at = uuid.uuid4(), base + timedelta(hours=7 * i)
            dims = {"country": ("DE", "AT", "FR")[i % 3], "currency": "EUR",
                    "source": ("ppc", "seo", None)[i % 5 % 3],
                    "affiliate": "aff1" if i % 4 == 0 else None}  # fmt: skip
            await repository.add_player(s, player, at, dims)
            await facts.add_registration(s, at.date(), player)
            took = timedelta(seconds=(i * 7919) % 1_300_000) if i % 11 else timedelta(0)
            if i % 3:
                row = await repository.set_first_deposit(s, player, at + took)
                assert row is not None
                await facts.add_first_deposit(s, row, at + took)
                assert await repository.set_first_deposit(s, player, at + 2 * took) is None
            if i % 2:
                await repository.set_milestone(s, player, "kyc_submitted_at", at)
                decided = at + took / 3
                outcome = "REJECTED" if i % 3 == 0 else "VERIFIED"
                row = await repository.set_kyc_decision(s, player, outcome, decided)
                assert row is not None
                await facts.add_kyc_decision(s, row, decided)
    flts = [
        metrics.Filters(),
        metrics.Filters(country="AT"),
        metrics.Filters(traffic_source="seo"),
        metrics.Filters(affiliate_code="aff1"),
    ]
    medians = 0
    for g in Granularity:
        for flt in flts:
            got, expected = await both_ways(
                db, monkeypatch, metrics.series, g, SEP, date(2026, 11, 30), currency=None,
                filters=flt, fx=Fx("EUR"), **SPAN,
            )  # fmt: skip
            assert close_medians(got, expected) == expected, (g, flt)
            medians += sum(getattr(p, n) is not None for p in got.periods for n in MEDIANS)
    assert medians > 300


MEMBERS = "mutation($s: ID!, $p: [ID!]!) {{ {op}StaticSegmentMembers(id: $s, playerIds: $p) {{ " \
          "__typename }} }}"  # fmt: skip


# the segment alone, and with player-dimension filters (segment facts by dimension,
# medians from the 'segment_combo' histograms)
SEGMENT_WITH = [{}, {"country": "DE"}, {"traffic_source": "google"},
                {"country": "DE", "traffic_source": "facebook"}, {"country": "AT"}]  # fmt: skip


async def segment_figures_agree(w, monkeypatch, segment: str) -> list[metrics.Series]:
    """Every series by the segment (alone and with other filters), from its facts and from
    its members' player-days; the segment-alone ones are returned."""
    fx = Fx("EUR", {"USD": w.settings.analytics_fx_rates["USD"]})
    out = []
    for g in Granularity:
        for currency in (None, "USD"):
            for other in SEGMENT_WITH:
                flt = metrics.Filters(segment_id=uuid.UUID(segment), **other)
                got, expected = await both_ways(
                    w.db, monkeypatch, metrics.series, g, SEP, OCT_END, currency=currency,
                    filters=flt, fx=fx, **SPAN,
                )  # fmt: skip
                assert close_medians(got, expected) == expected, (g, currency, other)
                if not other:
                    out.append(got)
    return out


SEGMENT_KEY = {"segment_id", "grain", "period", "currency", "country", "traffic_source",
               "affiliate_code"}  # fmt: skip


async def segment_rows(db, segment: str) -> list[tuple]:
    """The segment's facts rows with anything in them (keyed by the members' dimensions),
    and its duration buckets (alone and per combination)."""
    async with db.read_session() as s:
        facts_rows = (await s.execute(text(
            "SELECT * FROM analytics_segment_facts WHERE segment_id = :s "
            "ORDER BY grain, period, currency, country, traffic_source, affiliate_code"
        ), {"s": segment})).mappings().all()  # fmt: skip
        buckets = (await s.execute(text(
            "SELECT * FROM analytics_duration_buckets WHERE dim IN ('segment_id', "
            "'segment_combo') AND split_part(value, chr(31), 1) = :s "
            "AND count <> 0 ORDER BY dim, value, period, metric, bucket, grain"), {"s": segment})
        ).all()  # fmt: skip
    kept = [tuple(r.values()) for r in facts_rows
            if any(v for k, v in r.items() if k not in SEGMENT_KEY)]  # fmt: skip
    return kept + [tuple(r) for r in buckets]


async def segment_dims(db, segment: str) -> set[tuple[str, str, str]]:
    """The members' dimensions the segment's facts hold something under."""
    async with db.read_session() as s:
        rows = await s.execute(
            text(
                "SELECT DISTINCT country, traffic_source, affiliate_code "
                "FROM analytics_segment_facts "
                "WHERE segment_id = :s AND (registrations <> 0 OR player_days <> 0)"
            ),
            {"s": segment},
        )
    return {tuple(r) for r in rows}


async def test_segment_facts_move_with_members_and_equal_the_grouping(world, monkeypatch):
    """Members enter with their history (registration, KYC, deposits, bets), play while
    members, and one leaves: at every step the series by segment from the segment's facts
    equal those grouped from the members' player-days (medians to the documented
    precision), and a rebuild and a set-based recompute give the same segment facts."""
    players = await traffic(world)
    marketer = await world.auth.staff_headers("MARKETER")
    body = await world.gql(
        "mutation($n: String!) { createSegment(input: {name: $n, kind: STATIC}) { "
        "... on SegmentSuccess { segment { id } } } }", {"n": "moving"}, **marketer,
    )  # fmt: skip
    segment = body["data"]["createSegment"]["segment"]["id"]

    async def members(op: str, *names: str) -> None:
        ids = [players[n] for n in names]
        r = await world.gql(MEMBERS.format(op=op), {"s": segment, "p": ids}, **marketer)
        assert r["data"][f"{op}StaticSegmentMembers"]["__typename"] == "SegmentSuccess"
        assert await consume_events(world.db, world.settings) > 0

    await members("add", "alice", "bob", "dave")
    assert await segment_dims(world.db, segment) == {
        ("DE", "google", "aff1"),
        ("DE", "google", ""),
        ("DE", "facebook", ""),
    }
    entered = await segment_figures_agree(world, monkeypatch, segment)
    month = {p.start: p for p in entered[4].periods}[SEP]
    assert (month.registrations, month.first_deposits, month.kyc_decisions) == (2, 2, 1)
    assert month.active == 2 and month.median_seconds_to_first_deposit is not None

    await world.at("2026-10-06 12:00")
    await world.bet(players["alice"], "3.00", "1.00")  # while a member
    await world.deposit(players["carol"], "7.00")  # not a member
    assert await consume_events(world.db, world.settings) > 0
    await segment_figures_agree(world, monkeypatch, segment)

    await members("remove", "bob")
    left = await segment_figures_agree(world, monkeypatch, segment)
    month = {p.start: p for p in left[4].periods}[SEP]
    assert (month.registrations, month.first_deposits, month.active) == (1, 1, 1)  # alice
    assert await segment_dims(world.db, segment) == {
        ("DE", "google", "aff1"),
        ("DE", "facebook", ""),
    }  # bob left
    kept = await segment_rows(world.db, segment)

    async with world.db.transaction() as s:
        await repository.recompute_segment_facts(s, uuid.UUID(segment))
    assert await segment_rows(world.db, segment) == kept
    await rebuild(world.db, world.settings)
    assert await segment_rows(world.db, segment) == kept
    assert await segment_figures_agree(world, monkeypatch, segment) == left
