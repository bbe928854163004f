"""The set-based walletBatch (app/ledger/set_batch.py: one LOAD and one APPLY for a batch
of reserveBets) through the real ASGI app: the same answers, rows and limits as running
the operations one by one, idempotency inside and across batches, and no overdraft under
real concurrent batches over shared players."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import Any

import asyncpg
import pytest

from app.core.db import asyncpg_dsn
from app.responsible import service as rg
from app.responsible.models import LimitKind, LimitPeriod
from tests.integration.responsible.conftest import player_caller
from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    MUTATIONS,
    assert_ledger_consistent,
    new_key,
    scalar,
    until_another_waits_for_a_lock,
    wallets_of,
)
from tests.integration.wallets.test_wallet_batch import BATCH

ONE_BY_ONE = "walletBatch one by one"


@pytest.fixture
def set_based(caplog):
    """Asserts, after the test, that no batch fell back to the one-by-one path."""
    caplog.set_level(logging.DEBUG, logger="app.ledger.batch")
    yield
    assert not [r for r in caplog.records if ONE_BY_ONE in r.getMessage()]


async def run_batch(gql, ops: list[dict[str, Any]], atomic: bool = False) -> dict[str, Any]:
    body = await gql.raw(BATCH, {"ops": ops, "atomic": atomic}, as_=GAME_ENGINE)
    assert "errors" not in body, body
    return body["data"]["walletBatch"]


def bet(player: str, amount: str, ref: str, key: str | None = None) -> dict[str, Any]:
    return {"reserveBet": {"playerId": player, "amount": amount, "currency": "EUR",
                           "gameRoundId": f"r-{ref}", "transactionId": f"t-{ref}",
                           "idempotencyKey": key or f"k-{ref}"}}  # fmt: skip


async def fund(gql, player: str, amount: str) -> None:
    await gql.op("deposit", playerId=player, amount=amount, currency="EUR",
                 paymentReference=f"tok_{new_key()}")  # fmt: skip


async def set_wager_limit(db, settings, player: str, amount: str) -> None:
    async with db.transaction() as s:
        await rg.set_limit(s, settings, player_caller(player), player_id=uuid.UUID(player),
                           kind=LimitKind.WAGER, period=LimitPeriod.DAY, amount=amount)  # fmt: skip


async def test_set_based_batch_answers_in_order_with_the_single_calls_refusals(
    wallet_gql, db, player_factory, set_based
):
    alice, bob = await player_factory(), await player_factory()
    await fund(wallet_gql, alice, "10.00")
    await fund(wallet_gql, bob, "5.00")
    before_keys = await scalar(db, "SELECT count(*) FROM idempotency_keys")
    ops = [
        bet(alice, "4.00", "a1"),
        bet(bob, "9.00", "b1"),  # more than bob has: a stored refusal
        bet(alice, "-1", "a2"),  # bad input: refused before any statement
        bet(alice, "5.00", "a3"),  # sees the 4.00 held by a1
        bet(alice, "4.00", "a1"),  # the same key and body as a1: a1's answer
        bet(alice, "1.00", "a4", key="k-a1"),  # a1's key, another body
        bet(str(uuid.uuid4()), "1.00", "x1"),  # no such player
        bet(alice, "2.00", "a5"),  # 1.00 left: refused
        bet(bob, "5.00", "b2"),  # the refused b1 left bob's 5.00 alone
    ]
    result = await run_batch(wallet_gql, ops)

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["WalletOperation", "InsufficientFunds", "ValidationError",
                     "WalletOperation", "WalletOperation", "IdempotencyKeyReused", "NotFound",
                     "InsufficientFunds", "WalletOperation"]  # fmt: skip
    first, replayed = result["results"][0], result["results"][4]
    assert replayed == first
    assert [r.get("gameRoundId") for r in result["results"]] == [
        "r-a1", None, None, "r-a3", "r-a1", None, None, None, "r-b2"]  # fmt: skip
    assert result["applied"] == 6  # a1, b1 (stored), a3, a1 again, a5 (stored), b2
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1000, "held": 900, "turnover": 0}
    assert (await wallets_of(db, bob))["REAL"] == {"balance": 500, "held": 500, "turnover": 0}
    # keys: a1, a3, b2 and the two stored refusals; the refused ones gave theirs back
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys") == before_keys + 5
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE purpose = 'BET'") == 3
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bet.reserved'") == 3
    audits = await scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'ledger.reserveBet'")
    assert audits >= 5  # the five stored answers (plus the refusals the resolver audits)
    await assert_ledger_consistent(db)


async def test_set_based_atomic_batch_is_all_or_nothing(wallet_gql, db, player_factory, set_based):
    alice = await player_factory()
    await fund(wallet_gql, alice, "5.00")
    holds = await scalar(db, "SELECT count(*) FROM ledger_holds")

    refused = await run_batch(wallet_gql, [bet(alice, "3.00", "t1"), bet(alice, "3.00", "t2"),
                                           bet(alice, "1.00", "t3")], atomic=True)  # fmt: skip
    assert [r["__typename"] for r in refused["results"]] == [
        "BatchNotApplied", "InsufficientFunds", "BatchNotApplied"]  # fmt: skip
    assert refused["applied"] == 0
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == holds
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'k-t%'") == 0

    ok = await run_batch(wallet_gql, [bet(alice, "3.00", "t1"), bet(alice, "2.00", "t2")],
                         atomic=True)  # fmt: skip
    assert [r["__typename"] for r in ok["results"]] == ["WalletOperation", "WalletOperation"]
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 500, "held": 500, "turnover": 0}
    await assert_ledger_consistent(db)


def _normal(answer: dict[str, Any]) -> tuple[Any, ...]:
    """An answer without what differs between two players (ids, references)."""
    return (answer["__typename"], answer.get("code"), answer.get("operation"),
            answer.get("transfers"), answer.get("holds"),
            [(w["kind"], w.get("balance"), w.get("held"), w["available"])
             for w in answer.get("wallets") or []])  # fmt: skip


PER_PLAYER = {
    "holds": "SELECT count(*) FROM ledger_holds WHERE player_id = :p",
    "transfers": "SELECT count(*) FROM ledger_transfers WHERE player_id = :p",
    "events": "SELECT count(*) FROM outbox_events WHERE subject = CAST(CAST(:p AS uuid) AS text)",
    "audit": "SELECT count(*) FROM audit_log WHERE target = CAST(CAST(:p AS uuid) AS text) "
    "AND action = 'ledger.reserveBet'",
    "limits": "SELECT coalesce(sum(used), 0) FROM gambling_limits WHERE player_id = :p",
}


async def _per_player_rows(db, player: str) -> dict[str, Any]:
    return {name: await scalar(db, sql, p=uuid.UUID(player)) for name, sql in PER_PLAYER.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_batch_answers_and_writes_what_the_same_operations_one_by_one_do(
    wallet_gql, db, settings, player_factory, seed, set_based
):
    """Property: random reserveBets (some above the balance or a wager limit, some
    repeating an earlier key with its body or with another) give, run in walletBatches,
    the answers, balances, limit counters and per-player rows they give one by one."""
    rnd = random.Random(seed)
    deposits, limit = ["10.00", "5.00", "0.00", "3.00"], "4.00"
    groups: dict[str, list[str]] = {}
    for group in ("batch", "single"):
        groups[group] = [await player_factory() for _ in deposits]
        for player, amount in zip(groups[group], deposits, strict=True):
            if amount != "0.00":
                await fund(wallet_gql, player, amount)
        await set_wager_limit(db, settings, groups[group][3], limit)
    plans: list[tuple[int, str, str, str]] = []  # player index, amount, ref, key
    for i in range(60):
        roll = rnd.random()
        if plans and roll < 0.1:
            plans.append(rnd.choice(plans))  # a retry: same key, same body
        elif plans and roll < 0.15:
            p, _, _, key = rnd.choice(plans)
            plans.append((p, "0.10", f"{seed}-{i}", key))  # the key with another body
        else:
            amount = rnd.choice(["0.50", "1.00", "2.50", "4.00"])
            plans.append((rnd.randrange(4), amount, f"{seed}-{i}", f"{seed}-{i}"))

    def op(group: str, p: int, amount: str, ref: str, key: str) -> dict[str, Any]:
        return bet(groups[group][p], amount, f"{group}-{ref}", key=f"{group}-{key}")

    batched: list[dict[str, Any]] = []
    for start in range(0, len(plans), 20):
        chunk = [op("batch", *plan) for plan in plans[start : start + 20]]
        batched += (await run_batch(wallet_gql, chunk))["results"]
    singles = []
    for plan in plans:
        fields = op("single", *plan)["reserveBet"]
        body = await wallet_gql.raw(MUTATIONS["reserveBet"], {"input": fields}, as_=GAME_ENGINE)
        singles.append(body["data"]["reserveBet"])

    assert [_normal(a) for a in batched] == [_normal(a) for a in singles]
    for mine, theirs in zip(groups["batch"], groups["single"], strict=True):
        assert await wallets_of(db, mine) == await wallets_of(db, theirs)
        assert await _per_player_rows(db, mine) == await _per_player_rows(db, theirs)
    await assert_ledger_consistent(db)


@pytest.mark.race
async def test_concurrent_set_based_batches_with_shared_keys_apply_each_key_once(
    isolated_wallet_gql, db, settings, player_factory, set_based
):
    """20 concurrent batches of 25 reserveBets drawn from 150 bets of six players (each
    bet sent by about three batches, some twice in one batch; one player under a wager
    limit): no overdraft, nothing past the limit, each key held exactly once, every
    answer of one key the same, answers in order, the ledger balanced."""
    gql = isolated_wallet_gql
    players = [await player_factory() for _ in range(6)]
    for player in players:
        await fund(gql, player, "20.00")
    await set_wager_limit(db, settings, players[5], "7.00")
    rnd = random.Random(7)
    bets = [bet(players[i % 6], "1.00", f"race-{i}") for i in range(150)]
    batches = [[rnd.choice(bets) for _ in range(25)] for _ in range(20)]

    results = await asyncio.gather(*(run_batch(gql, ops) for ops in batches))

    by_key: dict[str, set[str]] = {}
    for ops, result in zip(batches, results, strict=True):
        for sent, answer in zip(ops, result["results"], strict=True):
            fields = sent["reserveBet"]
            if answer["__typename"] == "WalletOperation":
                assert answer["gameRoundId"] == fields["gameRoundId"]  # in order
                by_key.setdefault(fields["idempotencyKey"], set()).add(answer["reservationId"])
            else:
                assert answer["__typename"] in ("InsufficientFunds", "LimitExceeded"), answer
    assert all(len(ids) == 1 for ids in by_key.values())  # replays answer the same hold
    holds = await scalar(db, "SELECT count(*) FROM ledger_holds WHERE transaction_id LIKE "
                         "'t-race-%'")  # fmt: skip
    assert holds == len(by_key)
    once = await scalar(db, "SELECT count(*) FROM (SELECT transaction_id FROM ledger_holds "
                        "GROUP BY transaction_id HAVING count(*) > 1) d")  # fmt: skip
    assert once == 0
    for i, player in enumerate(players):
        real = (await wallets_of(db, player))["REAL"]
        assert real["balance"] == 2000 and real["held"] <= (700 if i == 5 else 2000)
        mine = sum(1 for k in by_key if int(k.rsplit("-", 1)[1]) % 6 == i)
        assert real["held"] == 100 * mine
    assert await scalar(db, "SELECT used FROM gambling_limits WHERE player_id = :p",
                        p=uuid.UUID(players[5])) == (await wallets_of(db, players[5]))[
                            "REAL"]["held"]  # fmt: skip
    await assert_ledger_consistent(db)


async def test_two_bets_on_one_round_run_set_based_with_the_single_calls_rows(
    wallet_gql, db, player_factory, set_based
):
    """The second bet of a round joins the round the first created in the same batch
    (the batch's own state): one round row, two holds on it."""
    alice = await player_factory()
    await fund(wallet_gql, alice, "5.00")
    first, second = bet(alice, "1.00", "same-1"), bet(alice, "2.00", "same-2")
    second["reserveBet"]["gameRoundId"] = first["reserveBet"]["gameRoundId"]

    result = await run_batch(wallet_gql, [first, second])

    assert [r["__typename"] for r in result["results"]] == ["WalletOperation"] * 2
    assert [r["gameRoundId"] for r in result["results"]] == ["r-same-1"] * 2
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE round_ref = 'r-same-1'") == 1
    assert await scalar(db, "SELECT count(DISTINCT game_round_id) FROM ledger_holds "
                        "WHERE player_id = :p", p=uuid.UUID(alice)) == 1  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE player_id = :p",
                        p=uuid.UUID(alice)) == 2  # fmt: skip
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 500, "held": 300, "turnover": 0}
    await assert_ledger_consistent(db)


async def test_a_batch_sent_again_answers_what_the_plans_answered(
    wallet_gql, player_factory, set_based
):
    # The first answers come from the plans' documents, the second from the stored texts
    # (parsed once): every field the same, refusals included.
    alice, bob = await player_factory(), await player_factory()
    await fund(wallet_gql, alice, "10.00")
    ops = [bet(alice, "4.00", "d1"), bet(bob, "1.00", "d2"), bet(alice, "2.50", "d3")]
    first = await run_batch(wallet_gql, ops)
    again = await run_batch(wallet_gql, ops)

    kinds = [r["__typename"] for r in first["results"]]
    assert kinds == ["WalletOperation", "InsufficientFunds", "WalletOperation"]
    assert again["results"] == first["results"]
    assert first["results"][2]["wallets"][0]["available"]["amount"] == "3.50"


async def test_a_round_created_after_the_batch_load_began_runs_the_batch_one_by_one(
    wallet_gql, db, settings, player_factory, caplog
):
    """Another transaction holds the player's wallets and creates the round a batch's bet
    names; the batch's LOAD waits for the wallets and reads from a snapshot older than
    that round, so APPLY's insert of the round meets its unique key: the batch runs one
    by one and the bet joins the round (one row, the hold on it), nothing half-written."""
    caplog.set_level(logging.DEBUG, logger="app.ledger.batch")
    alice = await player_factory()
    await fund(wallet_gql, alice, "5.00")
    blocker = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM wallets WHERE player_id = $1 FOR UPDATE",
                              uuid.UUID(alice))  # fmt: skip
        await blocker.execute(
            "INSERT INTO game_rounds (client, round_ref, player_id, currency) "
            "VALUES ($1, 'r-late', $2, 'EUR')", GAME_ENGINE.key, uuid.UUID(alice),
        )  # fmt: skip
        late = bet(alice, "1.00", "late")
        batch = asyncio.create_task(run_batch(wallet_gql, [late]))
        await until_another_waits_for_a_lock(blocker)  # the batch, for the wallets
        await tx.commit()
        result = await batch
    finally:
        await blocker.close()

    assert [r["__typename"] for r in result["results"]] == ["WalletOperation"]
    assert result["results"][0]["gameRoundId"] == "r-late"
    assert [r for r in caplog.records if ONE_BY_ONE in r.getMessage()]
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE round_ref = 'r-late'") == 1
    assert await scalar(db, "SELECT count(*) FROM ledger_holds h JOIN game_rounds g "
                        "ON g.id = h.game_round_id WHERE g.round_ref = 'r-late'") == 1  # fmt: skip
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 500, "held": 100, "turnover": 0}
    await assert_ledger_consistent(db)
