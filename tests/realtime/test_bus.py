"""The relay publishes to a real RabbitMQ topic exchange; an outage loses nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import aio_pika

from app.events.bus import EventBus
from app.events.relay import CallableSink, Relay
from tests.realtime.conftest import free_port, record_event


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 that a test can stop (an outage) and start again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def bound_queue(amqp_url: str, exchange: str):
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"{exchange}.q", exclusive=True)
    await queue.bind(ex, routing_key="#")
    return connection, queue


async def drop_exchange(amqp_url: str, exchange: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.exchange_delete(exchange)


async def consume(queue, count: int, within: float = 20.0) -> list[aio_pika.IncomingMessage]:
    got: list = []
    deadline = asyncio.get_running_loop().time() + within
    while len(got) < count and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        got.append(message)
    return got


async def test_relay_publishes_cloudevents_to_the_topic_exchange(db, amqp_url):
    exchange = f"pms.events.test.{uuid.uuid4().hex[:8]}"
    connection, queue = await bound_queue(amqp_url, exchange)
    bus = EventBus(amqp_url, exchange)
    relay = Relay(db, [CallableSink("bus", lambda s, e: bus.publish_many(e))])
    try:
        await record_event(db, "player.registered", "p1", {"playerId": "p1"})
        await record_event(db, "wallet.balance_changed", "p1", {"n": 2}, commit=False)
        await record_event(db, "wallet.balance_changed", "p1", {"n": 3})
        assert await relay.run() == 2

        messages = await consume(queue, 2)
        bodies = [json.loads(m.body) for m in messages]
        assert [m.routing_key for m in messages] == ["player.registered", "wallet.balance_changed"]
        assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in messages)
        assert bodies[1]["specversion"] == "1.0" and bodies[1]["data"] == {"n": 3}
        assert {m.message_id for m in messages} == {b["id"] for b in bodies}
        assert await consume(queue, 1, within=0.5) == []  # the rolled-back one never
    finally:
        await bus.close()
        await connection.close()
        await drop_exchange(amqp_url, exchange)


async def test_nothing_is_lost_while_rabbitmq_is_unreachable(db, amqp_url):
    parts = urlsplit(amqp_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.start()
    via_proxy = urlunsplit(
        parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    )
    exchange = f"pms.events.test.{uuid.uuid4().hex[:8]}"
    connection, queue = await bound_queue(amqp_url, exchange)
    bus = EventBus(via_proxy, exchange, timeout=2.0)
    relay = Relay(db, [CallableSink("bus", lambda s, e: bus.publish_many(e))])
    try:
        await record_event(db, "t.before", "p", {"n": 0})
        assert await relay.run() == 1

        await proxy.stop()  # outage
        for n in range(1, 6):
            await record_event(db, "t.during", "p", {"n": n})
        assert await relay.run() == 0
        relay._retry_at = 0
        assert await relay.run() == 0

        await proxy.start()  # back on the same port
        relay._retry_at = 0
        assert await relay.run() == 5

        messages = await consume(queue, 6)
        assert [json.loads(m.body)["data"]["n"] for m in messages] == [0, 1, 2, 3, 4, 5]
    finally:
        await bus.close()
        await connection.close()
        await drop_exchange(amqp_url, exchange)
        if proxy._server is not None:
            await proxy.stop()
