"""The RabbitMQ topology on a real broker: declared at start-up and by `pms bus declare`,
idempotent, and events published before any consumer binds wait in their group's queue."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from app.events.bus import BusUnavailable, EventBus
from app.events.topology import Topology, TopologyConflict, declare_at

GROUPS = {"crm": ("player.#",), "ledger-audit": ("wallet.#", "bet.settled")}


@pytest.fixture
async def topology(amqp_url: str) -> AsyncIterator[Topology]:
    """A topology under a unique exchange name, deleted again after the test."""
    topo = Topology.build(f"pms.test.topology.{uuid.uuid4().hex[:10]}", GROUPS, 5)
    yield topo
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    for queue in topo.queues:
        await channel.queue_delete(queue.name)
        await channel.queue_delete(queue.dead_letter_queue)
    await channel.exchange_delete(topo.exchange)
    await channel.exchange_delete(topo.dead_letter_exchange)
    await connection.close()


def envelope(type: str) -> dict[str, str]:
    return {"id": str(uuid.uuid4()), "type": type, "subject": "p1", "specversion": "1.0"}


async def drain(amqp_url: str, queue_name: str, wait: float = 3.0) -> list[str]:
    """Every message now in the queue (event types), acknowledged."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=True)
        types: list[str] = []
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            message = await queue.get(fail=False, timeout=wait)
            if message is None:
                if types:
                    break
                await asyncio.sleep(0.05)
                continue
            types.append(json.loads(message.body)["type"])
            await message.ack()
        return types
    finally:
        await connection.close()


async def test_events_published_before_any_consumer_are_kept(
    amqp_url: str, topology: Topology
) -> None:
    bus = EventBus(amqp_url, topology.exchange, topology=topology)
    try:
        await bus.publish_many([envelope("player.registered"), envelope("wallet.deposited"),
                                envelope("bet.settled"), envelope("bet.reserved")])  # fmt: skip
    finally:
        await bus.close()
    # Only now do the consumers come: their queues already hold what matches them.
    crm, audit = (q.name for q in topology.queues)
    assert sorted(await drain(amqp_url, crm)) == ["player.registered"]
    assert sorted(await drain(amqp_url, audit)) == ["bet.settled", "wallet.deposited"]


async def test_rejected_messages_go_to_the_group_dead_queue(
    amqp_url: str, topology: Topology
) -> None:
    await declare_at(amqp_url, topology)
    bus = EventBus(amqp_url, topology.exchange, topology=topology)
    try:
        await bus.publish_many([envelope("player.status_changed")])
    finally:
        await bus.close()
    crm = topology.queues[0]
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(crm.name)
        message = await queue.get(timeout=3)
        assert message is not None
        await message.reject(requeue=False)  # a consumer that cannot handle it
    finally:
        await connection.close()
    assert await drain(amqp_url, crm.dead_letter_queue) == ["player.status_changed"]
    assert await drain(amqp_url, crm.name, wait=0.5) == []


async def test_declare_is_idempotent_and_reports_conflicts(
    amqp_url: str, topology: Topology
) -> None:
    await declare_at(amqp_url, topology)
    await declare_at(amqp_url, topology)  # again: no error, same queues
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for queue in topology.queues:
            declared = await channel.declare_queue(queue.name, passive=True)
            assert declared.declaration_result.message_count == 0
    finally:
        await connection.close()
    changed = Topology.build(topology.exchange, GROUPS, delivery_limit=99)
    with pytest.raises(TopologyConflict, match="other arguments"):
        await declare_at(amqp_url, changed)
    bus = EventBus(amqp_url, topology.exchange, topology=changed)
    with pytest.raises(BusUnavailable, match="other arguments"):
        await bus.publish_many([envelope("player.registered")])
    await bus.close()


async def test_pms_bus_declare_command(amqp_url: str, topology: Topology) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env |= {
        "PMS_AMQP_URL": amqp_url,
        "PMS_AMQP_EXCHANGE": topology.exchange,
        "PMS_AMQP_CONSUMER_GROUPS": json.dumps(GROUPS),
        "PMS_AMQP_DELIVERY_LIMIT": "5",
    }
    pms = str(Path(sys.executable).parent / "pms")
    result = await asyncio.to_thread(
        subprocess.run, [pms, "bus", "declare"], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"queue {topology.exchange}.crm <- player.#" in result.stdout
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for queue in topology.queues:  # exists (passive), with the arguments we expect
            await channel.declare_queue(queue.name, passive=True)
            await channel.declare_queue(
                queue.name, durable=True, arguments=topology.queue_arguments(queue)
            )
    finally:
        await connection.close()
    unset = await asyncio.to_thread(
        subprocess.run, [pms, "bus", "declare"],
        env={k: v for k, v in env.items() if k != "PMS_AMQP_URL"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unset.returncode == 2 and "PMS_AMQP_URL is not set" in unset.stderr
