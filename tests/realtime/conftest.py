"""Fixtures for realtime tests: a real uvicorn server on a free 127.0.0.1 port running the
app's lifespan (event hub, outbox relay, webhook dispatcher), and a small
graphql-transport-ws client on the ``websockets`` package."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from app.core.db import Database
from app.core.settings import Settings
from app.events import outbox
from pms.asgi import create_app
from tests import services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    app: Any
    url: str
    settings: Settings

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


def realtime_settings(settings: Settings, **overrides: Any) -> Settings:
    """Test settings with the relay running fast and a channel/exchange of our own."""
    suffix = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "run_background_tasks": True,
        "outbox_poll_seconds": 0.02,
        "webhook_poll_seconds": 0.05,
        "events_channel": f"pms.events.test.{suffix}",
        "amqp_exchange": f"pms.events.test.{suffix}",
        "redis_key_prefix": f"pms:test:{suffix}:",
    }
    values.update(overrides)
    return settings.model_copy(update=values)


async def start_server(
    settings: Settings, db: Database
) -> tuple[uvicorn.Server, asyncio.Task[None], LiveServer]:
    app = create_app(settings, database=db)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return server, task, LiveServer(app, f"http://127.0.0.1:{port}", settings)


async def stop_server(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, 15)


@pytest.fixture
def redis_url() -> str:
    return services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)


@pytest.fixture
def amqp_url() -> str:
    return services.require_url("RabbitMQ (PMS_TEST_AMQP_URL)", services.AMQP_URL)


@pytest.fixture
async def live(settings: Settings, db: Database, redis_url: str) -> AsyncIterator[LiveServer]:
    """The app served by uvicorn with Redis (broadcaster + cache) and the relay running."""
    server, task, live = await start_server(realtime_settings(settings, redis_url=redis_url), db)
    yield live
    await stop_server(server, task)


async def record_event(
    db: Database, type: str, subject: str | None, data: dict[str, Any], *, commit: bool = True
) -> None:
    """Write an outbox row the production way: inside a transaction that commits (or not)."""

    class Rollback(Exception):
        pass

    try:
        async with db.transaction() as session:
            await outbox.record(session, type, subject, data)
            if not commit:
                raise Rollback
    except Rollback:
        pass


def balance_data(
    player_id: Any, tx: str, balance: str = "10.00", held: str = "0.00"
) -> dict[str, Any]:
    from decimal import Decimal

    available = str(Decimal(balance) - Decimal(held))
    return {
        "playerId": str(player_id),
        "transactionId": tx,
        "operation": "deposit",
        "wallets": [
            {
                "kind": "REAL",
                "currency": "EUR",
                "balance": balance,
                "held": held,
                "available": available,
            },
            {
                "kind": "BONUS",
                "currency": "EUR",
                "balance": "0.00",
                "held": "0.00",
                "available": "0.00",
            },
        ],
    }


class WsClient:
    """A graphql-transport-ws client."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, url: str, protocol: str = "graphql-transport-ws") -> WsClient:
        return cls(await connect(url, subprotocols=[protocol], max_size=2**24))  # type: ignore[list-item]

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def init(self, token: str | None) -> dict[str, Any]:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.recv()

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send(
            {
                "id": id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )

    async def recv(self, wait: float = 10.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.conn.recv(), wait))

    async def next_payload(self, wait: float = 10.0) -> dict[str, Any]:
        while True:
            message = await self.recv(wait)
            if message["type"] in ("next", "error", "complete"):
                return message

    async def closed_with(self, wait: float = 10.0) -> int | None:
        try:
            await asyncio.wait_for(self._drain(), wait)
        except TimeoutError:
            return None
        return self.conn.close_code

    async def _drain(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await self.conn.recv()
        except ConnectionClosed:
            return

    async def close(self) -> None:
        await self.conn.close()
