"""Single-wallet moves: deposits, fees, staff adjustments, free spins, tournament money.

Each is one wallet against one house account: a ``Move`` request and the one plan
``plan_move``; the service functions check their input and build the move.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.core.currencies import FREE_SPINS_UNIT
from app.core.money import format_amount, parse_minor_units
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import inputs, kernel
from app.ledger.errors import CurrencyMismatch, InsufficientFunds
from app.ledger.hooks import Completed, extensions_of
from app.ledger.models import HouseAccountKind, TransferKind
from app.ledger.operation import Operation
from app.ledger.validation import check_idempotency_key, check_payment_reference, check_text
from app.wallets.models import WalletKind

Body = dict[str, Any]

# The house side of a staff adjustment, by wallet kind.
ADJUSTMENT_HOUSE = {
    WalletKind.REAL: HouseAccountKind.CASH_CLEARING,
    WalletKind.BONUS: HouseAccountKind.BONUS_LIABILITY,
    WalletKind.FREESPINS: HouseAccountKind.BONUS_LIABILITY,
    WalletKind.TOURNAMENT: HouseAccountKind.GAME,
}


@dataclass(frozen=True)
class Move:
    """Credit (``amount`` > 0) or debit (< 0) one wallet against one house account."""

    kind: str  # wallet kind
    amount: int
    currency: str
    house: str
    transfer_kind: str
    event: str
    reference: str | None
    debit: bool
    player_initiated: bool


def plan_move(req: Move, op: Operation) -> Body:
    if req.debit and req.player_initiated:
        op.require_debit_allowed()
    wallet = op.wallet(req.kind)
    op.require_currency(wallet, req.currency)
    if wallet.balance + req.amount < wallet.held:
        return op.stored_error(InsufficientFunds, f"not enough funds in the {req.kind} wallet")
    if req.transfer_kind == TransferKind.DEPOSIT:
        for ext in extensions_of(op):
            ext.depositing(op, req.amount, req.currency)
    op.move(req.kind, req.amount, req.house, req.transfer_kind)
    op.event(req.event, {"walletKind": req.kind, "amount": format_amount(req.amount, req.currency),
                         "currency": req.currency, "reference": req.reference})  # fmt: skip
    return op.finish()


async def _run_move(
    session: kernel.Unit, settings: Settings, caller: Principal, operation: str,
    player_id: uuid.UUID, key: str, request: dict[str, Any], move: Move,
) -> kernel.Outcome:  # fmt: skip
    spec = kernel.OperationSpec(operation, key, request, player_id, reference=move.reference)
    return await kernel.run_operation(session, settings, caller, spec, partial(plan_move, move))


async def deposit(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, payment_reference: str, idempotency_key: str,
    promo_code: str | None = None,
) -> kernel.Outcome:  # fmt: skip
    check_idempotency_key(idempotency_key)
    check_payment_reference("paymentReference", payment_reference, required=True)
    check_text("promoCode", promo_code, required=False, max_len=64)
    minor = inputs.amount(amount, currency, settings)
    move = Move(
        WalletKind.REAL, minor, currency, HouseAccountKind.CASH_CLEARING, TransferKind.DEPOSIT,
        "wallet.deposited", payment_reference, False, True,
    )  # fmt: skip
    outcome = await _run_move(
        session, settings, caller, "deposit", player_id, idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency,
         "paymentReference": payment_reference}, move,
    )  # fmt: skip
    # Deposit triggers (bonus campaigns), in this same transaction.
    await kernel.after_operation(session, settings, Completed(
        "deposit", player_id, outcome.body, minor, currency, promo_code,
    ))  # fmt: skip
    return outcome


async def charge_fee(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, reason: str, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    check_idempotency_key(idempotency_key)
    check_text("reason", reason)
    minor = inputs.amount(amount, currency, settings)
    move = Move(WalletKind.REAL, -minor, currency, HouseAccountKind.FEES, TransferKind.FEE,
                "wallet.fee_charged", reason, True, False)  # fmt: skip
    return await _run_move(
        session, settings, caller, "chargeFee", player_id, idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency, "reason": reason},
        move,
    )  # fmt: skip


def _signed_amount(wallet_kind: WalletKind, amount: str, currency: str, settings: Settings) -> int:
    negative = isinstance(amount, str) and amount.startswith("-")
    if wallet_kind is WalletKind.FREESPINS:
        if currency != FREE_SPINS_UNIT:
            raise CurrencyMismatch(f"the FREESPINS wallet counts {FREE_SPINS_UNIT}")
        minor = parse_minor_units(amount[1:] if negative else amount, currency)
        minor = inputs.within_maximum(minor, currency, settings, field="amount")
    else:
        minor = inputs.amount(amount[1:] if negative else amount, currency, settings)
    return -minor if negative else minor


async def adjust_balance(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    wallet_kind: WalletKind, amount: str, currency: str, reason: str, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    """A staff correction (signed amount, mandatory reason) against the house account
    that funds that kind of wallet."""
    check_idempotency_key(idempotency_key)
    check_text("reason", reason)
    minor = _signed_amount(wallet_kind, amount, currency, settings)
    move = Move(wallet_kind, minor, currency, ADJUSTMENT_HOUSE[wallet_kind],
                TransferKind.ADJUSTMENT, "wallet.adjusted", reason, minor < 0, False)  # fmt: skip
    return await _run_move(
        session, settings, caller, "adjustBalance", player_id, idempotency_key,
        {"playerId": str(player_id), "walletKind": wallet_kind.value, "amount": minor,
         "currency": currency, "reason": reason}, move,
    )  # fmt: skip


async def grant_free_spins(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    spins: int, reference: str | None, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    check_idempotency_key(idempotency_key)
    check_text("reference", reference, required=False)
    count = inputs.spins(spins)
    move = Move(
        WalletKind.FREESPINS, count, FREE_SPINS_UNIT, HouseAccountKind.BONUS_LIABILITY,
        TransferKind.FREESPINS_GRANT, "freespins.granted", reference, False, False,
    )  # fmt: skip
    return await _run_move(
        session, settings, caller, "grantFreeSpins", player_id, idempotency_key,
        {"playerId": str(player_id), "spins": count, "reference": reference}, move,
    )  # fmt: skip


async def consume_free_spins(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    spins: int, reference: str | None, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    check_idempotency_key(idempotency_key)
    check_text("reference", reference, required=False)
    count = inputs.spins(spins)
    move = Move(
        WalletKind.FREESPINS, -count, FREE_SPINS_UNIT, HouseAccountKind.GAME,
        TransferKind.FREESPINS_CONSUME, "freespins.consumed", reference, True, True,
    )  # fmt: skip
    return await _run_move(
        session, settings, caller, "consumeFreeSpins", player_id, idempotency_key,
        {"playerId": str(player_id), "spins": count, "reference": reference}, move,
    )  # fmt: skip


async def tournament_transfer(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, reference: str | None, credit: bool, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    check_idempotency_key(idempotency_key)
    check_text("reference", reference, required=False)
    minor = inputs.amount(amount, currency, settings)
    move = Move(
        WalletKind.TOURNAMENT, minor if credit else -minor, currency, HouseAccountKind.GAME,
        TransferKind.TOURNAMENT_CREDIT if credit else TransferKind.TOURNAMENT_DEBIT,
        "tournament.credited" if credit else "tournament.debited", reference, not credit, True,
    )  # fmt: skip
    return await _run_move(
        session, settings, caller, "creditTournament" if credit else "debitTournament",
        player_id, idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency,
         "reference": reference}, move,
    )  # fmt: skip
