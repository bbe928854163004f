"""Three `pms serve` processes on one database behind a round-robin TCP proxy, under
money load from many concurrent clients; one process is SIGKILLed mid-run. Clients retry
every unanswered request through the proxy with the same idempotency key. Afterwards
`pms ledger verify` passes, each balance is exactly the sum of the operations the
clients saw accepted (nothing lost, nothing doubled), and a balanceChanged subscriber
whose WebSocket went through the killed process reconnects, reads the current state and
goes on receiving changes. Redis carries the events between the processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.core.db import Database
from app.core.settings import Settings
from tests import services
from tests.auth import service_principal, staff_principal, token_for
from tests.e2e.processes import PmsServe
from tests.e2e.test_cli import run_pms
from tests.factories import create_player
from tests.realtime.conftest import WsClient

CLIENTS = 8
ROUNDS = 5  # reserve+settle pairs per client, after its deposit
KILL_AFTER = CLIENTS * 4  # accepted operations before the SIGKILL
BET, WIN, FUNDS = Decimal("3.00"), Decimal("1.50"), Decimal("50.00")
RETRYABLE = {"RequestInProgress"}

OPERATION = "__typename ... on WalletOperation { operationId reservationId }"
DEPOSIT = f"mutation($i: DepositInput!) {{ deposit(input: $i) {{ {OPERATION} }} }}"
RESERVE = f"mutation($i: ReserveBetInput!) {{ reserveBet(input: $i) {{ {OPERATION} }} }}"
SETTLE = f"mutation($i: SettleBetInput!) {{ settleBet(input: $i) {{ {OPERATION} }} }}"
BALANCE = "query($id: ID!) { player(id: $id) { wallets { kind balance { amount } } } }"
WATCH = """subscription($p: ID!) { balanceChanged(playerId: $p) {
  transactionId wallets { kind balance { amount } } } }"""


class RoundRobinProxy:
    """A TCP proxy: each accepted connection goes to the next backend that accepts."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.turn = 0
        self.last_port: int | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        for _ in self.ports:
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
            try:
                up_r, up_w = await asyncio.open_connection("127.0.0.1", port)
            except OSError:  # a dead backend: the next one
                continue
            self.last_port = port
            await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
            return
        client_w.close()

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        dst.close()


@dataclass
class Books:
    """What the clients saw accepted, per player, and every retry they made."""

    expected: dict[str, Decimal] = field(default_factory=dict)
    accepted: int = 0
    retries: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)


class MoneyClient:
    def __init__(self, base: str, headers: dict[str, str], books: Books) -> None:
        # No keep-alive: every request is a new connection, so the proxy spreads them.
        limits = httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30)
        self.books = books

    async def call(self, query: str, field_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The operation's typed result; unanswered tries are sent again, same key."""
        while True:
            try:
                body = {"query": query, "variables": {"i": payload}}
                response = await self.http.post("/graphql", json=body)
                if response.status_code == 200:
                    result: dict[str, Any] = response.json()["data"][field_name]
                    if result["__typename"] not in RETRYABLE:
                        break
            except httpx.TransportError:
                pass
            self.books.retries += 1
            await asyncio.sleep(0.2)
        assert result["__typename"] == "WalletOperation", result
        self.books.accepted += 1
        if self.books.accepted >= KILL_AFTER:
            self.books.enough.set()
        return result

    async def deposit(self, player_id: str, amount: Decimal) -> None:
        await self.call(DEPOSIT, "deposit", {
            "playerId": player_id, "amount": str(amount), "currency": "EUR",
            "paymentReference": f"psp-{uuid.uuid4()}", "idempotencyKey": str(uuid.uuid4()),
        })  # fmt: skip
        self._book(player_id, amount)

    async def bet_round(self, player_id: str) -> None:
        round_id = str(uuid.uuid4())
        reserved = await self.call(RESERVE, "reserveBet", {
            "playerId": player_id, "amount": str(BET), "currency": "EUR",
            "gameRoundId": round_id, "transactionId": f"bet-{round_id}",
            "idempotencyKey": f"r-{round_id}",
        })  # fmt: skip
        await self.call(SETTLE, "settleBet", {
            "playerId": player_id, "winAmount": str(WIN), "currency": "EUR",
            "transactionId": f"win-{round_id}", "idempotencyKey": f"s-{round_id}",
            "reservationId": reserved["reservationId"],
        })  # fmt: skip
        self._book(player_id, WIN - BET)

    def _book(self, player_id: str, change: Decimal) -> None:
        self.books.expected[player_id] = self.books.expected.get(player_id, Decimal(0)) + change

    async def balance(self, player_id: str) -> Decimal:
        while True:
            try:
                body = {"query": BALANCE, "variables": {"id": player_id}}
                response = await self.http.post("/graphql", json=body)
                wallets = response.json()["data"]["player"]["wallets"]
                real = next(w for w in wallets if w["kind"] == "REAL")
                return Decimal(real["balance"]["amount"])
            except (httpx.TransportError, KeyError, TypeError):
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        await self.http.aclose()


async def _watch(proxy: str, token: str, player_id: str) -> WsClient:
    socket = await WsClient.open(f"ws://{proxy}/graphql")
    assert (await socket.init(token))["type"] == "connection_ack"
    await socket.subscribe("1", WATCH, {"p": player_id})
    return socket


def _real_balance(message: dict[str, Any]) -> Decimal:
    assert message["type"] == "next", message
    wallets = message["payload"]["data"]["balanceChanged"]["wallets"]
    return Decimal(next(w for w in wallets if w["kind"] == "REAL")["balance"]["amount"])


async def _sees_current_state(socket: WsClient, client: MoneyClient, player_id: str) -> None:
    """Deposit 1.00 and wait for the change that shows the balance the clients expect
    (older changes may still be on their way; the subscribe may still be on its way to
    the hub, so the deposit is repeated a few times)."""
    for _ in range(5):
        await client.deposit(player_id, Decimal("1.00"))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while (
                    _real_balance(await socket.next_payload(wait=10))
                    != (client.books.expected[player_id])
                ):
                    pass
                return
    raise AssertionError("the subscriber never saw the current balance")


@pytest.mark.timeout_sensitive
async def test_sigkill_of_one_process_loses_and_doubles_no_money(
    app: Any, db: Database, settings: Settings
) -> None:
    redis_url = services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)
    env = {"PMS_REDIS_URL": redis_url, "PMS_REDIS_KEY_PREFIX": f"pms-kill-{uuid.uuid4().hex}:",
           "PMS_OUTBOX_POLL_SECONDS": "0.2"}  # fmt: skip
    players = [str((await create_player(db, settings)).id) for _ in range(CLIENTS)]
    scopes = ("wallet:operate", "wallet:read", "player:read")
    money = await token_for(app, service_principal(*scopes, client_id="kill-test"))
    watcher = await token_for(app, staff_principal("ADMIN"))
    servers = [PmsServe(settings, **env) for _ in range(3)]
    proxy = RoundRobinProxy([s.port for s in servers])
    books = Books()
    clients: list[MoneyClient] = []
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        base = await proxy.start()
        clients = [MoneyClient(f"http://{base}", {"authorization": f"Bearer {money}"}, books)
                   for _ in range(CLIENTS)]  # fmt: skip
        watched = players[0]
        socket = await _watch(base, watcher, watched)
        victim = next(s for s in servers if s.port == proxy.last_port)
        await _sees_current_state(socket, clients[0], watched)

        async def load(client: MoneyClient, player_id: str) -> None:
            await client.deposit(player_id, FUNDS)
            for _ in range(ROUNDS):
                await client.bet_round(player_id)

        async def kill_mid_run() -> None:
            await books.enough.wait()
            os.kill(victim.proc.pid, signal.SIGKILL)

        loads = (load(c, p) for c, p in zip(clients, players, strict=True))
        await asyncio.gather(kill_mid_run(), *loads)
        assert await asyncio.to_thread(victim.proc.wait, 10) == -signal.SIGKILL

        # The subscriber's connection went down with its process: reconnect, read the
        # current state, and the next change arrives through a surviving process.
        assert await socket.closed_with(wait=15) is not None
        socket = await _watch(base, watcher, watched)
        assert await clients[0].balance(watched) == books.expected[watched]
        await _sees_current_state(socket, clients[0], watched)
        await socket.close()

        for player_id in players:  # exactly the accepted operations, no more, no less
            assert await clients[0].balance(player_id) == books.expected[player_id], player_id
        assert books.expected[players[1]] == FUNDS + ROUNDS * (WIN - BET)
    finally:
        for client in clients:
            await client.close()
        with contextlib.suppress(AttributeError):
            await proxy.close()
        for server in servers:
            server.stop()
    verify = await asyncio.to_thread(run_pms, settings, "ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    print(f"accepted {books.accepted} operations, {books.retries} retried tries")
