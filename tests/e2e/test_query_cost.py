"""Static query cost (issue 10 item 13): a document asking for too many objects is refused
before execution, over HTTP and WebSocket; WebSocket operations run under the HTTP
execution timeout."""

from __future__ import annotations

import time

from tests.auth import staff_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import WsClient, start_server, stop_server

_ALIAS = """
  p{n}: players(first: 100) {{
    totalCount
    edges {{ node {{ id email
      wallets {{ kind transactions(first: 100) {{ totalCount edges {{ node {{ id }} }} }} }}
      settingsHistory(first: 100) {{ totalCount edges {{ node {{ field }} }} }}
    }} }}
  }}"""
# The document of the report: 15 aliases, each fanning out through three page sizes.
COSTLY = "query Costly {" + "".join(_ALIAS.format(n=n) for n in range(15)) + "\n}"
NORMAL = "{ players(first: 20) { totalCount edges { node { id email wallets { kind } } } } }"


async def test_the_fifteen_alias_document_is_refused_fast_before_execution(
    client, db, auth, settings
):
    await create_player(db, settings)
    headers = await auth.staff_headers("SUPPORT")
    started = time.monotonic()
    response = await client.post("/graphql", json={"query": COSTLY}, headers=headers)
    elapsed = time.monotonic() - started

    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["maxCost"] == 10_000
    assert elapsed < 1.0


async def test_a_normal_query_passes_the_cost_limit(client, db, auth, settings):
    player = await create_player(db, settings)
    headers = await auth.staff_headers("SUPPORT")
    response = await client.post("/graphql", json={"query": NORMAL}, headers=headers)
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["players"]["totalCount"] == 1
    assert body["data"]["players"]["edges"][0]["node"]["id"] == str(player.id)


async def test_the_limit_is_a_setting_and_counts_aliases(settings, db, auth):
    from httpx import ASGITransport, AsyncClient

    from pms.asgi import create_app

    app = create_app(settings.model_copy(update={"max_query_cost": 50}), database=db)
    headers = {"authorization": f"Bearer {await token_for(app, staff_principal('SUPPORT'))}"}
    one = "a: players(first: 20) { edges { node { id } } }"
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        # 20 players + 20 edges + 20 nodes = 60 > 50; one alias of first: 10 is 30.
        small = await c.post(
            "/graphql",
            json={"query": "{ players(first: 10) { edges { node { id } } } }"},
            headers=headers,
        )
        large = await c.post("/graphql", json={"query": "{ " + one + " }"}, headers=headers)
        two = await c.post(
            "/graphql",
            json={"query": "{ a: players(first: 10) { edges { node { id } } } "
                           "b: players(first: 10) { edges { node { id } } } }"},
            headers=headers,
        )  # fmt: skip
    assert "errors" not in small.json()
    assert large.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert two.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_the_cost_limit_applies_over_websocket(settings, db):
    server, task, live = await start_server(settings, db)
    try:
        client = await WsClient.open(live.ws_url)
        ack = await client.init(await token_for(live.app, staff_principal("SUPPORT")))
        assert ack["type"] == "connection_ack"
        await client.subscribe("1", COSTLY)
        message = await client.next_payload()
        await client.close()
    finally:
        await stop_server(server, task)
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_websocket_queries_run_under_the_http_execution_timeout(settings, db):
    slow = settings.model_copy(update={"request_timeout_seconds": 1e-9})
    server, task, live = await start_server(slow, db)
    try:
        client = await WsClient.open(live.ws_url)
        await client.init(await token_for(live.app, staff_principal("SUPPORT")))
        await client.subscribe("1", "{ players { totalCount } }")
        message = await client.next_payload()
        await client.close()
    finally:
        await stop_server(server, task)
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "TIMEOUT"
