"""Real concurrent transactions on separate connections (the app on its own pool)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.integration.wallets.conftest import assert_ledger_consistent, scalar, wallets_of

pytestmark = pytest.mark.race


@pytest.mark.race
async def test_200_concurrent_bets_on_funds_for_50(isolated_wallet_gql, db, player_factory):
    gql = isolated_wallet_gql
    player = await player_factory()
    await gql.op("deposit", playerId=player, amount="50.00", currency="EUR",
                 paymentReference="tok_1")  # fmt: skip

    results = await asyncio.gather(*(
        gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
               gameRoundId=f"r{i}", transactionId=f"b{i}")
        for i in range(200)
    ))  # fmt: skip

    kinds = [r["__typename"] for r in results]
    assert kinds.count("WalletOperation") == 50
    assert kinds.count("InsufficientFunds") == 150
    assert (await wallets_of(db, player))["REAL"] == {"balance": 5000, "held": 5000, "turnover": 0}
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE status = 'PENDING'") == 50
    await assert_ledger_consistent(db)


@pytest.mark.race
async def test_50_concurrent_retries_of_one_key_take_effect_once(
    isolated_wallet_gql, db, player_factory
):
    gql = isolated_wallet_gql
    player = await player_factory()
    await gql.op("deposit", playerId=player, amount="10.00", currency="EUR",
                 paymentReference="tok_1")  # fmt: skip
    args = {"playerId": player, "amount": "2.00", "currency": "EUR", "gameRoundId": "r1",
            "transactionId": "b1", "idempotencyKey": "one-bet"}  # fmt: skip

    results = await asyncio.gather(*(gql.op("reserveBet", **args) for _ in range(50)))

    assert len({json.dumps(r) for r in results}) == 1
    assert results[0]["__typename"] == "WalletOperation"
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == 1
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bet.reserved'") == 1
    assert (await wallets_of(db, player))["REAL"]["held"] == 200
    await assert_ledger_consistent(db)


@pytest.mark.race
async def test_concurrent_settle_and_cancel_of_one_hold_have_one_winner(
    isolated_wallet_gql, db, player_factory
):
    gql = isolated_wallet_gql
    player = await player_factory()
    await gql.op("deposit", playerId=player, amount="10.00", currency="EUR",
                 paymentReference="tok_1")  # fmt: skip
    rid = (await gql.op("reserveBet", playerId=player, amount="5.00", currency="EUR",
                        gameRoundId="r1", transactionId="b1"))["reservationId"]  # fmt: skip

    results = await asyncio.gather(*(
        gql.op("settleBet", playerId=player, reservationId=rid, winAmount="1.00",
               currency="EUR", transactionId=f"w{i}") if i % 2 else
        gql.op("cancelBet", playerId=player, reservationId=rid)
        for i in range(20)
    ))  # fmt: skip

    assert [r["__typename"] for r in results].count("WalletOperation") == 1
    await assert_ledger_consistent(db)
