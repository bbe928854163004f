"""The alerts subscription over a real WebSocket, fed by the real background task: a
served app (uvicorn, the task runner on), failing registrations over HTTP, and the staff
member's socket sees the alert fire, get acknowledged and clear."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.core.db import Database
from app.core.settings import Settings
from tests.auth import staff_principal, token_for
from tests.e2e.alerts.conftest import ACK, SAVE_RULE, alert_settings
from tests.e2e.test_register_player import REGISTER
from tests.factories import registration
from tests.realtime.conftest import (
    LiveServer,
    WsClient,
    realtime_settings,
    start_server,
    stop_server,
)

SUBSCRIBE = """
subscription { alerts { type alert { id ruleKey status resolvedBy acknowledgedBy
                                     history { action actor } } } }
"""
OPS = staff_principal("COMPLIANCE", "ops-ws")


@pytest.fixture
async def served(settings: Settings, db: Database) -> AsyncIterator[LiveServer]:
    """On a pool of its own: the served app's tasks are cancelled at shutdown, which must
    not touch the shared test engine (or its pool gauges, which other tests read)."""
    fast = realtime_settings(alert_settings(settings, alert_evaluate_interval_seconds=0.2))
    database = Database(settings.database_url or "", pool_size=8, max_overflow=0)
    server, task, live = await start_server(fast, database)
    yield live
    await stop_server(server, task)
    await database.dispose()


async def test_staff_socket_sees_the_alert_fire_get_acknowledged_and_clear(served):
    token = await token_for(served.app, OPS)
    headers = {"authorization": f"Bearer {token}"}
    socket = await WsClient.open(served.ws_url)
    assert (await socket.init(token))["type"] == "connection_ack"
    await socket.subscribe("1", SUBSCRIBE)
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:

        async def gql(query: str, variables: dict) -> dict:
            response = await http.post("/graphql", json={"query": query, "variables": variables},
                                       headers=headers)  # fmt: skip
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        saved = await gql(SAVE_RULE, {"input": {
            "key": "signups", "kind": "FAILURE_RATE", "metric": "registration_errors",
            "threshold": 50.0, "clearThreshold": 30.0, "windowSeconds": 600,
        }})  # fmt: skip
        assert saved["saveAlertRule"]["__typename"] == "AlertRule"
        refused = await gql(REGISTER, {"input": registration(email="nope")})
        assert refused["registerPlayer"]["__typename"] == "ValidationError"

        fired = (await socket.next_payload())["payload"]["data"]["alerts"]
        assert (fired["type"], fired["alert"]["ruleKey"], fired["alert"]["status"]) == (
            "alert.fired", "signups", "FIRING")  # fmt: skip

        await gql(ACK, {"id": fired["alert"]["id"], "note": ""})
        acked = (await socket.next_payload())["payload"]["data"]["alerts"]
        assert (acked["type"], acked["alert"]["acknowledgedBy"]) == (
            "alert.acknowledged", "staff:ops-ws")  # fmt: skip

        for _ in range(3):  # 1 of 4 refused: 25 %, below the clear level
            ok = await gql(REGISTER, {"input": registration()})
            assert ok["registerPlayer"]["__typename"] == "RegisterPlayerSuccess"
        cleared = (await socket.next_payload())["payload"]["data"]["alerts"]
    await socket.close()

    assert (cleared["type"], cleared["alert"]["status"], cleared["alert"]["resolvedBy"]) == (
        "alert.resolved", "RESOLVED", "system")  # fmt: skip
    assert [h["action"] for h in cleared["alert"]["history"]] == [
        "FIRED", "ACKNOWLEDGED", "CLEARED"]  # fmt: skip


async def test_subscribing_needs_alert_read(served):
    socket = await WsClient.open(served.ws_url)
    await socket.init(await token_for(served.app, staff_principal("MARKETER", "m-ws")))
    await socket.subscribe("1", SUBSCRIBE)
    denied = await socket.next_payload()
    await socket.close()
    assert "Forbidden" in str(denied["payload"])
