"""The funnel facts (analytics_funnel_facts): kept by the consumer as milestones come, in
any order, they give the same funnel as counting the players (the per-player statement),
for every range and filter, and equal the set-based derivation the bench and migration
0029 use."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from app.analytics import metrics, repository
from app.analytics.consumer import rebuild

START, END = date(2026, 9, 10), date(2026, 9, 19)  # the range most reads below use
COUNTRIES, SOURCES = ("DE", "AT", "FR"), ("ppc", "seo", None)
FILTERS = [
    metrics.Filters(),
    metrics.Filters(country="AT"),
    metrics.Filters(traffic_source="seo"),
    metrics.Filters(affiliate_code="aff1"),
    metrics.Filters(country="DE", traffic_source="ppc"),
    metrics.Filters(country="FR", traffic_source="seo", affiliate_code="aff1"),
    metrics.Filters(country="GB"),  # nobody
]
SPAN = {"max_span_days": 366}


def _event(type_: str, player: uuid.UUID, at: datetime, **data: object) -> dict[str, object]:
    return {"type": type_, "subject": str(player), "time": at,
            "data": json.dumps({"playerId": str(player), **data})}  # fmt: skip


def _player_events(i: int, rng: random.Random) -> list[dict[str, object]]:
    """A player registered around the range (its first and last second, the days just
    outside), with some of: KYC submitted / decided (rejected, verified, a second decision
    that must not count), deposits, bets (also before any deposit), in a shuffled order of
    their times; player 0 is never registered."""
    player = uuid.uuid4()
    edges = [
        datetime(2026, 9, 10, tzinfo=UTC),
        datetime(2026, 9, 19, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 9, 9, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 9, 20, tzinfo=UTC),
    ]
    reg = edges[i % 4] if i % 3 == 0 else datetime(2026, 9, 8, tzinfo=UTC) + timedelta(
        minutes=rng.randrange(0, 14 * 24 * 60))  # fmt: skip
    out = (
        []
        if i == 0
        else [
            _event(
                "player.registered",
                player,
                reg,
                country=COUNTRIES[i % 3],
                currency="EUR",
                trafficSource=SOURCES[i % 5 % 3],
                affiliateCode="aff1" if i % 4 == 0 else None,
            )
        ]
    )
    later = [reg + timedelta(minutes=rng.randrange(1, 20_000)) for _ in range(6)]
    if i % 5 != 1:
        out.append(_event("kyc.status_changed", player, later[0], confirmStatus="PENDING"))
    if i % 5 in (2, 3, 4) or i == 0:
        outcome = "REJECTED" if i % 7 == 0 else "VERIFIED"
        out.append(_event("kyc.status_changed", player, later[1], confirmStatus=outcome))
        if i % 11 == 0:  # a later decision changes nothing
            flipped = "VERIFIED" if outcome == "REJECTED" else "REJECTED"
            out.append(_event("kyc.status_changed", player, later[1] + timedelta(hours=1),
                              confirmStatus=flipped))  # fmt: skip
    if i % 3 != 2:  # no deposit for a third
        out += [_event("wallet.deposited", player, at, amount="10.00", currency="EUR")
                for at in later[2:2 + 1 + i % 2]]  # fmt: skip
    if i % 4 != 3:
        out += [_event("bet.settled", player, at, stake="1.00", win="0", currency="EUR")
                for at in later[4:4 + 1 + i % 2]]  # fmt: skip
    return out


async def _generate(db, players: int) -> None:
    rng = random.Random(14)
    events = [e for i in range(players) for e in _player_events(i, rng)]
    events.sort(key=lambda e: e["time"])
    rng.shuffle(events[len(events) // 2 :])  # the later half out of time order
    async with db.transaction() as s:
        for e in events:
            await s.execute(
                text("INSERT INTO outbox_events (event_id, type, source, subject, time, data, "
                     "published_at) VALUES (gen_random_uuid(), :type, 'test', :subject, :time, "
                     "CAST(:data AS jsonb), now())"),
                e,
            )  # fmt: skip


async def _per_player(db, lo: date, hi: date, flt: metrics.Filters) -> list[int]:
    async with db.read_session() as s:
        row = (await repository.fetch(s, repository.FUNNEL, {"lo": lo, "hi": hi},
                                      asdict(flt)))[0]  # fmt: skip
    return [int(row[n]) for n in metrics.FUNNEL_STEPS]


async def _funnel(db, lo: date, hi: date, flt: metrics.Filters) -> list[int]:
    async with db.read_session() as s:
        steps = await metrics.funnel(s, lo, hi, filters=flt, **SPAN)
    return [step.players for step in steps]


async def _rows(db, table: str = "analytics_funnel_facts") -> list[tuple]:
    async with db.read_session() as s:
        return [tuple(r) for r in (await s.execute(text(
            f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4"))).all()]  # fmt: skip


async def test_funnel_facts_equal_the_per_player_funnel(db, settings):
    await _generate(db, 240)
    await rebuild(db, settings)  # the consumer over every event, from the first

    ranges = [
        (START, END),
        (START, START),
        (END, END),
        (date(2026, 9, 9), date(2026, 9, 20)),
        (date(2026, 9, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), date(2026, 10, 31)),
    ]
    seen = set()
    for lo, hi in ranges:
        for flt in FILTERS:
            expected = await _per_player(db, lo, hi, flt)
            assert await _funnel(db, lo, hi, flt) == expected, (lo, hi, flt)
            seen.add(tuple(expected))
    whole = await _per_player(db, date(2026, 9, 1), date(2026, 9, 30), metrics.Filters())
    # every step is exercised: not everyone verified, deposited and bet
    assert whole[0] == 239 and whole[0] > whole[1] > whole[2] > whole[3] > 0, whole
    assert (0, 0, 0, 0) in seen  # the empty month and the nobody filter
    edge = await _per_player(db, START, START, metrics.Filters())
    assert edge[0] > 0  # players at the range's first second are in it

    kept = await _rows(db)
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM analytics_funnel_facts"))
        await s.execute(text(repository.FUNNEL_FACTS_FROM_PLAYERS))
    assert await _rows(db) == kept


async def test_segment_funnel_counts_its_current_members(db, settings):
    """A segment's funnel (its facts, set-based from the members inserted here, as the
    consumer keeps them) counts its current members."""
    await _generate(db, 60)
    await rebuild(db, settings)
    segment = uuid.uuid4()
    async with db.transaction() as s:
        await s.execute(
            text("INSERT INTO analytics_segment_members (segment_id, player_id) "
                 "SELECT :s, player_id FROM analytics_players WHERE country = 'DE'"),
            {"s": segment},
        )  # fmt: skip
        await repository.recompute_segment_facts(s, segment)
    lo, hi = date(2026, 9, 1), date(2026, 9, 30)
    by_segment = metrics.Filters(segment_id=segment)
    assert await _funnel(db, lo, hi, by_segment) == await _funnel(
        db, lo, hi, metrics.Filters(country="DE")
    )
    assert await _funnel(db, lo, hi, replace(by_segment, country="AT")) == [0, 0, 0, 0]
