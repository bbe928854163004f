"""The in-process fan-out over broadcaster: every subscriber gets every event, with and
without Redis; a subscriber that cannot keep up is dropped, the others are unaffected."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.events.hub import EventHub, SlowConsumer

SUBSCRIBERS = 1000
EVENTS = 20


@pytest.fixture(params=["memory", "redis"])
async def hub(request):
    redis_url = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
    hub = EventHub.from_settings(redis_url, f"pms.test.hub.{uuid.uuid4().hex}", queue_size=64)
    await hub.start()
    yield hub
    await hub.stop()


async def test_a_thousand_concurrent_subscribers_each_receive_every_event(hub):
    ready = asyncio.Barrier(SUBSCRIBERS + 1)
    subject = str(uuid.uuid4())

    async def subscriber() -> list[str]:
        got: list[str] = []
        async with hub.subscribe(subject) as sub:
            await ready.wait()
            while len(got) < EVENTS:
                got.append((await asyncio.wait_for(sub.get(), 20))["id"])
        return got

    tasks = [asyncio.create_task(subscriber()) for _ in range(SUBSCRIBERS)]
    await ready.wait()
    assert hub.subscriber_count == SUBSCRIBERS
    sent = [str(i) for i in range(EVENTS)]
    for event_id in sent:
        await hub.publish({"id": event_id, "type": "t", "subject": subject})
    results = await asyncio.gather(*tasks)
    assert all(r == sent for r in results)
    assert hub.subscriber_count == 0


async def test_slow_consumer_is_dropped_without_affecting_others(hub):
    subject = str(uuid.uuid4())
    overflowed = asyncio.Event()
    async with (
        hub.subscribe(subject, on_overflow=overflowed.set) as slow,
        hub.subscribe(subject) as fast,
    ):
        received = []
        for i in range(hub.queue_size + 10):
            await hub.publish({"id": str(i), "type": "t", "subject": subject})
            received.append((await asyncio.wait_for(fast.get(), 10))["id"])
        await asyncio.wait_for(overflowed.wait(), 5)
        assert received == [str(i) for i in range(hub.queue_size + 10)]
        assert slow.overflowed and slow.queue.qsize() == hub.queue_size  # bounded
        with pytest.raises(SlowConsumer):
            await slow.get()
        assert hub.subscriber_count == 1


async def test_type_filter_and_all_subjects(hub):
    async with hub.subscribe(None, frozenset({"b"})) as feed:
        await hub.publish({"id": "1", "type": "a", "subject": "x"})
        await hub.publish({"id": "2", "type": "b", "subject": "y"})
        assert (await asyncio.wait_for(feed.get(), 10))["id"] == "2"
