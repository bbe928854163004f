"""walletBatch and playRound (issue 16 item 4) through the real ASGI app: per-operation
answers in order, isolation (one refusal does not undo the others), atomic all-or-nothing,
the single calls' idempotency, and no overdraft under real concurrent batches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    OPERATION_FIELDS,
    WalletGQL,
    assert_ledger_consistent,
    new_key,
    scalar,
    table_counts,
    wallets_of,
)

BATCH = f"""mutation($ops: [WalletBatchOperation!]!, $atomic: Boolean! = false) {{
  walletBatch(operations: $ops, atomic: $atomic) {{
    __typename
    ... on WalletBatchResults {{ atomic applied results {{ {OPERATION_FIELDS}
                                 ... on BatchNotApplied {{ failedIndex }} }} }}
    ... on ValidationError {{ code field message }}
    ... on Forbidden {{ code }}
  }} }}"""
PLAY_ROUND = (
    f"""mutation($input: PlayRoundInput!) {{ playRound(input: $input) {{ {OPERATION_FIELDS} }} }}"""
)


async def batch(gql: WalletGQL, ops: list[dict[str, Any]], *, atomic: bool = False,
                as_: Any = GAME_ENGINE) -> dict[str, Any]:  # fmt: skip
    for op in ops:
        for fields in op.values():
            fields.setdefault("idempotencyKey", new_key())
    body = await gql.raw(BATCH, {"ops": ops, "atomic": atomic}, as_=as_)
    assert "errors" not in body, body
    return body["data"]["walletBatch"]


def bet(player: str, amount: str, i: int) -> dict[str, Any]:
    return {"reserveBet": {"playerId": player, "amount": amount, "currency": "EUR",
                           "gameRoundId": f"r{i}", "transactionId": f"b{i}"}}  # fmt: skip


def deposit(player: str, amount: str) -> dict[str, Any]:
    return {"deposit": {"playerId": player, "amount": amount, "currency": "EUR",
                        "paymentReference": f"tok_{new_key()}"}}  # fmt: skip


async def test_batch_answers_each_operation_in_order_and_isolates_refusals(
    wallet_gql, db, player_factory
):
    alice, bob = await player_factory(), await player_factory()
    result = await batch(wallet_gql, [
        deposit(alice, "10.00"),
        deposit(bob, "5.00"),
        bet(alice, "4.00", 1),
        bet(bob, "9.00", 2),  # more than bob has: refused as a business outcome
        {"reserveBet": {"playerId": alice, "amount": "-1", "currency": "EUR",
                        "gameRoundId": "r3", "transactionId": "b3"}},  # bad input
        bet(alice, "6.00", 4),
    ])  # fmt: skip

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["WalletOperation", "WalletOperation", "WalletOperation",
                     "InsufficientFunds", "ValidationError", "WalletOperation"]  # fmt: skip
    assert result["applied"] == 5 and result["atomic"] is False
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1000, "held": 1000, "turnover": 0}
    assert (await wallets_of(db, bob))["REAL"] == {"balance": 500, "held": 0, "turnover": 0}
    # the refused bad input left nothing behind, not even its idempotency claim
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == 2
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys") == 5
    await assert_ledger_consistent(db)


async def test_atomic_batch_is_all_or_nothing(wallet_gql, db, player_factory):
    alice = await player_factory()
    await wallet_gql.op("deposit", playerId=alice, amount="5.00", currency="EUR",
                        paymentReference="tok_1")  # fmt: skip
    before = await table_counts(db)

    result = await batch(wallet_gql, [deposit(alice, "10.00"), bet(alice, "3.00", 1),
                                      bet(alice, "50.00", 2)], atomic=True)  # fmt: skip

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["BatchNotApplied", "BatchNotApplied", "InsufficientFunds"]
    assert [r.get("failedIndex") for r in result["results"][:2]] == [2, 2]
    assert result["applied"] == 0
    assert await table_counts(db) == before
    assert (await wallets_of(db, alice))["REAL"]["balance"] == 500

    ok = await batch(wallet_gql, [deposit(alice, "10.00"), bet(alice, "3.00", 1)], atomic=True)
    assert [r["__typename"] for r in ok["results"]] == ["WalletOperation", "WalletOperation"]
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 1500, "held": 300, "turnover": 0}
    await assert_ledger_consistent(db)


async def test_a_retried_batch_replays_every_answer_and_writes_once(wallet_gql, db, player_factory):
    alice = await player_factory()
    ops = [deposit(alice, "20.00"), bet(alice, "2.00", 1), bet(alice, "3.00", 2)]
    first = await batch(wallet_gql, ops)
    counts = await table_counts(db)

    again = await batch(wallet_gql, ops)  # the same keys

    assert json.dumps(again) == json.dumps(first)
    assert await table_counts(db) == counts
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 2000, "held": 500, "turnover": 0}


async def test_batch_size_and_shape_are_validated(wallet_gql, db, player_factory, settings):
    alice = await player_factory()
    too_many = [deposit(alice, "1.00") for _ in range(settings.wallet_batch_max_operations + 1)]
    over = await batch(wallet_gql, too_many)
    empty = await batch(wallet_gql, [])
    assert over["__typename"] == empty["__typename"] == "ValidationError"
    assert over["field"] == "operations"
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 0

    both = {**deposit(alice, "1.00"), **bet(alice, "1.00", 1)}  # two operations in one item
    for fields in both.values():
        fields["idempotencyKey"] = new_key()
    body = await wallet_gql.raw(BATCH, {"ops": [both]}, as_=GAME_ENGINE)
    assert body["data"] is None and "exactly one" in body["errors"][0]["message"].lower()


async def test_batch_needs_wallet_operate(wallet_gql, db, player_factory):
    from tests.auth import staff_principal

    alice = await player_factory()
    result = await batch(wallet_gql, [deposit(alice, "1.00")], as_=staff_principal("MARKETER"))
    assert result == {"__typename": "Forbidden", "code": "FORBIDDEN"}
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 0


@pytest.mark.race
async def test_concurrent_batches_never_overdraw(isolated_wallet_gql, db, player_factory):
    """16 concurrent batches of 10 bets, each on two of four players (in both orders, so
    without the up-front locks they would deadlock), against 20.00 per player: each
    player's 40 bets of 1.00 are accepted exactly 20 times."""
    gql = isolated_wallet_gql
    players = [await player_factory() for _ in range(4)]
    for player in players:
        await gql.op("deposit", playerId=player, amount="20.00", currency="EUR",
                     paymentReference="tok_1")  # fmt: skip

    def ops(n: int) -> list[dict[str, Any]]:
        pair = (players[n % 4], players[(n + 1) % 4])
        pair = pair if n % 2 else pair[::-1]
        return [bet(pair[i % 2], "1.00", n * 100 + i) for i in range(10)]

    results = await asyncio.gather(*(batch(gql, ops(n)) for n in range(16)))

    kinds = [r["__typename"] for b in results for r in b["results"]]
    assert kinds.count("WalletOperation") == 80
    assert kinds.count("InsufficientFunds") == 80
    for player in players:
        assert (await wallets_of(db, player))["REAL"] == {"balance": 2000, "held": 2000,
                                                          "turnover": 0}  # fmt: skip
    await assert_ledger_consistent(db)


async def test_play_round_bets_and_wins_in_one_call(wallet_gql, db, player_factory):
    alice = await player_factory()
    await wallet_gql.op("deposit", playerId=alice, amount="10.00", currency="EUR",
                        paymentReference="tok_1")  # fmt: skip
    round_ = {"playerId": alice, "gameRoundId": "round-1", "stake": "2.00", "winAmount": "5.00",
              "currency": "EUR", "transactionId": "tx-1", "idempotencyKey": "play-1"}  # fmt: skip

    first = (await wallet_gql.raw(PLAY_ROUND, {"input": round_}, as_=GAME_ENGINE))["data"]
    counts = await table_counts(db)
    again = (await wallet_gql.raw(PLAY_ROUND, {"input": round_}, as_=GAME_ENGINE))["data"]

    assert first["playRound"]["__typename"] == "WalletOperation"
    assert first["playRound"]["operation"] == "settleBet"
    assert again == first and await table_counts(db) == counts
    real = (await wallets_of(db, alice))["REAL"]
    assert real["balance"] == 1300 and real["held"] == 0  # 10 - 2 + 5
    await assert_ledger_consistent(db)

    broke = {**round_, "stake": "100.00", "transactionId": "tx-2", "idempotencyKey": "play-2",
             "gameRoundId": "round-2"}  # fmt: skip
    refused = (await wallet_gql.raw(PLAY_ROUND, {"input": broke}, as_=GAME_ENGINE))["data"]
    assert refused["playRound"]["__typename"] == "InsufficientFunds"
    assert (await wallets_of(db, alice))["REAL"]["balance"] == 1300
    assert await scalar(db, "SELECT count(*) FROM game_rounds WHERE round_ref = 'round-2'") in (
        0,
        None,
    )


async def test_play_round_in_a_batch(wallet_gql, db, player_factory):
    alice = await player_factory()
    result = await batch(wallet_gql, [deposit(alice, "10.00"), {"playRound": {
        "playerId": alice, "gameRoundId": "r1", "stake": "1.00", "winAmount": "0",
        "currency": "EUR", "transactionId": "t1"}}])  # fmt: skip
    assert [r["__typename"] for r in result["results"]] == ["WalletOperation", "WalletOperation"]
    assert (await wallets_of(db, alice))["REAL"] == {"balance": 900, "held": 0, "turnover": 100}
    await assert_ledger_consistent(db)


DEVICE_EVENTS = """SELECT subject, data->>'operation' AS operation, data->>'ipHash' AS ip,
  data->>'deviceHash' AS device FROM outbox_events WHERE type = 'player.device_seen'
  ORDER BY id"""


async def device_events(db) -> list[tuple[str, str, str, str]]:
    from sqlalchemy import text

    async with db.read_session() as s:
        return [tuple(r) for r in (await s.execute(text(DEVICE_EVENTS))).all()]


async def test_batch_and_play_round_record_device_telemetry_like_single_calls(
    wallet_gql, db, player_factory
):
    alice, bob = await player_factory(), await player_factory()
    seen = {"deviceFingerprint": "fp-alice", "ipAddress": " 198.51.100.7 "}
    await wallet_gql.op("deposit", playerId=alice, amount="10.00", currency="EUR",
                        paymentReference="tok_1", **seen)  # fmt: skip
    (single,) = await device_events(db)
    assert single[:2] == (alice, "deposit") and single[2] and single[3]

    round_ = {
        "playerId": alice,
        "gameRoundId": "r-1",
        "stake": "1.00",
        "winAmount": "0",
        "currency": "EUR",
        "transactionId": "t-1",
        "idempotencyKey": new_key(),
        **seen,
    }
    played = await wallet_gql.raw(PLAY_ROUND, {"input": round_}, as_=GAME_ENGINE)
    assert played["data"]["playRound"]["__typename"] == "WalletOperation"
    result = await batch(wallet_gql, [
        {"deposit": {**deposit(alice, "2.00")["deposit"], **seen}},
        {"playRound": {**round_, "gameRoundId": "r-2", "transactionId": "t-2",
                       "idempotencyKey": new_key()}},
        {"playRound": {**round_, "playerId": bob, "gameRoundId": "r-3", "transactionId": "t-3",
                       "idempotencyKey": new_key()}},  # bob has nothing: refused, not recorded
        {"deposit": {**deposit(bob, "1.00")["deposit"], "ipAddress": "not-an-ip"}},
        deposit(bob, "3.00"),  # no telemetry sent: none recorded
    ])  # fmt: skip

    kinds = [r["__typename"] for r in result["results"]]
    assert kinds == ["WalletOperation", "WalletOperation", "InsufficientFunds",
                     "ValidationError", "WalletOperation"]  # fmt: skip
    assert result["results"][3]["field"] == "ipAddress"
    events = await device_events(db)
    # the same hashes as the single call's, one event per successful call that carried them
    assert events == [single, (alice, "playRound", *single[2:]), (alice, "deposit", *single[2:]),
                      (alice, "playRound", *single[2:])]  # fmt: skip
    assert (await wallets_of(db, bob))["REAL"]["balance"] == 300
    await assert_ledger_consistent(db)
