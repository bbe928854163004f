"""The events runtime knows no domain: the cache it keeps fresh is registered by the
composition root (``pms.hooks``), and without one every read goes to the loader."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from app.events import outbox
from app.events.runtime import EventsRuntime, NoCache, register_subject_cache
from app.players.cache import PlayerCache
from pms.hooks import register_all, register_events


class RecordingCache:
    """A subject cache that remembers what it was told to forget."""

    def __init__(self) -> None:
        self.invalidated: list[set[str]] = []
        self.closed = False

    @property
    def enabled(self) -> bool:
        return True

    async def invalidate(self, subjects: Iterable[str]) -> None:
        self.invalidated.append(set(subjects))

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def restore_hooks() -> Iterator[None]:
    yield
    # The other tests expect the composition root's wiring (register_all may run once only).
    register_events()


def test_register_all_gives_the_runtime_the_player_cache(db, settings, restore_hooks):
    register_all()
    register_all()  # idempotent
    assert isinstance(EventsRuntime(db, settings).cache, PlayerCache)


async def test_without_a_registered_cache_reads_go_to_the_loader(db, settings, restore_hooks):
    register_subject_cache(None)
    runtime = EventsRuntime(db, settings)
    assert isinstance(runtime.cache, NoCache)

    async def load() -> str:
        return "from postgres"

    assert await runtime.cache.get("player-1", load) == "from postgres"


async def test_the_registered_cache_forgets_a_subject_after_commit_and_on_relay(
    db, settings, restore_hooks
):
    cache = RecordingCache()
    register_subject_cache(lambda s: cache)
    runtime = EventsRuntime(db, settings)
    await runtime.start()
    try:
        async with db.transaction() as session:
            await outbox.record(session, "test.changed", "player-7", {"n": 1})
        assert cache.invalidated == [{"player-7"}]  # after commit, before we answer

        async with db.transaction() as session:
            await outbox.record(session, "test.changed", "player-8", {"n": 2})
        await runtime.relay.run()  # the relay's cache sink is the backstop
        assert {"player-8"} in cache.invalidated[1:]
        assert {"player-7", "player-8"} <= set().union(*cache.invalidated[1:])
    finally:
        await runtime.stop()
    assert cache.closed
    assert cache.invalidate not in db.after_commit  # the hook is removed on stop
