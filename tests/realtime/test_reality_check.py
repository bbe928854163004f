"""The ``realityCheck`` subscription over a real WebSocket (uvicorn, graphql-transport-ws):
a real sign-in starts the play session, and the subscriber is told each time the reality
check interval elapses; another player's session and a restricted token are refused."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.auth import player_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import WsClient, realtime_settings, start_server, stop_server

REALITY = """subscription R($id: ID!) { realityCheck(playerId: $id) {
  sessionStartedAt minutesPlayed netResult { amount currency } nextCheckAt } }"""
LOGIN = """mutation($l: String!, $p: String!) { login(loginOrEmail: $l, password: $p) {
  ... on AuthTokens { accessToken } } }"""
PASSWORD = "correct horse battery staple"
INTERVAL_SECONDS = 1.2


async def _subscribe(url: str, token: str, player_id: str) -> WsClient:
    client = await WsClient.open(url)
    assert (await client.init(token))["type"] == "connection_ack"
    await client.subscribe("1", REALITY, {"id": player_id})
    return client


async def test_the_subscriber_is_told_each_time_the_interval_elapses(db, settings):
    live_settings = realtime_settings(settings, rg_reality_check_minutes=INTERVAL_SECONDS / 60)
    server, task, live = await start_server(live_settings, db)
    try:
        player = await create_player(db, settings, login="realitycheck1")
        async with httpx.AsyncClient(base_url=live.url) as http:
            body = (
                await http.post(
                    "/graphql",
                    json={"query": LOGIN, "variables": {"l": "realitycheck1", "p": PASSWORD}},
                )
            ).json()
        token = body["data"]["login"]["accessToken"]
        client = await _subscribe(live.ws_url, token, str(player.id))

        first = (await client.next_payload(wait=5))["payload"]["data"]["realityCheck"]
        second = (await client.next_payload(wait=5))["payload"]["data"]["realityCheck"]
        await client.close()
    finally:
        await stop_server(server, task)

    assert first["sessionStartedAt"] == second["sessionStartedAt"]
    assert first["netResult"] == {"amount": "0.00", "currency": "EUR"}
    assert first["minutesPlayed"] == 0
    step = datetime.fromisoformat(second["nextCheckAt"]) - datetime.fromisoformat(
        first["nextCheckAt"]
    )
    assert abs(step.total_seconds() - INTERVAL_SECONDS) < 0.01  # one message per interval


async def test_another_players_session_and_a_restricted_token_are_refused(db, settings):
    server, task, live = await start_server(realtime_settings(settings), db)
    try:
        player = await create_player(db, settings)
        other = await create_player(db, settings)
        token = await token_for(live.app, player_principal(other))
        foreign = await _subscribe(live.ws_url, token, str(player.id))
        refused = await foreign.next_payload()
        restricted_token = await token_for(live.app, player_principal(player), restriction="BREAK")
        restricted = await _subscribe(live.ws_url, restricted_token, str(player.id))
        on_break = await restricted.next_payload()
        await foreign.close()
        await restricted.close()
    finally:
        await stop_server(server, task)

    assert _error_code(refused) == "FORBIDDEN"
    assert _error_code(on_break) == "GAMBLING_RESTRICTED"


def _error_code(message: dict) -> str:
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    code: str = errors[0]["extensions"]["code"]
    return code
