"""Requests whose cached revocation facts expired share one session-store look-up
(app/identity/revocation.py), and nothing shared or cached outlives a revocation: a
request after a logout here never gets facts looked up before it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.identity.auth import generation_key, revoked_session_key
from app.identity.revocation import RevocationCache
from app.identity.store import PostgresStore


class GatedStore:
    """The real PostgreSQL store, counting ``get_many`` calls; each waits at ``gate``
    before reading, so a test decides what is in flight when."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail_next = False

    async def get_many(self, keys: list[str]) -> list[object]:
        self.calls += 1
        fail, self.fail_next = self.fail_next, False
        await self.gate.wait()
        if fail:
            raise ConnectionError("store unreachable")
        return await self.store.get_many(keys)


@pytest.fixture
def keys() -> list[str]:
    session = uuid.uuid4().hex
    return [generation_key(f"player:{uuid.uuid4()}"), revoked_session_key(session)]


async def _started(tasks: list[asyncio.Task[list[object]]]) -> None:
    for _ in range(5):  # let every task reach its await
        await asyncio.sleep(0)
    assert not any(t.done() for t in tasks)


async def test_concurrent_misses_share_one_lookup(db, keys):
    store = GatedStore(PostgresStore(db))
    await store.store.put(keys[0], {"n": 3}, 60)
    cache = RevocationCache(ttl=30)
    tasks = [asyncio.create_task(cache.get_many(store, keys)) for _ in range(32)]
    await _started(tasks)
    store.gate.set()
    answers = await asyncio.gather(*tasks)

    assert store.calls == 1
    assert answers == [[{"n": 3}, None]] * 32
    assert await cache.get_many(store, keys) == [{"n": 3}, None]  # cached now
    assert store.calls == 1


async def test_no_sharing_without_a_cache(db, keys):
    store = GatedStore(PostgresStore(db))
    store.gate.set()
    cache = RevocationCache(ttl=0)
    await asyncio.gather(*(cache.get_many(store, keys) for _ in range(4)))
    assert store.calls == 4


async def test_a_request_after_an_eviction_never_gets_the_older_lookup(db, keys):
    store = GatedStore(PostgresStore(db))
    cache = RevocationCache(ttl=30)
    before = asyncio.create_task(cache.get_many(store, keys))  # in flight: not revoked yet
    await _started([before])
    # A logout here, as sessions.revoke_family does it: evict, then the store's fact.
    cache.evict(keys[1])
    await store.store.put(keys[1], {"revoked": 1}, 60)
    after = asyncio.create_task(cache.get_many(store, keys))
    await _started([after])
    store.gate.set()

    assert await after == [None, {"revoked": 1}]  # its own look-up, not the shared one
    assert store.calls == 2
    await before
    # The look-up that started before the logout was not cached over the newer facts.
    assert await cache.get_many(store, keys) == [None, {"revoked": 1}]
    assert store.calls == 2


async def test_a_lookup_started_before_an_eviction_is_not_cached(db, keys):
    store = GatedStore(PostgresStore(db))
    cache = RevocationCache(ttl=30)
    before = asyncio.create_task(cache.get_many(store, keys))
    await _started([before])
    cache.evict(keys[0])
    await store.store.put(keys[0], {"n": 1}, 60)
    store.gate.set()
    await before  # read after the put here, but it began before the eviction

    assert await cache.get_many(store, keys) == [{"n": 1}, None]
    assert store.calls == 2  # looked up again: nothing was cached by the older look-up


async def test_a_failed_shared_lookup_leaves_each_request_its_own(db, keys):
    store = GatedStore(PostgresStore(db))
    await store.store.put(keys[1], {"revoked": 1}, 60)
    cache = RevocationCache(ttl=30)
    store.fail_next = True
    leader = asyncio.create_task(cache.get_many(store, keys))
    await _started([leader])
    joiners = [asyncio.create_task(cache.get_many(store, keys)) for _ in range(3)]
    await _started(joiners)
    store.gate.set()

    with pytest.raises(ConnectionError):
        await leader
    assert await asyncio.gather(*joiners) == [[None, {"revoked": 1}]] * 3
    assert store.calls == 4  # the failed one, then one each


async def test_a_cancelled_leader_does_not_cancel_the_others(db, keys):
    store = GatedStore(PostgresStore(db))
    cache = RevocationCache(ttl=30)
    leader = asyncio.create_task(cache.get_many(store, keys))
    await _started([leader])
    joiner = asyncio.create_task(cache.get_many(store, keys))
    await _started([joiner])
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    store.gate.set()

    assert await joiner == [None, None]
    assert store.calls == 2


async def test_expired_facts_are_looked_up_again(db, keys):
    store = GatedStore(PostgresStore(db))
    store.gate.set()
    cache = RevocationCache(ttl=0.05)
    assert await cache.get_many(store, keys) == [None, None]
    await store.store.put(keys[1], {"revoked": 1}, 60)
    await asyncio.sleep(0.1)
    assert await cache.get_many(store, keys) == [None, {"revoked": 1}]
    assert store.calls == 2
