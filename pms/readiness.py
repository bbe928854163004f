"""Readiness of the dependencies besides PostgreSQL (issue 17 item 3): Redis and RabbitMQ
when configured, each answered within ``readiness_timeout_seconds``.

A probe opens a short connection of its own: it tests what a new request would need,
not a pooled connection that may be half-dead."""

from __future__ import annotations

import asyncio
import logging

import aio_pika
import redis.asyncio as redis

from app.core.settings import Settings

log = logging.getLogger(__name__)


async def redis_ok(url: str, seconds: float) -> bool:
    client = redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        async with asyncio.timeout(seconds):
            return bool(await client.ping())
    except (OSError, TimeoutError, redis.RedisError) as exc:
        log.warning("readiness: Redis unreachable: %r", exc)
        return False
    finally:
        await client.aclose()


async def rabbitmq_ok(url: str, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            connection = await aio_pika.connect(url, timeout=seconds)
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        log.warning("readiness: RabbitMQ unreachable: %r", exc)
        return False
    await connection.close()
    return True


async def dependencies(settings: Settings) -> dict[str, str]:
    """{"redis": "ok" | "unreachable", "rabbitmq": ...} for the configured ones."""
    timeout = settings.readiness_timeout_seconds
    checks: dict[str, asyncio.Task[bool]] = {}
    async with asyncio.TaskGroup() as group:
        if settings.redis_url:
            checks["redis"] = group.create_task(redis_ok(settings.redis_url, timeout))
        if settings.amqp_url:
            checks["rabbitmq"] = group.create_task(rabbitmq_ok(settings.amqp_url, timeout))
    return {name: "ok" if task.result() else "unreachable" for name, task in checks.items()}
