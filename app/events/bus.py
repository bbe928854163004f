"""The event bus: every domain event goes to a durable RabbitMQ topic exchange.

Routing key = event type (``wallet.balance_changed``), body = the CloudEvents envelope,
persistent messages, publisher confirms. A publish that is not confirmed raises, so the
relay leaves the event in the outbox and tries again: nothing is lost while RabbitMQ is
away, and consumers de-duplicate on the CloudEvents ``id`` (delivery is at least once).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from app.events import topology as bus_topology

log = logging.getLogger(__name__)


class BusUnavailable(Exception):
    """RabbitMQ could not be reached or did not confirm a message."""


class EventBus:
    def __init__(
        self,
        url: str,
        exchange: str,
        timeout: float = 5.0,
        topology: bus_topology.Topology | None = None,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        # Declared on every (re)connect, so queues exist before the first publish.
        self.topology = topology
        self.timeout = timeout
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def _ensure(self) -> AbstractExchange:
        async with self._lock:
            channel = self._channel
            if self._exchange is not None and channel is not None and not channel.is_closed:
                return self._exchange
            await self._reset()
            try:
                connection = await asyncio.wait_for(
                    aio_pika.connect(self.url, timeout=self.timeout), self.timeout
                )
                channel = await connection.channel(publisher_confirms=True)
                if self.topology is not None:
                    exchange = await bus_topology.declare(channel, self.topology)
                else:
                    exchange = await bus_topology.declare_exchange(channel, self.exchange_name)
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                raise BusUnavailable(f"RabbitMQ unreachable: {exc!r}") from exc
            except bus_topology.TopologyConflict as exc:
                raise BusUnavailable(str(exc)) from exc
            self._connection, self._channel, self._exchange = connection, channel, exchange
            return exchange

    async def _reset(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), self.timeout)
            except Exception:
                log.debug("closing a broken AMQP connection failed", exc_info=True)

    async def publish_many(self, envelopes: list[dict[str, Any]]) -> None:
        """Publish and wait for every confirm; raise BusUnavailable if any is missing."""
        if not envelopes:
            return
        exchange = await self._ensure()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(self._publish(exchange, e) for e in envelopes)),
                self.timeout,
            )
        except (TimeoutError, OSError, aio_pika.exceptions.AMQPError, RuntimeError) as exc:
            async with self._lock:
                await self._reset()
            raise BusUnavailable(f"publish not confirmed: {exc!r}") from exc

    @staticmethod
    async def _publish(exchange: AbstractExchange, envelope: dict[str, Any]) -> None:
        message = aio_pika.Message(
            body=json.dumps(envelope, separators=(",", ":")).encode(),
            content_type="application/cloudevents+json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=envelope["id"],
            type=envelope["type"],
        )
        await exchange.publish(message, routing_key=envelope["type"], mandatory=False)

    async def close(self) -> None:
        async with self._lock:
            await self._reset()
