"""/readyz checks Redis and RabbitMQ when configured; `pms serve` shuts down gracefully:
WebSockets closed with 1001, the outbox relay flushed (issue 17 item 3)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.events.models import OutboxEvent
from pms import readiness
from pms.asgi import create_app
from tests import services
from tests.auth import staff_principal, token_for
from tests.realtime.conftest import WsClient, free_port, record_event

ROOT = Path(__file__).resolve().parents[2]
DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_AMQP = "amqp://guest:guest@127.0.0.1:1/"


async def readyz(settings, db, **update) -> httpx.Response:
    app = create_app(settings.model_copy(update=update), database=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        return await http.get("/readyz")


async def test_readyz_is_503_naming_an_unreachable_redis_and_rabbitmq(db, settings):
    response = await readyz(settings, db, redis_url=DEAD_REDIS, amqp_url=DEAD_AMQP,
                            readiness_timeout_seconds=1.0)  # fmt: skip
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("unavailable", "ok")
    assert (body["redis"], body["rabbitmq"]) == ("unreachable", "unreachable")


async def test_readyz_without_redis_and_rabbitmq_checks_only_the_database(db, settings):
    response = await readyz(settings, db, redis_url=None, amqp_url=None)
    assert response.status_code == 200
    assert set(response.json()) == {"status", "database", "migrations"}


async def test_readyz_ok_with_reachable_redis_and_rabbitmq(db, settings):
    redis_url = services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)
    amqp_url = services.require_url("RabbitMQ (PMS_TEST_AMQP_URL)", services.AMQP_URL)
    response = await readyz(settings, db, redis_url=redis_url, amqp_url=amqp_url)
    assert response.status_code == 200
    assert response.json()["redis"] == response.json()["rabbitmq"] == "ok"
    # and one of them down is enough to be unready
    assert await readiness.dependencies(settings.model_copy(update={"redis_url": DEAD_REDIS,
                                        "amqp_url": amqp_url})) == {"redis": "unreachable",
                                                                    "rabbitmq": "ok"}  # fmt: skip


async def start_server(settings) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    # The relay runs once at start, then not for an hour: only the shutdown flush can
    # deliver what is written afterwards.
    env.update(PMS_ENV="test", PMS_DATABASE_URL=settings.database_url or "",
               PMS_OUTBOX_POLL_SECONDS="3600", PMS_SHUTDOWN_TIMEOUT_SECONDS="10")  # fmt: skip
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
        [sys.executable, "-m", "pms", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if (await http.get(url + "/readyz")).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not become ready")


@pytest.mark.timeout_sensitive
async def test_sigterm_closes_websockets_with_1001_and_flushes_the_relay(app, db, settings):
    token = await token_for(app, staff_principal("ADMIN"))
    proc, url = await start_server(settings)
    try:
        socket = await WsClient.open(url.replace("http", "ws") + "/graphql")
        assert (await socket.init(token))["type"] == "connection_ack"
        await asyncio.sleep(0.5)  # the relay's start-up pass is done
        await record_event(db, "player.updated", "p-1", {"n": 1})
        proc.send_signal(signal.SIGTERM)
        close_code = await socket.closed_with(wait=15)
        code = await asyncio.to_thread(proc.wait, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read().decode() if proc.stderr else ""

    assert close_code == 1001, stderr
    assert code == 0, stderr
    async with db.read_session() as session:
        (published,) = (await session.execute(select(OutboxEvent.published_at))).scalars().all()
    assert published is not None  # delivered by the shutdown flush
    assert "shutdown: relay flushed 1 event(s)" in stderr
