"""What the realtime side of one process holds: the subscription hub, the outbox relay
with its sinks (bus, hub, webhooks, cache), the webhook dispatcher and the subject cache.
Built and started by the app lifespan (or ``pms worker``).

Events is infrastructure that domains publish into, so it knows no domain: the cache it
keeps fresh (the players' profile cache) is registered by the composition root with
``register_subject_cache``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.settings import Settings
from app.core.tasks import PeriodicTask
from app.events.bus import EventBus
from app.events.delivery import WebhookDispatcher
from app.events.fanout import SharedFrames
from app.events.gc_settle import GcSettle
from app.events.hub import EventHub
from app.events.relay import CallableSink, Relay, Sink
from app.events.topology import Topology
from app.events.wakeup import RelayWakeup
from app.events.webhooks import queue_deliveries

T = TypeVar("T")
WAKEUP_READY_SECONDS = 5.0  # at most this long at start-up for the LISTEN connection


class SubjectCache(Protocol):
    """A read cache keyed by event subject that must never be stale after a commit: the
    runtime invalidates a subject after every ``Database.transaction()`` that changed it
    and for every event the relay delivers."""

    @property
    def enabled(self) -> bool: ...

    async def invalidate(self, subjects: Iterable[str]) -> None: ...

    async def close(self) -> None: ...


CacheFactory = Callable[[Settings], SubjectCache]


class NoCache:
    """The cache when none is registered: every read goes to the loader."""

    enabled = False

    async def get(self, key: object, load: Callable[[], Awaitable[T]]) -> T:
        return await load()

    async def invalidate(self, subjects: Iterable[str]) -> None:
        return None

    async def close(self) -> None:
        return None


_cache_factory: CacheFactory | None = None


def register_subject_cache(factory: CacheFactory | None) -> None:
    """Set the cache every runtime built from now on keeps fresh (``None``: no cache).
    Called from the composition root; registering again replaces, so it is idempotent."""
    global _cache_factory
    _cache_factory = factory


class EventsRuntime:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.hub = EventHub.from_settings(
            settings.redis_url, settings.redis_events_channel, settings.subscription_queue_size
        )
        self.shared_frames = (
            SharedFrames(settings.subscription_shared_payloads_max)
            if settings.subscription_shared_payloads
            else None
        )
        self.bus = (
            EventBus(
                settings.amqp_url,
                settings.amqp_exchange,
                settings.amqp_publish_timeout_seconds,
                topology=Topology.from_settings(settings),
            )
            if settings.amqp_url
            else None
        )
        # Typed as the protocol; readers (GraphQL, REST) use the registered cache's own API.
        self.cache: SubjectCache = _cache_factory(settings) if _cache_factory else NoCache()
        self.webhooks = WebhookDispatcher(db, settings)
        sinks: list[Sink] = [CallableSink("webhooks", queue_deliveries)]
        if self.bus is not None:
            sinks.append(CallableSink("bus", self._to_bus))
        sinks += [CallableSink("hub", self._to_hub), CallableSink("cache", self._to_cache)]
        self.relay = Relay(db, sinks, settings.outbox_batch_size)
        self.wakeup = (
            RelayWakeup(
                db.url, settings.outbox_listen_poll_seconds, relays=settings.run_background_tasks
            )
            if settings.outbox_wakeup
            else None
        )
        self.gc_settle = (
            GcSettle(lambda: self.hub.subscriber_count, settings.subscription_gc_settle_seconds)
            if settings.subscription_gc_settle_seconds > 0
            else None
        )
        self._hook_installed = False

    async def _to_bus(self, session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
        assert self.bus is not None
        await self.bus.publish_many(envelopes)

    async def _to_hub(self, session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
        for env in envelopes:
            await self.hub.publish(env)

    async def _to_cache(self, session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
        subjects = {e["subject"] for e in envelopes if e.get("subject")}
        if subjects:
            await self.cache.invalidate(subjects)

    async def start(self) -> None:
        await self.hub.start()
        if self.gc_settle is not None:
            self.gc_settle.install()
        if self.wakeup is not None and self.wakeup.poke not in self.db.on_commit:
            # Not ready before the wake-up listens (or tried to): an event committed right
            # after start-up would otherwise wait for the fallback poll.
            await self.wakeup.start(ready_within=WAKEUP_READY_SECONDS)
            self.db.on_commit.append(self.wakeup.poke)
        if self.cache.enabled and not self._hook_installed:
            self.db.after_commit.append(self.cache.invalidate)
            self._hook_installed = True

    def wakeup_state(self) -> str:
        """For /readyz: "leader" (LISTENs for every process), "listening" (connected,
        NOTIFYs; another process leads), "polling" (no connection) or "off"."""
        if self.wakeup is None:
            return "off"
        if not self.wakeup.listening:
            return "polling"
        return "leader" if self.wakeup.leading else "listening"

    async def stop(self) -> None:
        if self._hook_installed:
            self.db.after_commit.remove(self.cache.invalidate)
            self._hook_installed = False
        if self.wakeup is not None:
            if self.wakeup.poke in self.db.on_commit:
                self.db.on_commit.remove(self.wakeup.poke)
            await self.wakeup.stop()
        await self.hub.stop()
        if self.gc_settle is not None:
            self.gc_settle.uninstall()
        if self.bus is not None:
            await self.bus.close()
        await self.webhooks.close()
        await self.cache.close()

    def tasks(self) -> list[PeriodicTask]:
        async def relay(db: Database, settings: Settings) -> None:
            await self.relay.run()

        async def webhooks(db: Database, settings: Settings) -> None:
            await self.webhooks.run()

        wait = self.wakeup.wait if self.wakeup is not None else None
        tasks = [
            PeriodicTask("outbox-relay", self.settings.outbox_poll_seconds, relay, wait),
            PeriodicTask("webhook-dispatch", self.settings.webhook_poll_seconds, webhooks),
        ]
        if self.gc_settle is not None:
            tasks.append(PeriodicTask("subscriptions-gc-settle", 1.0, self.gc_settle.run))
        return tasks
