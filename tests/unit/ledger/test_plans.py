"""The ledger's plans as pure functions over random locked rows (no database): balances
never go negative, held never exceeds balance, every balance change is its transfer
lines, refusals write nothing, and a reserve -> settle -> round rollback returns every
wallet to where it started."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.bonuses.engine import BonusRows
from app.bonuses.errors import MaxBetExceeded
from app.bonuses.extension import BonusExtension
from app.core.verification import VerificationRequired
from app.ledger.bets import (
    ReserveBet,
    RollbackRound,
    SettleBet,
    plan_reserve_bet,
    plan_rollback_round,
    plan_settle_bet,
)
from app.ledger.errors import AccountBlocked, CurrencyMismatch
from app.ledger.payments import Move, plan_move
from app.ledger.withdrawals import Withdraw, plan_withdraw
from tests.unit.ledger.helpers import (
    PLAYER,
    assert_rows_sane,
    balance_changes_match_transfers,
    make_op,
    per_currency_net,
)

money = st.integers(min_value=0, max_value=10_000_000)


@st.composite
def wallet(draw: Any) -> tuple[int, int]:
    balance = draw(money)
    return balance, draw(st.integers(min_value=0, max_value=balance))


balances = st.fixed_dictionaries({"REAL": wallet(), "BONUS": wallet()})


def reserve(op_balances: dict[str, tuple[int, int]], stake: int, **kw: Any) -> Any:
    op = make_op("reserveBet", op_balances, **kw)
    req = ReserveBet(PLAYER, stake, "EUR", "r1", "t1", ("REAL", "BONUS"), 60.0)
    return op, plan_reserve_bet(req, op)


@given(start=balances, stake=st.integers(min_value=1, max_value=20_000_000))
def test_reserve_holds_exactly_the_stake_or_writes_nothing(start, stake):
    op, body = reserve(start, stake)
    available = sum(b - h for b, h in start.values())
    if available < stake:
        assert body["status"] == "INSUFFICIENT_FUNDS"
        assert op.writes.wallets == {} and op.writes.transfers == []
        assert op.writes.new_hold is None and op.writes.events == []
        return
    assert body["status"] == "OK"
    assert op.writes.transfers == []  # a reservation moves no money
    held = {w.kind: w.held - start.get(w.kind, (0, 0))[1] for w in op.wallets.values()}
    assert held["REAL"] + held["BONUS"] == stake
    assert held["REAL"] == min(stake, start["REAL"][0] - start["REAL"][1])  # REAL first
    hold = op.writes.new_hold
    assert hold is not None and hold.real_amount + hold.bonus_amount == stake
    assert_rows_sane(op)


def _settled_rows(op: Any, reservation: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    hold = {
        "id": reservation.id, "player_id": str(PLAYER), "purpose": "BET", "game_round_id": 5,
        "transaction_id": "t1", "currency": "EUR", "real_wallet_id": 1, "bonus_wallet_id": 2,
        "real_amount": reservation.real_amount, "bonus_amount": reservation.bonus_amount,
        "status": "PENDING", "expired": False,
    }  # fmt: skip
    rnd = {"id": 5, "player_id": str(PLAYER), "round_ref": "r1", "currency": "EUR",
           "status": "OPEN", "stake_real": 0, "stake_bonus": 0, "win_real": 0, "win_bonus": 0,
           "derived": None}  # fmt: skip
    return [hold], rnd


def _balances_of(op: Any) -> dict[str, tuple[int, int]]:
    return {w.kind: (w.balance, w.held) for w in op.wallets.values()}


@given(start=balances, stake=st.integers(min_value=1, max_value=5_000_000),
       win=st.integers(min_value=0, max_value=10_000_000))  # fmt: skip
def test_settle_then_round_rollback_is_balanced_and_restores_the_wallets(start, stake, win):
    reserved, body = reserve(start, stake)
    if body["status"] != "OK":
        return
    holds, rnd = _settled_rows(reserved, reserved.writes.new_hold)
    after_reserve = _balances_of(reserved)

    settle = make_op("settleBet", after_reserve, holds=holds, rounds=[rnd])
    req = SettleBet(PLAYER, None, "r1", win, "EUR", "t2", "slots")
    assert plan_settle_bet(req, settle)["status"] == "OK"
    balance_changes_match_transfers(settle, {k: b for k, (b, _h) in after_reserve.items()})
    assert per_currency_net(settle) == {"EUR": win - stake}  # the house sees the opposite
    assert_rows_sane(settle)
    for kind in ("REAL", "BONUS"):  # the hold is released into the stake
        assert settle.wallet(kind).held == start[kind][1]
    update = settle.writes.round_update
    assert update is not None and update.stake_real + update.stake_bonus == stake
    assert update.win_real + update.win_bonus == win

    settled_round = dict(rnd, status="SETTLED", stake_real=update.stake_real,
                         stake_bonus=update.stake_bonus, win_real=update.win_real,
                         win_bonus=update.win_bonus)  # fmt: skip
    posted = [dict(holds[0], status="POSTED")]
    rollback = make_op("rollbackRound", _balances_of(settle), holds=posted,
                       rounds=[settled_round])  # fmt: skip
    body = plan_rollback_round(RollbackRound(PLAYER, "r1", "t3"), rollback)
    assert body["status"] == "OK"
    for kind in ("REAL", "BONUS"):
        assert _balances_of(rollback)[kind] == start[kind]
    assert per_currency_net(rollback).get("EUR", 0) == stake - win
    assert rollback.writes.hold_updates == [(holds[0]["id"], "ROLLED_BACK")]


kinds = st.sampled_from(["REAL", "BONUS", "TOURNAMENT"])


three_wallets = st.fixed_dictionaries({"REAL": wallet(), "BONUS": wallet(), "TOURNAMENT": wallet()})
signed = st.integers(min_value=-10_000_000, max_value=10_000_000).filter(bool)


@given(start=three_wallets, kind=kinds, amount=signed)
def test_single_wallet_moves_never_overdraw(start, kind, amount):
    op = make_op("adjustBalance", start)
    move = Move(kind, amount, "EUR", "CASH_CLEARING", "ADJUSTMENT", "wallet.adjusted", "r",
                amount < 0, False)  # fmt: skip
    body = plan_move(move, op)
    balance, held = start[kind]
    if balance + amount < held:
        assert body["status"] == "INSUFFICIENT_FUNDS"
        assert op.writes.transfers == [] and op.writes.wallets == {}
        return
    assert body["status"] == "OK"
    assert op.wallet(kind).balance == balance + amount
    balance_changes_match_transfers(op, {k: b for k, (b, _h) in start.items()} | {
        "FREESPINS": 0})  # fmt: skip
    assert per_currency_net(op) == {"EUR": amount}
    assert_rows_sane(op)


def test_a_move_in_another_currency_is_refused_before_anything_is_written():
    op = make_op("deposit", {"REAL": (100, 0)})
    with pytest.raises(CurrencyMismatch):
        plan_move(Move("REAL", 5, "USD", "CASH_CLEARING", "DEPOSIT", "wallet.deposited", "p",
                       False, True), op)  # fmt: skip
    assert op.writes.transfers == [] and op.writes.events == []


@given(start=balances, amount=st.integers(min_value=1, max_value=20_000_000),
       confirm=st.sampled_from(["VERIFIED", "UNVERIFIED", "PENDING"]),
       status=st.sampled_from(["ACTIVE", "BLOCKED", "SELF_EXCLUDED"]))  # fmt: skip
def test_withdrawals_need_an_active_verified_player_and_available_money(
    start, amount, confirm, status
):
    op = make_op("withdraw", start, confirm_status=confirm, player_status=status)
    req = Withdraw(PLAYER, amount, "EUR", None)
    if status != "ACTIVE":
        with pytest.raises(AccountBlocked):
            plan_withdraw(req, op)
        return
    if confirm != "VERIFIED":
        with pytest.raises(VerificationRequired):
            plan_withdraw(req, op)
        return
    body = plan_withdraw(req, op)
    balance, held = start["REAL"]
    if balance - held < amount:
        assert body["status"] == "INSUFFICIENT_FUNDS" and op.writes.new_hold is None
        return
    assert op.wallet("REAL").held == held + amount
    assert op.writes.transfers == []
    assert_rows_sane(op)


def _bonus(max_bet: int | None, required: int, wagered: int = 0) -> dict[str, Any]:
    return {"id": 9, "campaign_id": 1, "kind": "DEPOSIT_MATCH", "currency": "EUR",
            "amount": 1000, "wagering_required": required, "wagered": wagered,
            "max_bet": max_bet, "max_conversion": None, "contributions": {"slots": 10_000},
            "forfeit_on_withdrawal": False, "status": "ACTIVE"}  # fmt: skip


@given(stake=st.integers(min_value=1, max_value=10_000), max_bet=st.integers(1, 10_000))
def test_the_bonus_extension_refuses_a_stake_above_the_max_bet(stake, max_bet):
    rows = {"bonuses": BonusRows([_bonus(max_bet, 50_000)])}
    start = {"REAL": (1_000_000, 0), "BONUS": (1000, 0)}
    if stake > max_bet:
        with pytest.raises(MaxBetExceeded):
            reserve(start, stake, extensions=[BonusExtension()], extension_rows=rows)
    else:
        _op, body = reserve(start, stake, extensions=[BonusExtension()], extension_rows=rows)
        assert body["status"] == "OK"


@given(stake=st.integers(min_value=1, max_value=5000), wagered=st.integers(0, 4000))
def test_wagering_counts_the_stake_up_to_the_requirement_and_rolls_back(stake, wagered):
    required = 5000
    bonus = _bonus(None, required, wagered)
    start = {"REAL": (100_000, 0), "BONUS": (1000, 0)}
    reserved, _ = reserve(start, stake)
    holds, rnd = _settled_rows(reserved, reserved.writes.new_hold)
    rows = {"bonuses": BonusRows([bonus])}
    settle = make_op("settleBet", _balances_of(reserved), holds=holds, rounds=[rnd],
                     extensions=[BonusExtension()], extension_rows=rows)  # fmt: skip
    body = plan_settle_bet(SettleBet(PLAYER, None, "r1", 0, "EUR", "t2", "slots"), settle)
    counted = min(stake, required - wagered)
    assert bonus["wagered"] == wagered + counted
    assert settle.derived["wagering"] == {"9": counted}
    assert body["bonusProgress"][0]["bonusId"] == "9"
    balance_changes_match_transfers(settle, {k: b for k, (b, _h) in _balances_of(reserved).items()})
    assert_rows_sane(settle)
    if bonus["status"] == "FULFILLED":  # released: BONUS money moved to REAL
        assert settle.writes.extensions["bonuses"].bonus_updates[9][1] == "FULFILLED"
        return
    # A refunded round takes its wagering back.
    update = settle.writes.round_update
    assert update is not None
    settled_round = dict(rnd, status="SETTLED", stake_real=update.stake_real,
                         stake_bonus=update.stake_bonus, win_real=0, win_bonus=0,
                         derived=settle.derived)  # fmt: skip
    rollback = make_op("rollbackRound", _balances_of(settle),
                       holds=[dict(holds[0], status="POSTED")], rounds=[settled_round],
                       extensions=[BonusExtension()], extension_rows=rows)  # fmt: skip
    plan_rollback_round(RollbackRound(PLAYER, "r1", "t3"), rollback)
    assert bonus["wagered"] == wagered
    assert rollback.writes.extensions["bonuses"].bonus_updates[9][0] == wagered
