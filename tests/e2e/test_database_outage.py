"""PostgreSQL unreachable (issue 10 items 14 and 15): a real uvicorn, a keep-alive client
on one connection, and a TCP proxy in front of the test database that the test cuts and
restores. Every request answers JSON 503 with the request id and Retry-After while the
database is gone, the connection keeps answering, and readiness follows within a second."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.core.db import Database
from tests.auth import service_principal, staff_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import free_port, start_server, stop_server


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the database (TCP, or the embedded server's unix
    socket); ``cut`` refuses and drops connections."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        # The embedded PostgreSQL listens only on <socket dir>/.s.PGSQL.<port>.
        self.socket = (
            f"{target_host}/.s.PGSQL.{target_port}" if target_host.startswith("/") else None
        )
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()
        self.server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.socket is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self.socket)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}


@pytest.fixture
async def proxied(settings, db) -> AsyncIterator[tuple[TcpProxy, Any]]:
    url = make_url(settings.database_url)
    socket_dir = url.query.get("host")
    proxy = TcpProxy(str(socket_dir or url.host or "127.0.0.1"), url.port or 5432)
    await proxy.start()
    proxied = url.difference_update_query(["host"]).set(host="127.0.0.1", port=proxy.port)
    proxied_url = proxied.render_as_string(hide_password=False)
    database = Database(proxied_url, pool_size=5, max_overflow=5)
    server, task, live = await start_server(
        settings.model_copy(update={"database_url": proxied_url}), database
    )
    yield proxy, live
    if proxy.server is None:
        await proxy.start()
    await stop_server(server, task)
    await database.dispose()
    if proxy.server is not None:
        proxy.server.close()


def connection_of(response: httpx.Response) -> Any:
    """The client-side address of the TCP connection the response came on."""
    return response.extensions["network_stream"].get_extra_info("client_addr")


async def _wait_for_status(http: httpx.AsyncClient, status: int, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if (await http.get("/readyz")).status_code == status:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz did not answer {status} within {within}s")


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["retry-after"].isdigit()
    request_id = response.headers["x-request-id"]
    assert request_id in response.text  # the body names the request too


@pytest.mark.timeout_sensitive
async def test_outage_answers_json_503_on_a_kept_alive_connection_and_recovers(
    proxied, db, settings
):
    proxy, live = proxied
    player = await create_player(db, settings)
    headers = {"authorization": f"Bearer {await token_for(live.app, staff_principal('SUPPORT'))}"}
    query = {"query": "{ players(first: 5) { totalCount } }"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=live.url, limits=limits, timeout=10) as http:
        before = await http.post("/graphql", json=query, headers=headers)
        assert before.json()["data"]["players"]["totalCount"] == 1
        connection = connection_of(before)

        await proxy.cut()
        assert await _wait_for_status(http, 503, within=1.0) < 1.0
        await asyncio.sleep(settings.revocation_cache_seconds + 0.1)  # the gate must look up

        graphql = await http.post("/graphql", json=query, headers=headers)
        gql_again = await http.post("/graphql", json=query, headers=headers)
        rest = await http.get("/players", headers=headers)
        rest_one = await http.get(f"/players/{player.id}/balance", headers=headers)
        for response in (graphql, gql_again, rest, rest_one):
            assert_unavailable(response)
            assert connection_of(response) == connection
        codes = [e["extensions"]["code"] for e in graphql.json()["errors"]]
        assert set(codes) == {"SERVICE_UNAVAILABLE"}
        assert rest.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

        await proxy.start()
        assert await _wait_for_status(http, 200, within=1.0) < 1.0
        after = await http.post("/graphql", json=query, headers=headers)
        assert after.status_code == 200
        assert after.json()["data"]["players"]["totalCount"] == 1
        assert connection_of(after) == connection


RESERVE = """mutation($input: ReserveBetInput!) { reserveBet(input: $input) {
  __typename ... on UserError { code } } }"""


@pytest.mark.timeout_sensitive
async def test_a_money_mutation_meeting_the_outage_answers_json_503(proxied, db, settings):
    """The money path's driver transaction (``Database.driver_transaction``) reports a
    dead database like the session path: the gate still knows the token (revocation
    facts cached), the mutation's checkout fails, the answer is the JSON 503."""
    proxy, live = proxied
    player = await create_player(db, settings)
    engine = service_principal("wallet:operate", client_id="game-engine")
    headers = {"authorization": f"Bearer {await token_for(live.app, engine)}"}

    def reserve(n: int) -> dict[str, object]:
        fields = {
            "playerId": str(player.id), "amount": "1.00", "currency": "EUR",
            "gameRoundId": f"r-{n}", "transactionId": f"t-{n}", "idempotencyKey": f"k-{n}",
        }  # fmt: skip
        return {"query": RESERVE, "variables": {"input": fields}}

    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        before = await http.post("/graphql", json=reserve(1), headers=headers)
        assert before.json()["data"]["reserveBet"]["__typename"] == "InsufficientFunds"
        await proxy.cut()
        during = await http.post("/graphql", json=reserve(2), headers=headers)
        assert_unavailable(during)
        assert {e["extensions"]["code"] for e in during.json()["errors"]} == {"SERVICE_UNAVAILABLE"}
        await proxy.start()
        after = await http.post("/graphql", json=reserve(3), headers=headers)
        assert after.json()["data"]["reserveBet"]["__typename"] == "InsufficientFunds"
