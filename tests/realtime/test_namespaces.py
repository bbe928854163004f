"""Two deployments on one Redis (pub/sub ignores the db number) stay apart: the events
channel and every key start with PMS_REDIS_KEY_PREFIX; replicas of one deployment still
share their events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from app.core.db import Database
from app.core.settings import Settings
from app.events.runtime import EventsRuntime
from tests.realtime.conftest import realtime_settings


@pytest.fixture
async def runtimes(
    settings: Settings, db: Database, redis_url: str
) -> AsyncIterator[tuple[EventsRuntime, EventsRuntime, EventsRuntime]]:
    """Deployment A (two replicas) and deployment B: same Redis, same PMS_EVENTS_CHANNEL."""
    run = uuid.uuid4().hex[:8]
    a = realtime_settings(settings, redis_url=redis_url, redis_key_prefix=f"pms-a-{run}:")
    b = realtime_settings(settings, redis_url=redis_url, redis_key_prefix=f"pms-b-{run}:")
    a = a.model_copy(update={"events_channel": "events"})
    b = b.model_copy(update={"events_channel": "events"})
    started = [EventsRuntime(db, a), EventsRuntime(db, a), EventsRuntime(db, b)]
    for runtime in started:
        await runtime.start()
    yield started[0], started[1], started[2]
    for runtime in started:
        await runtime.stop()


async def test_events_reach_own_replicas_only(
    runtimes: tuple[EventsRuntime, EventsRuntime, EventsRuntime],
) -> None:
    a1, a2, b = runtimes
    assert a1.hub.channel == a1.settings.redis_key_prefix + "events" != b.hub.channel
    async with a2.hub.subscribe() as replica, b.hub.subscribe() as other:
        await a1.hub.publish({"id": "e-a", "type": "player.registered", "subject": "p"})
        await b.hub.publish({"id": "e-b", "type": "player.registered", "subject": "p"})
        assert (await asyncio.wait_for(replica.get(), 5))["id"] == "e-a"
        assert (await asyncio.wait_for(other.get(), 5))["id"] == "e-b"
        await asyncio.sleep(0.3)  # anything crossing over would have arrived by now
        assert replica.queue.empty() and other.queue.empty()


async def test_cache_keys_carry_the_deployment_prefix(
    runtimes: tuple[EventsRuntime, EventsRuntime, EventsRuntime], redis_url: str
) -> None:
    a1, _, b = runtimes
    player = str(uuid.uuid4())
    await a1.cache.invalidate([player])
    redis = aioredis.Redis.from_url(redis_url)
    try:
        keys_a = await redis.keys(f"{a1.settings.redis_key_prefix}*")
        keys_b = await redis.keys(f"{b.settings.redis_key_prefix}*")
        assert [k.decode() for k in keys_a] == [
            f"{a1.settings.redis_key_prefix}player:gen:{player}"
        ]
        assert keys_b == []
        await redis.delete(*keys_a)
    finally:
        await redis.aclose()
