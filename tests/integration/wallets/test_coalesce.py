"""Group commit of concurrent single money operations (app/ledger/coalesce.py) through the
real ASGI app: a coalesced batch answers and writes what the same single calls do, one
refusal never touches another, a declined or failed batch re-runs each operation alone,
and under hundreds of real concurrent requests no money is lost, doubled or overdrawn."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from app.core.db import Database
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import coalesce, service, set_batch
from app.ledger.coalesce import Coalescer
from pms.asgi import create_app
from tests.conftest import truncate_all
from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    MUTATIONS,
    OPERATION_FIELDS,
    WalletGQL,
    assert_ledger_consistent,
    make_wallet_gql,
    scalar,
    wallets_of,
)

PLAY_ROUND = f"""mutation($input: PlayRoundInput!) {{ playRound(input: $input) {{
  {OPERATION_FIELDS} }} }}"""
Op = tuple[str, dict[str, Any]]  # (mutation, input)


class App:
    """The app with the group commit on (``concurrency`` runs in flight per caller)."""

    def __init__(self, gql: WalletGQL, app: Any) -> None:
        self.gql = gql
        self.coalescer: Coalescer | None = app.state.pms.coalescer

    async def send(self, op: Op, request_id: str | None = None) -> dict[str, Any]:
        name, fields = op
        query = PLAY_ROUND if name == "playRound" else MUTATIONS[name]
        headers = await self.gql.headers(GAME_ENGINE)
        if request_id is not None:
            headers = {**headers, "x-request-id": request_id}
        body = await self.gql.gql(query, {"input": fields}, **headers)
        assert "errors" not in body, body
        return body["data"][name]


@asynccontextmanager
async def app_with(
    settings: Settings, db: Database, *, on: bool = True, concurrency: int = 1
) -> AsyncIterator[App]:
    # Hundreds of queued calls on a busy 2-core machine: no request timeout in the way.
    tuned = settings.model_copy(update={
        "ledger_coalesce": on, "ledger_coalesce_concurrency": concurrency,
        "request_timeout_seconds": 300.0,
    })  # fmt: skip
    app = create_app(tuned, database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://pms.test") as http:  # fmt: skip
        yield App(make_wallet_gql(http, app), app)
        if app.state.pms.coalescer is not None:
            await app.state.pms.coalescer.close()


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


class Batches:
    """What the coalescer's metrics saw between ``__init__`` and ``since``."""

    def __init__(self) -> None:
        self.before = self._now()

    @staticmethod
    def _now() -> tuple[float, ...]:
        return (
            sample("pms_ledger_coalesced_batch_size_count"),
            sample("pms_ledger_coalesced_batch_size_sum"),
            sample("pms_ledger_coalesce_fallbacks_total", {"reason": "fallback"}),
            sample("pms_ledger_coalesce_fallbacks_total", {"reason": "error"}),
        )

    def since(self) -> tuple[float, ...]:
        return tuple(a - b for a, b in zip(self._now(), self.before, strict=True))


async def until(check: Callable[[], bool]) -> None:
    for _ in range(2000):  # a wait for a state, not a timing: fails only if it never comes
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the coalescer never reached the expected state")


async def one_batch(
    app: App, db: Database, blocker: str, ops: list[Op], ref: str | None = None,
    request_ids: list[str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """``ops`` queued in this order behind a run held up on ``blocker``'s wallet locks,
    so they make one batch (concurrency 1): the blocker's bet runs alone first."""
    co = app.coalescer
    assert co is not None
    async with db.transaction() as lock:
        await lock.execute(text("SELECT 1 FROM wallets WHERE player_id = :p FOR UPDATE"),
                           {"p": uuid.UUID(blocker)})  # fmt: skip
        blocked = bet(blocker, "0.01", ref or f"blk{uuid.uuid4().hex}")
        first = asyncio.create_task(app.send(blocked))
        await until(lambda: co.in_flight() == 1)
        tasks = []
        for i, op in enumerate(ops):  # one at a time: the queue keeps this order
            rid = request_ids[i] if request_ids else None
            tasks.append(asyncio.create_task(app.send(op, rid)))
            await until(lambda n=len(tasks): co.queued() == n)
    assert (await first)["__typename"] == "WalletOperation"
    return list(await asyncio.gather(*tasks))


def bet(player: str, amount: str, ref: str, key: str | None = None, tx: str | None = None) -> Op:
    return ("reserveBet", {"playerId": player, "amount": amount, "currency": "EUR",
                           "gameRoundId": f"r-{ref}", "transactionId": tx or f"t-{ref}",
                           "idempotencyKey": key or f"k-{ref}"})  # fmt: skip


def settle(player: str, ref: str, win: str, key: str | None = None) -> Op:
    return ("settleBet", {"playerId": player, "gameRoundId": f"r-{ref}", "winAmount": win,
                          "currency": "EUR", "transactionId": f"w-{ref}",
                          "idempotencyKey": key or f"ks-{ref}"})  # fmt: skip


def rollback_bet(player: str, tx: str, key: str) -> Op:
    return ("rollbackBet", {"playerId": player, "transactionId": tx, "idempotencyKey": key})


def play_round(player: str, ref: str, stake: str, win: str) -> Op:
    return ("playRound", {"playerId": player, "gameRoundId": f"r-{ref}", "stake": stake,
                          "winAmount": win, "currency": "EUR", "transactionId": f"p-{ref}",
                          "idempotencyKey": f"kp-{ref}"})  # fmt: skip


async def fund(app: App, player: str, amount: str, ref: str | None = None) -> None:
    # A dashed UUID: the card-number scan blanks it, while 32 bare hex digits may hold a
    # Luhn-valid 13-19 digit stretch (about one reference in 250 was refused as a PAN).
    ref = ref or str(uuid.uuid4())
    done = await app.gql.op("deposit", playerId=player, amount=amount, currency="EUR",
                            paymentReference=f"tok_{ref}",
                            idempotencyKey=f"fund-{ref}")  # fmt: skip
    assert done["__typename"] == "WalletOperation", done


def kinds(results: list[dict[str, Any]]) -> list[str]:
    return [r["__typename"] for r in results]


# --- isolation inside one batch -------------------------------------------------------------


async def test_one_batch_commits_the_accepted_and_refuses_the_others_alone(
    settings, db, player_factory
):
    alice, bob, blocker = [await player_factory() for _ in range(3)]
    async with app_with(settings, db) as app:
        await fund(app, alice, "10.00")
        await fund(app, bob, "5.00")
        await fund(app, blocker, "1.00")
        batches = Batches()
        results = await one_batch(app, db, blocker, [
            bet(alice, "4.00", "a1"),
            bet(bob, "9.00", "b1"),  # more than bob has: a stored refusal
            bet(alice, "-1", "a2"),  # bad input
            ("cancelBet", {"playerId": alice, "reservationId": "999999",
                           "idempotencyKey": "k-c1"}),  # no such reservation
            settle(bob, "nowhere", "1.00"),  # no such round
            bet(alice, "5.00", "a3"),  # sees a1's 4.00 held
            bet(str(uuid.uuid4()), "1.00", "x1"),  # no such player
            bet(bob, "5.00", "b2"),  # b1 left bob's 5.00 alone
        ])  # fmt: skip

    # the blocker alone, then one batch of all eight; nothing fell back
    assert batches.since() == (2, 9, 0, 0)
    assert kinds(results) == [
        "WalletOperation", "InsufficientFunds", "ValidationError", "ReservationNotFound",
        "RoundNotFound", "WalletOperation", "NotFound", "WalletOperation",
    ]  # fmt: skip
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1000, "held": 900, "turnover": 0}
    assert (await wallets_of(db, bob))["REAL"] == {"balance": 500, "held": 500, "turnover": 0}
    # keys of the refused-with-an-error operations were given back; a1, a3, b2, b1 stored
    stored = await scalar(db, "SELECT string_agg(key, ',' ORDER BY key) FROM idempotency_keys "
                              "WHERE key LIKE 'k-%' AND key NOT LIKE 'k-blk%'")  # fmt: skip
    assert stored == "k-a1,k-a3,k-b1,k-b2"
    await assert_ledger_consistent(db)


async def test_each_call_of_a_batch_audits_its_own_request_id(settings, db, player_factory):
    alice, bob, blocker = [await player_factory() for _ in range(3)]
    async with app_with(settings, db) as app:
        await fund(app, alice, "10.00")
        await fund(app, bob, "1.00")
        await fund(app, blocker, "1.00")
        batches = Batches()
        refs = ["ra1", "rb1", "ra2", "rb2"]
        results = await one_batch(app, db, blocker, [
            bet(alice, "1.00", "ra1"), bet(bob, "5.00", "rb1"),  # rb1: a stored refusal
            bet(alice, "2.00", "ra2"), bet(bob, "0.50", "rb2"),
        ], request_ids=[f"req-{r}" for r in refs])  # fmt: skip
    assert batches.since()[:2] == (2, 5)  # the blocker alone, then the four as one batch
    assert kinds(results) == ["WalletOperation", "InsufficientFunds", "WalletOperation",
                              "WalletOperation"]  # fmt: skip
    async with db.read_session() as session:
        rows = (await session.execute(text(
            "SELECT a.request_id, a.outcome, a.target FROM audit_log a"
            " WHERE a.action = 'ledger.reserveBet' AND a.request_id LIKE 'req-%'"
            " ORDER BY a.id"
        ))).all()  # fmt: skip
    assert [(r.request_id, r.outcome, r.target) for r in rows] == [
        ("req-ra1", "success", alice), ("req-rb1", "failure", bob),
        ("req-ra2", "success", alice), ("req-rb2", "success", bob),
    ]  # fmt: skip


# --- equality with single calls ------------------------------------------------------------

WAVES: list[Callable[[list[str]], list[Op]]] = [
    lambda p: [
        bet(p[0], "4.00", "a1"), bet(p[1], "9.00", "b1"), bet(p[0], "-1", "a2"),
        bet(p[0], "5.00", "a3"), bet(p[0], "4.00", "a1"),  # a1 again: its replay
        bet(p[0], "1.00", "a4", key="k-a1"),  # a1's key, another body
        bet(p[2], "1.00", "c1"), rollback_bet(p[1], "t-never", "k-rb1"),
        bet(p[1], "2.00", "b2"), play_round(p[2], "c2", "0.50", "0.00"),
    ],
    lambda p: [
        settle(p[0], "a1", "2.00"), settle(p[0], "a3", "0.00"), settle(p[1], "none", "1.00"),
        settle(p[0], "a1", "2.00"),  # the settle again: replayed
        play_round(p[0], "a5", "3.00", "6.00"), rollback_bet(p[1], "t-b2", "k-rb2"),
        play_round(p[1], "b3", "50.00", "1.00"),  # more than bob has
        ("rollbackRound", {"playerId": p[0], "gameRoundId": "r-a1", "transactionId": "rr-a1",
                           "idempotencyKey": "k-rr1"}),
    ],
]  # fmt: skip


async def run_waves(settings, db, player_factory, *, on: bool) -> dict[str, Any]:
    players = [await player_factory() for _ in range(4)]
    blocker = players[3]
    answers: list[dict[str, Any]] = []
    async with app_with(settings, db, on=on) as app:
        for i, amount in enumerate(("10.00", "5.00", "2.00", "1.00")):
            await fund(app, players[i], amount, ref=f"f{i}")
        for i, wave in enumerate(WAVES):
            ops = wave(players)
            if on:
                answers += await one_batch(app, db, blocker, ops, ref=f"blk{i}")
            else:  # the same calls one by one, in the batch's order, blocker first
                await app.send(bet(blocker, "0.01", f"blk{i}"))
                answers += [await app.send(op) for op in ops]
    return normalized({"answers": answers, **await money_tables(db)}, players)


TABLES = ("wallets", "ledger_transfers", "ledger_holds", "game_rounds", "game_transactions",
          "idempotency_keys", "audit_log", "outbox_events")  # fmt: skip
# Ids (sequence values: a single call's rolled-back LOAD uses one up, a batch does not),
# times, request hashes (of the random player ids) and the audit rows' request id (a
# batch writes its one: see coalesce.py).
DROPPED = {"id", "operation_id", "operationId", "event_id", "request_id", "time",
           "occurredAt", "reservationId", "reservationIds", "game_round_id", "hold_id",
           "request_hash"}  # fmt: skip


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Audit IP and user agent are pseudonyms under a key made per database: present or not.
KEYED = {"ip", "user_agent"}


async def money_tables(db: Database) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with db.read_session() as session:
        for table in TABLES:
            rows = await session.execute(text(f"SELECT to_jsonb(t)::text FROM {table} t"))
            out[table] = [strip(json.loads(r[0])) for r in rows]
    return out


def strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v is not None) if k in KEYED else strip(v) for k, v in value.items()
                if k not in DROPPED and not k.endswith("_at")}  # fmt: skip
    if isinstance(value, list):
        return [strip(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return strip(json.loads(value))
        except ValueError:
            return value
    return value


def normalized(found: dict[str, Any], players: list[str]) -> dict[str, Any]:
    text_ = json.dumps(strip(found), sort_keys=True)
    for i, player in enumerate(players):
        text_ = text_.replace(player, f"P{i}")
    out = json.loads(UUID.sub("UUID", text_))  # operation ids (balance events' transactionId)
    for table in TABLES:  # rows in a stable order whatever the ids
        out[table] = sorted(json.dumps(r, sort_keys=True) for r in out[table])
    return out


async def test_coalesced_batches_answer_and_write_what_single_calls_do(
    settings, db, player_factory
):
    single = await run_waves(settings, db, player_factory, on=False)
    await truncate_all(db)
    batches = Batches()
    coalesced = await run_waves(settings, db, player_factory, on=True)

    assert batches.since()[2:] == (0, 0)  # set-based, no fallback
    assert batches.since()[0] == 2 * len(WAVES)  # each wave: the blocker, then one batch
    assert coalesced["answers"] == single["answers"]
    assert [a["__typename"] for a in coalesced["answers"]][:10] == [
        "WalletOperation", "InsufficientFunds", "ValidationError", "WalletOperation",
        "WalletOperation", "IdempotencyKeyReused", "WalletOperation", "WalletOperation",
        "WalletOperation", "WalletOperation",
    ]  # fmt: skip
    for table in TABLES:
        assert coalesced[table] == single[table], table
    await assert_ledger_consistent(db)


# --- fallback: declined by set_batch, or a failed transaction ---------------------------------


async def test_a_declined_batch_runs_each_operation_alone(settings, db, player_factory):
    alice, blocker = await player_factory(), await player_factory()
    async with app_with(settings, db) as app:
        await fund(app, alice, "10.00")
        await fund(app, blocker, "1.00")
        batches = Batches()
        # A tombstone, then a bet naming its transaction id: set_batch declines the batch.
        results = await one_batch(app, db, blocker, [
            bet(alice, "1.00", "a1"), rollback_bet(alice, "t-x", "k-rb"),
            bet(alice, "2.00", "a2", tx="t-x"), bet(alice, "3.00", "a3"),
        ])  # fmt: skip

    assert batches.since() == (2, 5, 1, 0)
    assert kinds(results) == ["WalletOperation", "WalletOperation", "DuplicateTransaction",
                              "WalletOperation"]  # fmt: skip
    assert (await wallets_of(db, alice))["REAL"]["held"] == 400
    await assert_ledger_consistent(db)


async def test_a_failed_batch_transaction_runs_each_operation_alone(
    settings, db, player_factory, monkeypatch
):
    alice, bob, blocker = [await player_factory() for _ in range(3)]
    real_run = set_batch.run

    async def deadlocked(conn: Any, *args: Any, **kwargs: Any) -> Any:
        await real_run(conn, *args, **kwargs)  # every row written, then the error
        raise asyncpg.DeadlockDetectedError("deadlock detected (injected)")

    async with app_with(settings, db) as app:
        await fund(app, alice, "10.00")
        await fund(app, bob, "1.00")
        await fund(app, blocker, "1.00")
        monkeypatch.setattr(coalesce.set_batch, "run", deadlocked)
        batches = Batches()
        results = await one_batch(app, db, blocker, [
            bet(alice, "4.00", "a1"), bet(bob, "2.00", "b1"), bet(alice, "4.00", "a1"),
            bet(alice, "7.00", "a2"),
        ])  # fmt: skip

    assert batches.since() == (2, 5, 0, 1)
    assert kinds(results) == ["WalletOperation", "InsufficientFunds", "WalletOperation",
                              "InsufficientFunds"]  # fmt: skip
    assert results[2] == results[0]  # the same key: replayed from the committed first
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1000, "held": 400, "turnover": 0}
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE purpose = 'BET'") == 2
    await assert_ledger_consistent(db)


# --- races through real HTTP --------------------------------------------------------------


@pytest.mark.race
@pytest.mark.parametrize("players", [1, 40])
async def test_hundreds_of_concurrent_bets_settles_and_retries(
    settings, db, player_factory, players
):
    """150 rounds (bet, then settle) over one hot wallet or 40, every call sent 1-3 times
    at once with its key (about 600 requests); funds for 100 concurrent stakes a wallet."""
    database = Database(settings.database_url or "", pool_size=16, max_overflow=0)
    ids = [await player_factory() for _ in range(players)]
    try:
        async with app_with(settings, database, concurrency=2) as app:
            for p in ids:
                await fund(app, p, "1.00")
            batches = Batches()

            async def round_of(i: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                p, copies = ids[i % players], 1 + i % 3
                bets = await asyncio.gather(*(app.send(bet(p, "0.01", f"{i}"))
                                              for _ in range(copies)))  # fmt: skip
                if bets[0]["__typename"] != "WalletOperation":
                    return list(bets), []
                settles = await asyncio.gather(*(app.send(settle(p, f"{i}", "0.02"))
                                                 for _ in range(copies)))  # fmt: skip
                return list(bets), list(settles)

            rounds = await asyncio.gather(*(round_of(i) for i in range(150)))
            assert batches.since()[1] > batches.since()[0]  # some batches held several
    finally:
        await database.dispose()

    settled = 0
    for bets, settles in rounds:
        assert len({json.dumps(b, sort_keys=True) for b in bets}) == 1  # retries: identical
        assert len({json.dumps(s, sort_keys=True) for s in settles}) <= 1
        assert bets[0]["__typename"] in ("WalletOperation", "InsufficientFunds")
        if settles:
            assert settles[0]["__typename"] == "WalletOperation"
            settled += 1
    # money moved once per round: every settled round won 0.01 net
    total = await scalar(db, "SELECT sum(balance) FROM wallets WHERE kind = 'REAL'")
    assert total == players * 100 + settled
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE status = 'PENDING'") == 0
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == sum(
        1 for b, _ in rounds if b[0]["__typename"] == "WalletOperation"
    )
    await assert_ledger_consistent(db)


# --- a caller gone while queued --------------------------------------------------------------


async def test_a_caller_cancelled_while_queued_is_dropped_and_nothing_is_left_unretrieved(
    settings, db, player_factory
):
    alice = await player_factory()
    async with app_with(settings, db) as app:
        await fund(app, alice, "10.00")
    caller = Principal.system("coalesce-test")
    co = Coalescer(db.driver_transaction, size=10, concurrency=1)
    unhandled: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))

    def reserve(ref: str) -> tuple[Callable[[], Any], Callable[[Any], Awaitable[Any]]]:
        args = {"player_id": uuid.UUID(alice), "amount": "1.00", "currency": "EUR",
                "game_round_id": f"r-{ref}", "transaction_id": f"t-{ref}",
                "idempotency_key": f"k-{ref}"}  # fmt: skip
        return (lambda: service.prepare_reserve_bet(settings, **args),
                lambda unit: service.reserve_bet(unit, settings, caller, **args))  # fmt: skip

    try:
        async with db.transaction() as lock:
            await lock.execute(text("SELECT 1 FROM wallets WHERE player_id = :p FOR UPDATE"),
                               {"p": uuid.UUID(alice)})  # fmt: skip
            first = asyncio.create_task(co.run(settings, caller, *reserve("first")))
            await until(lambda: co.in_flight() == 1)
            gone = asyncio.create_task(co.run(settings, caller, *reserve("gone")))
            kept = asyncio.create_task(co.run(settings, caller, *reserve("kept")))
            await until(lambda: co.queued() == 2)
            gone.cancel()
        assert (await first).status == "OK"
        assert (await kept).status == "OK"
        with pytest.raises(asyncio.CancelledError):
            await gone
        await co.close()
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert unhandled == []
    keys = await scalar(db, "SELECT string_agg(key, ',' ORDER BY key) FROM idempotency_keys "
                            "WHERE key LIKE 'k-%'")  # fmt: skip
    assert keys == "k-first,k-kept"
    await assert_ledger_consistent(db)
