"""The outbox relay: at least once, in order per subject, with several relays at once."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest
from sqlalchemy import func, select, text

from app.events.models import OutboxEvent
from app.events.relay import CallableSink, Relay, deliverable
from tests.realtime.conftest import record_event


def test_deliverable_keeps_only_each_subjects_oldest_pending_run():
    claimed = [(1, "a"), (3, "a"), (4, "b"), (5, None), (6, "c")]
    pending = [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (0, "c"), (6, "c")]
    # a: 1 yes, 3 no (2 is pending elsewhere); b: 4; c: 6 waits for 0; 5 has no subject
    assert deliverable(claimed, pending) == [1, 4, 5]


@pytest.mark.race
async def test_concurrent_relays_deliver_everything_once_in_subject_order(db):
    subjects = [f"player-{i}" for i in range(8)]
    for n in range(240):
        await record_event(db, "test.seq", random.choice(subjects), {"n": n})

    seen: list[tuple[str, int]] = []

    async def collect(session, envelopes):
        await asyncio.sleep(random.uniform(0, 0.01))
        seen.extend((e["subject"], e["data"]["n"]) for e in envelopes)

    relays = [Relay(db, [CallableSink("collect", collect)], batch_size=7) for _ in range(4)]

    async def drain(relay):
        for _ in range(200):
            await relay.run()
            async with db.read_session() as s:
                left = await s.scalar(
                    select(func.count()).where(OutboxEvent.published_at.is_(None))
                )
            if not left:
                return
            await asyncio.sleep(0.005)

    await asyncio.gather(*(drain(r) for r in relays))

    assert sorted(n for _, n in seen) == list(range(240))  # each exactly once here
    per_subject = defaultdict(list)
    for subject, n in seen:
        per_subject[subject].append(n)
    for ns in per_subject.values():
        assert ns == sorted(ns)
    assert sum(r.delivered for r in relays) == 240
    assert sum(1 for r in relays if r.delivered) > 1  # the work really was shared


async def test_a_relay_delivers_the_rows_it_left_behind_another_relays_once_those_are_out(db):
    """Another relay holds a subject's older row: this one leaves the later row (order per
    subject) and, with nothing to wake it again, tries again until it can deliver it."""
    for n in (1, 2):
        await record_event(db, "test.seq", "player-1", {"n": n})
    out: list[int] = []

    async def collect(session, envelopes):
        out.extend(e["data"]["n"] for e in envelopes)

    relay = Relay(db, [CallableSink("collect", collect)], defer_seconds=30)
    async with asyncio.timeout(20), db.engine.connect() as other:
        # The other relay: claims the older row and holds it while "delivering" it.
        other_tx = await other.begin()
        older = await other.scalar(text(
            "SELECT id FROM outbox_events WHERE published_at IS NULL ORDER BY id LIMIT 1"
            " FOR UPDATE"))  # fmt: skip
        running = asyncio.create_task(relay.run())
        while relay.deferrals == 0:  # noqa: ASYNC110  (a counter, not an event)
            await asyncio.sleep(0.01)
        assert not running.done() and out == []  # the later row waits, nothing overtook
        await other.execute(text("UPDATE outbox_events SET published_at = now() WHERE id = :i"),
                            {"i": older})  # fmt: skip
        await other_tx.commit()
        assert await running == 1
    assert out == [2]
    async with db.read_session() as s:
        assert await s.scalar(select(func.count()).where(OutboxEvent.published_at.is_(None))) == 0


async def test_failed_sink_leaves_events_pending_and_they_go_out_later(db):
    await record_event(db, "test.x", "s", {"n": 1})
    fail = True
    out: list[int] = []

    async def flaky(session, envelopes):
        if fail:
            raise ConnectionError("down")
        out.extend(e["data"]["n"] for e in envelopes)

    relay = Relay(db, [CallableSink("flaky", flaky)])
    assert await relay.run() == 0
    fail = False
    relay._retry_at = 0
    assert await relay.run() == 1
    assert out == [1]
