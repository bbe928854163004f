"""Payments, fees, adjustments, free spins, tournament, bad input, history, reconciliation,
expiry through GraphQL and the real database."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from sqlalchemy import text

from app.ledger import tasks
from tests.auth import staff_principal
from tests.integration.wallets.conftest import (
    assert_ledger_consistent,
    scalar,
    table_counts,
    wallets_of,
)


async def deposit(wallet_gql, player, amount="100.00", **extra):
    return await wallet_gql.op("deposit", playerId=player, amount=amount, currency="EUR",
                               paymentReference="tok_abc", **extra)  # fmt: skip


@pytest.mark.parametrize("status", ["UNVERIFIED", "PENDING", "MANUAL_REVIEW", "REJECTED"])
async def test_withdrawal_needs_a_verified_player_and_writes_nothing(
    wallet_gql, db, player_factory, status
):
    player = await player_factory(verified=False)
    await deposit(wallet_gql, player)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE players SET confirm_status = :s WHERE id = :id"),
            {"s": status, "id": player},
        )
    before = await table_counts(db)
    args = {"playerId": player, "amount": "30.00", "currency": "EUR", "idempotencyKey": "wd-1"}

    refused = await wallet_gql.op("withdraw", **args)

    assert refused["__typename"] == "VerificationRequired"
    assert refused["code"] == "VERIFICATION_REQUIRED" and status in refused["message"]
    assert await table_counts(db) == before
    assert (await wallets_of(db, player))["REAL"]["held"] == 0
    # once verified, the same key goes through: the refusal was not stored
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE players SET confirm_status = 'VERIFIED' WHERE id = :id"), {"id": player}
        )
    assert (await wallet_gql.op("withdraw", **args))["__typename"] == "WalletOperation"
    assert (await wallets_of(db, player))["REAL"]["held"] == 3000


async def test_withdrawal_holds_until_confirmed_or_rejected(wallet_gql, db, player_factory):
    player = await player_factory()
    await deposit(wallet_gql, player)
    w1 = await wallet_gql.op("withdraw", playerId=player, amount="30.00", currency="EUR")
    w2 = await wallet_gql.op("withdraw", playerId=player, amount="20.00", currency="EUR")
    too_much = await wallet_gql.op("withdraw", playerId=player, amount="50.01", currency="EUR")
    assert (await wallets_of(db, player))["REAL"] == {"balance": 10000, "held": 5000, "turnover": 0}

    await wallet_gql.op("confirmWithdrawal", playerId=player, withdrawalId=w1["reservationId"])
    await wallet_gql.op("rejectWithdrawal", playerId=player, withdrawalId=w2["reservationId"])
    again = await wallet_gql.op("confirmWithdrawal", playerId=player,
                                withdrawalId=w2["reservationId"])  # fmt: skip

    assert too_much["__typename"] == "InsufficientFunds"
    assert again["__typename"] == "HoldNotPending"
    assert (await wallets_of(db, player))["REAL"] == {"balance": 7000, "held": 0, "turnover": 0}
    types = await scalar(db, "SELECT string_agg(DISTINCT type, ',') FROM outbox_events "
                             "WHERE type LIKE 'wallet.withdrawal%'")  # fmt: skip
    assert (
        types
        == "wallet.withdrawal_confirmed,wallet.withdrawal_rejected,wallet.withdrawal_requested"
    )
    await assert_ledger_consistent(db)


async def test_fee_adjustment_free_spins_and_tournament(wallet_gql, db, player_factory):
    player = await player_factory()
    await deposit(wallet_gql, player, "10.00")

    fee = await wallet_gql.op("chargeFee", playerId=player, amount="1.50", currency="EUR",
                              reason="inactivity fee")  # fmt: skip
    adjust = await wallet_gql.op("adjustBalance", playerId=player, walletKind="REAL",
                                 amount="-0.50", currency="EUR", reason="fix #12")  # fmt: skip
    no_reason = await wallet_gql.op("adjustBalance", playerId=player, walletKind="REAL",
                                    amount="1.00", currency="EUR", reason="")  # fmt: skip
    spins = await wallet_gql.op("grantFreeSpins", playerId=player, spins=25)
    used = await wallet_gql.op("consumeFreeSpins", playerId=player, spins=5)
    overused = await wallet_gql.op("consumeFreeSpins", playerId=player, spins=21)
    credited = await wallet_gql.op("creditTournament", playerId=player, amount="7.00",
                                   currency="EUR")  # fmt: skip
    debited = await wallet_gql.op("debitTournament", playerId=player, amount="2.00",
                                  currency="EUR")  # fmt: skip

    assert {fee["__typename"], adjust["__typename"], spins["__typename"], used["__typename"],
            credited["__typename"], debited["__typename"]} == {"WalletOperation"}  # fmt: skip
    assert no_reason["__typename"] == "ValidationError"
    assert overused["__typename"] == "InsufficientFunds"
    wallets = await wallets_of(db, player)
    assert wallets["REAL"]["balance"] == 800
    assert wallets["FREESPINS"]["balance"] == 20
    assert wallets["TOURNAMENT"]["balance"] == 500
    houses = await scalar(
        db, "SELECT string_agg(currency || '/' || kind, ',' ORDER BY currency, kind) "
            "FROM house_accounts"
    )  # fmt: skip
    assert houses == ("EUR/CASH_CLEARING,EUR/FEES,EUR/GAME,XFS/BONUS_LIABILITY,XFS/GAME")
    await assert_ledger_consistent(db)


@pytest.mark.parametrize(
    ("fields", "typename", "field"),
    [
        ({"amount": "-5.00"}, "ValidationError", "amount"),
        ({"amount": "0"}, "ValidationError", "amount"),
        ({"amount": "1e400"}, "ValidationError", "amount"),
        ({"amount": "12.345"}, "ValidationError", "amount"),
        ({"amount": "ten"}, "ValidationError", "amount"),
        ({"currency": "USD"}, "CurrencyMismatch", None),
        ({"currency": "ABC"}, "ValidationError", "currency"),
        ({"playerId": "00000000-0000-0000-0000-000000000000"}, "NotFound", None),
        ({"playerId": "not-a-uuid"}, "ValidationError", "playerId"),  # one id parser
        ({"idempotencyKey": ""}, "ValidationError", "idempotencyKey"),
        ({"idempotencyKey": "k" * 10_000}, "ValidationError", "idempotencyKey"),
        ({"gameRoundId": ""}, "ValidationError", "gameRoundId"),
    ],
)
async def test_bad_bet_input_is_typed_and_writes_nothing(
    wallet_gql, db, player_factory, fields, typename, field
):
    player = await player_factory()
    await deposit(wallet_gql, player)
    before = await table_counts(db)
    args = {"playerId": player, "amount": "1.00", "currency": "EUR", "gameRoundId": "r1",
            "transactionId": "b1", **fields}  # fmt: skip

    result = await wallet_gql.op("reserveBet", **args)

    assert result["__typename"] == typename
    if field:
        assert result["field"] == field
    assert await table_counts(db) == before
    assert (await wallets_of(db, player))["REAL"] == {"balance": 10000, "held": 0, "turnover": 0}


@pytest.mark.parametrize("reference", ["4111111111111111", "card 4111 1111 1111 1111"])
async def test_deposit_rejects_card_numbers(wallet_gql, db, player_factory, reference):
    player = await player_factory()
    result = await wallet_gql.op("deposit", playerId=player, amount="5.00", currency="EUR",
                                 paymentReference=reference)  # fmt: skip
    assert (result["__typename"], result["field"]) == ("ValidationError", "paymentReference")
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == 0


async def test_same_key_different_amount_is_refused_and_changes_nothing(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    await deposit(wallet_gql, player, idempotencyKey="dep-1")
    before = await table_counts(db)

    reused = await deposit(wallet_gql, player, "100.01", idempotencyKey="dep-1")

    assert (reused["__typename"], reused["code"]) == (
        "IdempotencyKeyReused",
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert await table_counts(db) == before
    assert (await wallets_of(db, player))["REAL"]["balance"] == 10000


async def test_stored_insufficient_funds_is_replayed(wallet_gql, db, player_factory):
    player = await player_factory()
    await deposit(wallet_gql, player, "1.00")
    args = {"playerId": player, "amount": "5.00", "currency": "EUR", "idempotencyKey": "w-1"}

    first = await wallet_gql.op("withdraw", **args)
    await deposit(wallet_gql, player, "10.00")  # enough now, but the key's answer is stored
    second = await wallet_gql.op("withdraw", **args)

    assert first["__typename"] == "InsufficientFunds"
    assert second == first
    assert (await wallets_of(db, player))["REAL"]["held"] == 0


async def test_history_pages_and_filters(wallet_gql, db, player_factory):
    player = await player_factory()
    for i in range(5):
        await deposit(wallet_gql, player, f"{i + 1}.00")
    await wallet_gql.op("chargeFee", playerId=player, amount="0.10", currency="EUR", reason="fee")
    query = """
    query($id: ID!, $after: String, $filter: LedgerFilter) {
      player(id: $id) {
        ledger(first: 4, after: $after, filter: $filter) {
          totalCount pageInfo { hasNextPage endCursor }
          edges { node { kind walletKind amount { amount } balanceAfter { amount }
                         reference idempotencyKey actor } }
        }
        wallets { kind transactions(first: 2, filter: {kind: "DEPOSIT"}) { totalCount } }
      }
    }"""
    page1 = (await wallet_gql.raw(query, {"id": player}))["data"]["player"]
    cursor = page1["ledger"]["pageInfo"]["endCursor"]
    page2 = (await wallet_gql.raw(query, {"id": player, "after": cursor}))["data"]["player"]
    fees = await wallet_gql.raw(query, {"id": player, "filter": {"kind": "FEE"}})

    nodes = [e["node"] for e in page1["ledger"]["edges"] + page2["ledger"]["edges"]]
    assert page1["ledger"]["totalCount"] == 6 and page1["ledger"]["pageInfo"]["hasNextPage"]
    assert [(n["kind"], n["amount"]["amount"], n["balanceAfter"]["amount"]) for n in nodes] == [
        ("FEE", "-0.10", "14.90"), ("DEPOSIT", "5.00", "15.00"), ("DEPOSIT", "4.00", "10.00"),
        ("DEPOSIT", "3.00", "6.00"), ("DEPOSIT", "2.00", "3.00"), ("DEPOSIT", "1.00", "1.00"),
    ]  # fmt: skip
    assert nodes[1]["reference"] == "tok_abc" and nodes[1]["idempotencyKey"]
    assert nodes[1]["actor"] == "service:game-engine"
    assert fees["data"]["player"]["ledger"]["totalCount"] == 1
    real = next(w for w in page1["wallets"] if w["kind"] == "REAL")
    assert real["transactions"]["totalCount"] == 5


async def test_history_filters_by_time_window(wallet_gql, db, player_factory):
    player = await player_factory()
    await deposit(wallet_gql, player, "1.00")
    start = await scalar(db, "SELECT clock_timestamp()")
    await deposit(wallet_gql, player, "2.00")
    await deposit(wallet_gql, player, "3.00")
    end = await scalar(db, "SELECT clock_timestamp()")
    await deposit(wallet_gql, player, "4.00")
    query = """
    query($id: ID!, $filter: LedgerFilter) {
      player(id: $id) { ledger(first: 10, filter: $filter) {
        totalCount edges { node { amount { amount } } } } }
    }"""

    def amounts(body):
        return [e["node"]["amount"]["amount"] for e in body["data"]["player"]["ledger"]["edges"]]

    window = await wallet_gql.raw(
        query, {"id": player, "filter": {"from": start.isoformat(), "to": end.isoformat()}}
    )
    since = await wallet_gql.raw(query, {"id": player, "filter": {"from": end.isoformat()}})
    until = await wallet_gql.raw(query, {"id": player, "filter": {"to": start.isoformat()}})

    assert amounts(window) == ["3.00", "2.00"]
    assert amounts(since) == ["4.00"]
    assert amounts(until) == ["1.00"]


async def run_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pms", "ledger", "verify"]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )


async def test_verification_finds_a_corrupted_balance(wallet_gql, db, player_factory, settings):
    player = await player_factory()
    await deposit(wallet_gql, player)
    query = (
        "{ ledgerVerification { ok walletsChecked mismatches { kind currency expected actual } } }"
    )
    clean = (await wallet_gql.raw(query))["data"]["ledgerVerification"]
    cli_env = {"PMS_DATABASE_URL": settings.database_url or "", "PATH": "/usr/bin:/bin"}
    ok_run = await run_cli(cli_env)

    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE wallets SET balance = balance + 1 WHERE kind = 'REAL'"))
    broken = (await wallet_gql.raw(query))["data"]["ledgerVerification"]
    bad_run = await run_cli(cli_env)

    assert clean["ok"] and clean["walletsChecked"] == 4 and clean["mismatches"] == []
    assert ok_run.returncode == 0, ok_run.stderr
    assert not broken["ok"]
    assert {(m["kind"], m["expected"], m["actual"]) for m in broken["mismatches"]} == {
        ("WALLET_BALANCE", "10000", "10001"), ("CURRENCY_SUM", "0", "1"),
    }  # fmt: skip
    assert bad_run.returncode == 1
    assert "MISMATCH WALLET_BALANCE" in bad_run.stdout


async def test_expired_hold_is_voided_by_the_task_and_late_settle_refused(
    wallet_gql, db, player_factory, settings
):
    player = await player_factory()
    await deposit(wallet_gql, player)
    reserved = await wallet_gql.op("reserveBet", playerId=player, amount="10.00", currency="EUR",
                                   gameRoundId="r1", transactionId="b1")  # fmt: skip
    fresh = await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                                gameRoundId="r2", transactionId="b2")  # fmt: skip
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE ledger_holds SET expires_at = now() - interval '1 second' WHERE id = :id"),
            {"id": int(reserved["reservationId"])},
        )

    late_before_task = await wallet_gql.op(
        "settleBet", playerId=player, reservationId=reserved["reservationId"], winAmount="1.00",
        currency="EUR", transactionId="w1",
    )  # fmt: skip
    voided = await tasks.expire_holds(db, settings)
    again = await tasks.expire_holds(db, settings)
    late_after_task = await wallet_gql.op(
        "settleBet", playerId=player, gameRoundId="r1", winAmount="1.00", currency="EUR",
        transactionId="w2",
    )  # fmt: skip

    assert (voided, again) == (1, 0)
    assert late_before_task["__typename"] == late_after_task["__typename"] == "HoldNotPending"
    statuses = await scalar(db, "SELECT string_agg(status, ',' ORDER BY id) FROM ledger_holds")
    assert statuses == "EXPIRED,PENDING"
    assert fresh["__typename"] == "WalletOperation"
    assert (await wallets_of(db, player))["REAL"] == {"balance": 10000, "held": 100, "turnover": 0}
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'bet.cancelled' "
                            "AND data->>'reason' = 'EXPIRED'") == 1  # fmt: skip
    await assert_ledger_consistent(db)


async def test_purge_removes_only_keys_past_retention(wallet_gql, db, player_factory, settings):
    player = await player_factory()
    await deposit(wallet_gql, player, idempotencyKey="old")
    await deposit(wallet_gql, player, idempotencyKey="new")
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = now() - interval '31 days' "
                 "WHERE key = 'old'")
        )  # fmt: skip

    purged = await tasks.purge_idempotency_keys(db, settings)

    assert purged == 1
    assert await scalar(db, "SELECT string_agg(key, ',') FROM idempotency_keys") == "new"


async def test_money_operations_write_their_audit_row_in_the_same_statement(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    await deposit(wallet_gql, player, "5.00")
    refused = await wallet_gql.op("withdraw", playerId=player, amount="9.00", currency="EUR")

    async with db.read_session() as session:
        rows = list(await session.execute(text(
            "SELECT action, actor, target, outcome, v.value AS ip, request_id, details "
            "FROM audit_log a LEFT JOIN audit_personal_values v ON v.entry_id = a.id "
            "AND v.field = 'ip' WHERE action LIKE 'ledger.%' ORDER BY id"
        )))  # fmt: skip
    assert refused["__typename"] == "InsufficientFunds"
    assert [(r.action, r.actor, r.target, r.outcome) for r in rows] == [
        ("ledger.deposit", "service:game-engine", player, "success"),
        ("ledger.withdraw", "service:game-engine", player, "failure"),
    ]
    assert rows[0].details["operationId"] and rows[1].details == {"code": "INSUFFICIENT_FUNDS"}
    assert all(r.ip == "127.0.0.1" and r.request_id not in (None, "-") for r in rows)

    # a refusal that writes nothing else (rolled back) is still audited
    bad = await wallet_gql.op("deposit", playerId=player, amount="-1", currency="EUR",
                              paymentReference="tok_x")  # fmt: skip
    async with db.read_session() as session:
        refused = (await session.execute(text(
            "SELECT outcome, details FROM audit_log WHERE action = 'ledger.deposit' "
            "ORDER BY id DESC LIMIT 1"
        ))).one()  # fmt: skip
    assert bad["__typename"] == "ValidationError"
    assert (refused.outcome, refused.details) == ("failure", {"code": "VALIDATION_ERROR"})


SET_STATUS = """mutation($id: ID!, $s: PlayerStatus!, $r: String!) {
  setPlayerStatus(playerId: $id, status: $s, reason: $r) {
    __typename ... on SetPlayerStatusSuccess { player { status } } ... on UserError { code } } }"""


async def test_staff_block_stops_new_bets_emits_the_event_and_is_audited(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    await deposit(wallet_gql, player, "10.00")
    support = staff_principal("SUPPORT", "s-block")
    args = {"id": player, "s": "BLOCKED", "r": "chargeback fraud suspected"}

    marketer = await wallet_gql.raw(SET_STATUS, args, as_=staff_principal("MARKETER", "m-block"))
    blocked = await wallet_gql.raw(SET_STATUS, args, as_=support)
    bet = await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                              gameRoundId="blk", transactionId="blk-1")  # fmt: skip
    no_reason = await wallet_gql.raw(SET_STATUS, {**args, "s": "ACTIVE", "r": ""}, as_=support)

    assert marketer["data"]["setPlayerStatus"]["__typename"] == "Forbidden"
    assert blocked["data"]["setPlayerStatus"] == {
        "__typename": "SetPlayerStatusSuccess", "player": {"status": "BLOCKED"},
    }  # fmt: skip
    assert bet["__typename"] == "AccountBlocked"
    assert no_reason["data"]["setPlayerStatus"]["code"] == "VALIDATION_ERROR"
    async with db.read_session() as session:
        event = (await session.execute(text(
            "SELECT data FROM outbox_events WHERE type = 'player.status_changed'"
        ))).scalar_one()  # fmt: skip
        audited = (await session.execute(text(
            "SELECT actor, outcome FROM audit_log WHERE action = 'graphql.setPlayerStatus' "
            "ORDER BY id"
        ))).all()  # fmt: skip
    assert (event["from"], event["to"], event["actor"]) == ("ACTIVE", "BLOCKED", "staff:s-block")
    assert [tuple(a) for a in audited] == [
        ("staff:m-block", "denied"),
        ("staff:s-block", "success"),
        ("staff:s-block", "failure"),
    ]
