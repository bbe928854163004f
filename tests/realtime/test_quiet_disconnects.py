"""Normal disconnects are not errors (issue 10 item 22): a client closing its subscription
socket, a legacy-protocol client refused in connection_init, a replica shutting down its
Redis listener. The server is a real uvicorn logging the way ``pms serve`` does
(``log_config=None``: its records reach the root logger, so caplog sees them)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect

from pms.asgi import create_app
from tests import services
from tests.auth import player_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import (
    LiveServer,
    WsClient,
    balance_data,
    free_port,
    realtime_settings,
    record_event,
    stop_server,
)

BALANCE = "subscription B($id: ID!) { balanceChanged(playerId: $id) { transactionId } }"


async def serve(settings: Any, db: Any) -> tuple[uvicorn.Server, asyncio.Task[None], LiveServer]:
    app = create_app(settings, database=db)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.01)
    return server, task, LiveServer(app, f"http://127.0.0.1:{port}", settings)


def loud(caplog: Any) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


async def _subscribe_then_leave(live: LiveServer, db: Any, settings: Any) -> None:
    player = await create_player(db, settings)
    token = await token_for(live.app, player_principal(player))
    variables = {"id": str(player.id)}
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        client = await WsClient.open(live.ws_url, protocol)
        await client.init(token)
        if protocol == "graphql-ws":
            payload = {"query": BALANCE, "variables": variables}
            await client.send({"id": "1", "type": "start", "payload": payload})
        else:
            await client.subscribe("1", BALANCE, variables)
        await asyncio.sleep(0.2)
        await record_event(
            db, "wallet.balance_changed", variables["id"], balance_data(player.id, "t1")
        )
        message = await client.recv()
        while message["type"] == "ka":  # legacy keep-alive
            message = await client.recv()
        assert message["type"] in ("next", "data"), message
        await client.close()
        await record_event(
            db, "wallet.balance_changed", variables["id"], balance_data(player.id, "t2")
        )
        await asyncio.sleep(0.3)


async def test_closing_subscriptions_logs_no_error(settings, db, caplog):
    caplog.set_level(logging.INFO)
    server, task, live = await serve(realtime_settings(settings), db)
    try:
        await _subscribe_then_leave(live, db, settings)
    finally:
        await stop_server(server, task)
    assert loud(caplog) == []


@pytest.mark.skipif(not services.REDIS_URL, reason="needs Redis (PMS_TEST_REDIS_URL)")
async def test_a_replica_stopping_its_redis_listener_logs_no_error(settings, db, caplog):
    caplog.set_level(logging.INFO)
    server, task, live = await serve(realtime_settings(settings, redis_url=services.REDIS_URL), db)
    try:
        await _subscribe_then_leave(live, db, settings)
        client = await WsClient.open(live.ws_url)  # still open while the replica stops
        player = await create_player(db, settings)
        await client.init(await token_for(live.app, player_principal(player)))
        await client.subscribe("1", BALANCE, {"id": str(player.id)})
        await asyncio.sleep(0.2)
    finally:
        await stop_server(server, task)
    await asyncio.sleep(0.2)
    gc.collect()  # a listener task that died unobserved is reported when collected
    assert loud(caplog) == []


LEGACY_INITS = {
    "no token": {"type": "connection_init", "payload": {}},
    "bad token": {"type": "connection_init", "payload": {"authorization": "Bearer nope"}},
    "no payload": {"type": "connection_init"},
}


@pytest.mark.parametrize("init", list(LEGACY_INITS))
async def test_an_unauthenticated_legacy_connection_logs_one_line(settings, db, caplog, init):
    caplog.set_level(logging.INFO)
    server, task, live = await serve(settings, db)
    try:
        async with connect(live.ws_url, subprotocols=["graphql-ws"]) as conn:  # type: ignore[list-item]
            await conn.send(json.dumps(LEGACY_INITS[init]))
            start = {"id": "1", "type": "start", "payload": {"query": BALANCE}}
            await conn.send(json.dumps(start))
            with pytest.raises(Exception, match="received 44"):
                while True:
                    await asyncio.wait_for(conn.recv(), 5)
        await asyncio.sleep(0.3)
    finally:
        await stop_server(server, task)
    assert loud(caplog) == []
    refused = [r for r in caplog.records if "refused in connection_init" in r.getMessage()]
    assert len(refused) == 1
