"""What the realtime side of one process holds: the subscription hub, the outbox relay
with its sinks (bus, hub, webhooks, cache), the webhook dispatcher and the player cache.
Built and started by the app lifespan (or ``pms worker``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.settings import Settings
from app.events.bus import EventBus
from app.events.hub import EventHub
from app.events.relay import CallableSink, Relay, Sink
from app.events.topology import Topology
from app.events.webhooks import WebhookDispatcher, queue_deliveries
from app.players.cache import PlayerCache
from app.tasks import PeriodicTask


class EventsRuntime:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.hub = EventHub.from_settings(
            settings.redis_url, settings.redis_events_channel, settings.subscription_queue_size
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
        self.cache = PlayerCache(
            settings.redis_url,
            settings.player_cache_ttl_seconds,
            prefix=f"{settings.redis_key_prefix}player",
        )
        self.webhooks = WebhookDispatcher(db, settings)
        sinks: list[Sink] = [CallableSink("webhooks", queue_deliveries)]
        if self.bus is not None:
            sinks.append(CallableSink("bus", self._to_bus))
        sinks += [CallableSink("hub", self._to_hub), CallableSink("cache", self._to_cache)]
        self.relay = Relay(db, sinks, settings.outbox_batch_size)
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
        if self.cache.enabled and not self._hook_installed:
            self.db.after_commit.append(self.cache.invalidate)
            self._hook_installed = True

    async def stop(self) -> None:
        if self._hook_installed:
            self.db.after_commit.remove(self.cache.invalidate)
            self._hook_installed = False
        await self.hub.stop()
        if self.bus is not None:
            await self.bus.close()
        await self.webhooks.close()
        await self.cache.close()

    def tasks(self) -> list[PeriodicTask]:
        async def relay(db: Database, settings: Settings) -> None:
            await self.relay.run()

        async def webhooks(db: Database, settings: Settings) -> None:
            await self.webhooks.run()

        return [
            PeriodicTask("outbox-relay", self.settings.outbox_poll_seconds, relay),
            PeriodicTask("webhook-dispatch", self.settings.webhook_poll_seconds, webhooks),
        ]
