"""The ledger's public money operations, one import for the resolvers: a thin facade
over the families (bets, payments, withdrawals) built on the kernel (app/ledger/kernel.py)."""

from __future__ import annotations

from app.ledger.batch import SetBased, run_batch
from app.ledger.bets import (
    amount_text,
    cancel_bet,
    play_round,
    prepare_cancel_bet,
    prepare_play_round,
    prepare_reserve_bet,
    prepare_rollback_bet,
    prepare_rollback_round,
    prepare_settle_bet,
    reserve_bet,
    rollback_bet,
    rollback_round,
    settle_bet,
)
from app.ledger.inputs import GAME_TAG
from app.ledger.kernel import Outcome
from app.ledger.operation import DEBIT_BLOCKED, canonical_json, request_hash
from app.ledger.payments import (
    ADJUSTMENT_HOUSE,
    adjust_balance,
    charge_fee,
    consume_free_spins,
    deposit,
    grant_free_spins,
    tournament_transfer,
)
from app.ledger.withdrawals import decide_withdrawal, withdraw

__all__ = [
    "ADJUSTMENT_HOUSE",
    "DEBIT_BLOCKED",
    "GAME_TAG",
    "Outcome",
    "SetBased",
    "adjust_balance",
    "amount_text",
    "cancel_bet",
    "canonical_json",
    "charge_fee",
    "consume_free_spins",
    "decide_withdrawal",
    "deposit",
    "grant_free_spins",
    "play_round",
    "prepare_cancel_bet",
    "prepare_play_round",
    "prepare_reserve_bet",
    "prepare_rollback_bet",
    "prepare_rollback_round",
    "prepare_settle_bet",
    "request_hash",
    "reserve_bet",
    "rollback_bet",
    "rollback_round",
    "run_batch",
    "settle_bet",
    "tournament_transfer",
    "withdraw",
]
