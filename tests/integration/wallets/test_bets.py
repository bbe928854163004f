"""Bets through GraphQL: reserve, settle, cancel, rollbacks, blocks."""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.integration.wallets.conftest import (
    assert_ledger_consistent,
    scalar,
    table_counts,
    wallets_of,
)


async def fund(wallet_gql, player, real="100.00", bonus="0"):
    await wallet_gql.op("deposit", playerId=player, amount=real, currency="EUR",
                        paymentReference="tok_visa_1")  # fmt: skip
    if bonus != "0":
        await wallet_gql.op("adjustBalance", playerId=player, walletKind="BONUS", amount=bonus,
                            currency="EUR", reason="welcome bonus")  # fmt: skip


def bet(player, amount, round_id="r1", tx="b1"):
    return {"playerId": player, "amount": amount, "currency": "EUR", "gameRoundId": round_id,
            "transactionId": tx}  # fmt: skip


async def test_reserve_takes_real_first_then_bonus_and_records_split(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    await fund(wallet_gql, player, real="30.00", bonus="20.00")

    result = await wallet_gql.op("reserveBet", **bet(player, "40.00"))

    assert result["__typename"] == "WalletOperation"
    assert [(h["walletKind"], h["amount"]["amount"]) for h in result["holds"]] == [
        ("REAL", "30.00"), ("BONUS", "10.00"),
    ]  # fmt: skip
    wallets = await wallets_of(db, player)
    assert (wallets["REAL"]["balance"], wallets["REAL"]["held"]) == (3000, 3000)
    assert (wallets["BONUS"]["balance"], wallets["BONUS"]["held"]) == (2000, 1000)
    split = await scalar(db, "SELECT real_amount || '/' || bonus_amount FROM ledger_holds")
    assert split == "3000/1000"
    await assert_ledger_consistent(db)


async def test_settle_posts_stake_and_pays_win_back_in_proportion(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player, real="30.00", bonus="20.00")
    await wallet_gql.op("reserveBet", **bet(player, "20.00", tx="b1"))  # all REAL
    await wallet_gql.op("reserveBet", **bet(player, "20.00", tx="b2"))  # 10 REAL + 10 BONUS

    result = await wallet_gql.op("settleBet", playerId=player, gameRoundId="r1",
                                 winAmount="8.00", currency="EUR", transactionId="w1")  # fmt: skip

    assert result["__typename"] == "WalletOperation"
    # Stake 30 REAL + 10 BONUS: a quarter of the win is bonus money.
    wallets = await wallets_of(db, player)
    assert wallets["REAL"] == {"balance": 3000 - 3000 + 600, "held": 0, "turnover": 3000}
    assert wallets["BONUS"] == {"balance": 2000 - 1000 + 200, "held": 0, "turnover": 1000}
    kinds = await scalar(db, "SELECT string_agg(kind || ':' || amount, ',' ORDER BY id) "
                             "FROM ledger_transfers WHERE kind IN ('BET', 'WIN')")  # fmt: skip
    assert kinds == "BET:-3000,WIN:600,BET:-1000,WIN:200"
    assert await scalar(db, "SELECT status FROM game_rounds") == "SETTLED"
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE status = 'POSTED'") == 2
    await assert_ledger_consistent(db)


async def test_balance_changed_event_carries_every_wallet(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player, real="10.00")
    result = await wallet_gql.op("reserveBet", **bet(player, "2.50"))

    async with db.read_session() as session:
        row = (await session.execute(text(
            "SELECT data FROM outbox_events WHERE type = 'wallet.balance_changed' "
            "ORDER BY id DESC LIMIT 1"))).scalar_one()  # fmt: skip
    assert row["playerId"] == player
    assert row["transactionId"] == result["operationId"]
    assert row["operation"] == "reserveBet"
    assert {w["kind"]: (w["balance"], w["held"], w["available"]) for w in row["wallets"]} == {
        "REAL": ("10.00", "2.50", "7.50"), "BONUS": ("0.00", "0.00", "0.00"),
        "FREESPINS": ("0", "0", "0"), "TOURNAMENT": ("0.00", "0.00", "0.00"),
    }  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bet.reserved'") == 1


async def test_cancel_returns_funds_and_second_cancel_is_refused(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player)
    reserved = await wallet_gql.op("reserveBet", **bet(player, "10.00"))
    rid = reserved["reservationId"]

    first = await wallet_gql.op("cancelBet", playerId=player, reservationId=rid)
    before = await table_counts(db)
    second = await wallet_gql.op("cancelBet", playerId=player, reservationId=rid)
    late_settle = await wallet_gql.op(
        "settleBet", playerId=player, reservationId=rid, winAmount="0", currency="EUR",
        transactionId="w1",
    )  # fmt: skip

    assert first["__typename"] == "WalletOperation"
    assert (second["__typename"], second["code"]) == ("HoldNotPending", "HOLD_NOT_PENDING")
    assert late_settle["__typename"] == "HoldNotPending"
    assert await table_counts(db) == before
    assert (await wallets_of(db, player))["REAL"] == {"balance": 10000, "held": 0, "turnover": 0}


async def test_another_players_reservation_is_not_found(wallet_gql, db, player_factory):
    alice, bob = await player_factory(), await player_factory()
    await fund(wallet_gql, alice)
    reserved = await wallet_gql.op("reserveBet", **bet(alice, "10.00"))
    before = await table_counts(db)

    result = await wallet_gql.op("cancelBet", playerId=bob, reservationId=reserved["reservationId"])

    assert result["__typename"] == "ReservationNotFound"
    assert await table_counts(db) == before
    assert (await wallets_of(db, alice))["REAL"]["held"] == 1000


async def test_win_for_unknown_round_is_round_not_found(wallet_gql, db, player_factory):
    player = await player_factory()
    before = await table_counts(db)
    result = await wallet_gql.op("settleBet", playerId=player, gameRoundId="nope",
                                 winAmount="5.00", currency="EUR", transactionId="w1")  # fmt: skip
    assert (result["__typename"], result["code"]) == ("RoundNotFound", "ROUND_NOT_FOUND")
    assert await table_counts(db) == before


async def test_rollback_of_unseen_bet_tombstones_it(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player)

    rolled = await wallet_gql.op("rollbackBet", playerId=player, transactionId="late-bet")
    again = await wallet_gql.op("rollbackBet", playerId=player, transactionId="late-bet")
    late = await wallet_gql.op("reserveBet", **bet(player, "5.00", tx="late-bet"))

    assert rolled["__typename"] == again["__typename"] == "WalletOperation"
    assert late["__typename"] == "DuplicateTransaction"
    assert await scalar(db, "SELECT kind FROM game_transactions") == "TOMBSTONE"
    assert (await wallets_of(db, player))["REAL"] == {"balance": 10000, "held": 0, "turnover": 0}


async def test_rollback_of_pending_bet_credits_once(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player)
    await wallet_gql.op("reserveBet", **bet(player, "10.00", tx="b1"))

    first = await wallet_gql.op("rollbackBet", playerId=player, transactionId="b1")
    second = await wallet_gql.op("rollbackBet", playerId=player, transactionId="b1")

    assert first["__typename"] == second["__typename"] == "WalletOperation"
    assert second["wallets"][0]["available"]["amount"] == "100.00"
    assert (await wallets_of(db, player))["REAL"]["held"] == 0
    assert await scalar(db, "SELECT status FROM ledger_holds") == "ROLLED_BACK"
    await assert_ledger_consistent(db)


async def test_settled_round_is_refunded_only_by_rollback_round(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player, real="50.00")
    await wallet_gql.op("reserveBet", **bet(player, "10.00", tx="b1"))
    await wallet_gql.op("settleBet", playerId=player, gameRoundId="r1", winAmount="4.00",
                        currency="EUR", transactionId="w1")  # fmt: skip

    refused = await wallet_gql.op("rollbackBet", playerId=player, transactionId="b1")
    refunded = await wallet_gql.op("rollbackRound", playerId=player, gameRoundId="r1",
                                   transactionId="rb1")  # fmt: skip
    again = await wallet_gql.op("rollbackRound", playerId=player, gameRoundId="r1",
                                transactionId="rb1")  # fmt: skip

    assert refused["__typename"] == "HoldNotPending"
    assert refunded["__typename"] == again["__typename"] == "WalletOperation"
    assert [t["kind"] for t in refunded["transfers"]] == ["BET_REFUND", "WIN_REVERSAL"]
    assert again["transfers"] == []
    # Back to the deposit; the bet's turnover is reversed.
    assert (await wallets_of(db, player))["REAL"] == {"balance": 5000, "held": 0, "turnover": 0}
    await assert_ledger_consistent(db)


async def test_blocked_player_cannot_bet_but_settles_and_cancels(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player)
    r1 = await wallet_gql.op("reserveBet", **bet(player, "10.00", round_id="r1", tx="b1"))
    r2 = await wallet_gql.op("reserveBet", **bet(player, "10.00", round_id="r2", tx="b2"))
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE players SET status = 'SELF_EXCLUDED'"))

    refused = await wallet_gql.op("reserveBet", **bet(player, "1.00", round_id="r3", tx="b3"))
    withdrawn = await wallet_gql.op("withdraw", playerId=player, amount="1.00", currency="EUR")
    settled = await wallet_gql.op(
        "settleBet", playerId=player, reservationId=r1["reservationId"], winAmount="30.00",
        currency="EUR", transactionId="w1",
    )  # fmt: skip
    cancelled = await wallet_gql.op("cancelBet", playerId=player, reservationId=r2["reservationId"])

    assert (refused["__typename"], refused["code"]) == ("AccountBlocked", "ACCOUNT_BLOCKED")
    assert withdrawn["__typename"] == "AccountBlocked"
    assert settled["__typename"] == cancelled["__typename"] == "WalletOperation"
    assert (await wallets_of(db, player))["REAL"]["balance"] == 10000 - 1000 + 3000


async def test_duplicate_bet_transaction_id_is_refused(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player)
    await wallet_gql.op("reserveBet", **bet(player, "1.00", tx="same"))
    before = await table_counts(db)

    again = await wallet_gql.op("reserveBet", **bet(player, "1.00", round_id="r2", tx="same"))

    assert (again["__typename"], again["code"]) == ("DuplicateTransaction", "DUPLICATE_TRANSACTION")
    assert await table_counts(db) == before


async def test_replay_is_byte_identical(wallet_gql, db, player_factory):
    player = await player_factory()
    await fund(wallet_gql, player)
    args = {**bet(player, "3.00"), "idempotencyKey": "bet-once"}

    first = await wallet_gql.op("reserveBet", **args)
    second = await wallet_gql.op("reserveBet", **args)

    assert json.dumps(first) == json.dumps(second)
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == 1
    assert (await wallets_of(db, player))["REAL"]["held"] == 300
