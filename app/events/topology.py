"""The RabbitMQ topology PMS publishes into, declared idempotently at start-up.

A topic exchange drops what no queue is bound to, so an event published before a
consumer first binds its queue would be gone. Therefore PMS declares, next to the topic
exchange, one durable quorum queue per known consumer group, bound to the event types the
group takes (``PMS_AMQP_CONSUMER_GROUPS``,
defaults in app/core/settings.py), and a dead-letter exchange with one dead queue
per group for messages a consumer rejects or fails ``PMS_AMQP_DELIVERY_LIMIT`` times.
The relay declares it on every (re)connect; ``pms bus declare`` does it ahead of a
release. Declaring again is a no-op; a queue that exists with other arguments is a
``TopologyConflict`` naming it (RabbitMQ cannot change a queue's arguments in place).

Names, for exchange ``pms.events`` and group ``crm``:
  exchange ``pms.events`` (topic)          queue ``pms.events.crm`` (quorum)
  exchange ``pms.events.dlx`` (direct)     queue ``pms.events.crm.dead`` (quorum)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from aiormq.abc import FieldTable

from app.core.settings import Settings


class TopologyConflict(Exception):
    """RabbitMQ refused a declaration: the entity exists with different arguments."""


@dataclass(frozen=True)
class Queue:
    name: str
    bindings: tuple[str, ...]  # routing-key patterns on the events exchange
    dead_letter_queue: str


@dataclass(frozen=True)
class Topology:
    exchange: str
    dead_letter_exchange: str
    queues: tuple[Queue, ...]
    delivery_limit: int = 20

    @classmethod
    def build(
        cls,
        exchange: str,
        groups: Mapping[str, Sequence[str]],
        delivery_limit: int = 20,
    ) -> Topology:
        queues = tuple(
            Queue(f"{exchange}.{group}", tuple(patterns), f"{exchange}.{group}.dead")
            for group, patterns in sorted(groups.items())
        )
        return cls(exchange, f"{exchange}.dlx", queues, delivery_limit)

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        return cls.build(
            settings.amqp_exchange, settings.amqp_consumer_groups, settings.amqp_delivery_limit
        )

    def queue_arguments(self, queue: Queue) -> FieldTable:
        return {
            "x-queue-type": "quorum",  # replicated: survives the loss of a broker node
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": queue.dead_letter_queue,
            # A message that keeps failing goes to the dead queue instead of looping.
            "x-delivery-limit": self.delivery_limit,
        }


async def declare_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The events exchange, declared exactly as the bus has always declared it."""
    return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


async def declare(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    """Declare (idempotently) the exchanges, queues and bindings; the events exchange."""
    try:
        exchange = await declare_exchange(channel, topology.exchange)
        dlx = await channel.declare_exchange(
            topology.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        for queue in topology.queues:
            dead = await channel.declare_queue(
                queue.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await dead.bind(dlx, routing_key=queue.dead_letter_queue)
            live = await channel.declare_queue(
                queue.name, durable=True, arguments=topology.queue_arguments(queue)
            )
            for pattern in queue.bindings:
                await live.bind(exchange, routing_key=pattern)
    except aio_pika.exceptions.ChannelPreconditionFailed as exc:
        raise TopologyConflict(
            f"RabbitMQ refused the PMS topology ({exc}); an exchange or queue exists with "
            "other arguments: delete it or change PMS_AMQP_EXCHANGE"
        ) from exc
    return exchange


async def declare_at(url: str, topology: Topology, connect_seconds: float = 10.0) -> None:
    """Connect, declare, disconnect (``pms bus declare``)."""
    connection = await aio_pika.connect(url, timeout=connect_seconds)
    try:
        await declare(await connection.channel(), topology)
    finally:
        await connection.close()
