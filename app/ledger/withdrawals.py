"""Withdrawals: hold the money, then confirm (it leaves) or reject (available again)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.core.money import format_amount
from app.core.principal import Principal
from app.core.settings import Settings
from app.core.verification import VerificationRequired
from app.ledger import inputs, kernel
from app.ledger.errors import InsufficientFunds
from app.ledger.hooks import Debit, extensions_of
from app.ledger.models import HoldPurpose, HoldStatus, HouseAccountKind, TransferKind
from app.ledger.operation import Operation
from app.ledger.repository import LoadArgs
from app.ledger.validation import check_idempotency_key, check_payment_reference
from app.ledger.write_repository import NewHold
from app.players.models import ConfirmStatus
from app.wallets.models import WalletKind

Body = dict[str, Any]


@dataclass(frozen=True)
class Withdraw:
    player_id: uuid.UUID
    amount: int
    currency: str
    payment_reference: str | None


def plan_withdraw(req: Withdraw, op: Operation) -> Body:
    op.require_debit_allowed()
    # KYC (SPEC 1): no payout before the player is verified. Raised, not stored, so the
    # same key can be retried once verification is done.
    if op.loaded.confirm_status != ConfirmStatus.VERIFIED:
        raise VerificationRequired(op.loaded.confirm_status or "unknown")
    real = op.wallet(WalletKind.REAL)
    op.require_currency(real, req.currency)
    for ext in extensions_of(op):
        ext.before_debit(op, Debit("withdraw", HoldPurpose.WITHDRAWAL, req.amount, req.currency))
    if real.available < req.amount:
        return op.stored_error(InsufficientFunds, "not enough available funds to withdraw")
    for ext in extensions_of(op):
        ext.withdrawing(op, req.currency)
    op.hold(WalletKind.REAL, req.amount)
    op.holds.append({"walletKind": "REAL", "amount": format_amount(req.amount, req.currency),
                     "currency": req.currency})  # fmt: skip
    hold_id = op.loaded.new_hold_id
    assert hold_id is not None
    op.writes.new_hold = NewHold(hold_id, HoldPurpose.WITHDRAWAL, None, req.currency, real.id,
                                 None, req.amount, 0, None)  # fmt: skip
    op.extra.update(reservationId=str(hold_id))
    op.event("wallet.withdrawal_requested", {
        "withdrawalId": str(hold_id), "amount": format_amount(req.amount, req.currency),
        "currency": req.currency, "paymentReference": req.payment_reference,
    })  # fmt: skip
    return op.finish()


async def withdraw(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, payment_reference: str | None, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    """Hold the money until the payment service confirms or rejects the payout."""
    check_idempotency_key(idempotency_key)
    check_payment_reference("paymentReference", payment_reference, required=False)
    minor = inputs.amount(amount, currency, settings)
    spec = kernel.OperationSpec(
        "withdraw", idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency,
         "paymentReference": payment_reference},
        player_id, reference=payment_reference, load=LoadArgs(allocate_hold=True),
    )  # fmt: skip
    plan = partial(plan_withdraw, Withdraw(player_id, minor, currency, payment_reference))
    return await kernel.run_operation(session, settings, caller, spec, plan)


@dataclass(frozen=True)
class DecideWithdrawal:
    player_id: uuid.UUID
    withdrawal_id: int
    confirm: bool


def plan_decide_withdrawal(req: DecideWithdrawal, op: Operation) -> Body:
    hold = inputs.find_hold(op, req.withdrawal_id, HoldPurpose.WITHDRAWAL)
    inputs.require_pending(hold)
    amount = hold["real_amount"]
    op.hold(WalletKind.REAL, -amount)
    if req.confirm:
        op.move(WalletKind.REAL, -amount, HouseAccountKind.CASH_CLEARING, TransferKind.WITHDRAWAL)
    op.writes.hold_updates = [(hold["id"], HoldStatus.POSTED if req.confirm else HoldStatus.VOIDED)]
    op.extra.update(reservationId=str(hold["id"]))
    currency = hold["currency"]
    op.event("wallet.withdrawal_confirmed" if req.confirm else "wallet.withdrawal_rejected",
             {"withdrawalId": str(hold["id"]), "amount": format_amount(amount, currency),
              "currency": currency})  # fmt: skip
    return op.finish()


async def decide_withdrawal(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    withdrawal_id: int, confirm: bool, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    """Confirm (the money leaves to cash clearing) or reject (it becomes available again)."""
    check_idempotency_key(idempotency_key)
    spec = kernel.OperationSpec(
        "confirmWithdrawal" if confirm else "rejectWithdrawal", idempotency_key,
        {"playerId": str(player_id), "withdrawalId": withdrawal_id},
        player_id, load=LoadArgs(hold_ids=(withdrawal_id,)),
    )  # fmt: skip
    plan = partial(plan_decide_withdrawal, DecideWithdrawal(player_id, withdrawal_id, confirm))
    return await kernel.run_operation(session, settings, caller, spec, plan)
