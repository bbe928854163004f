"""Money mutations: parse ids, run one service call through the mutation runner, map the
result document (or the DomainError, via the error registry) to the typed union.

Audit: the game engine's and payments' operations are recorded by the ledger itself
(append-only transfer rows with actor, idempotency key, reference and time, written in
the same statement), which keeps the hot path at one write statement; staff adjustments
also get an audit_log row. Denials of any of them are audited (permissions/rules.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import strawberry

from app.bonuses.errors import MaxBetExceeded
from app.core.db import DriverTransaction
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.fraud import access as fraud_access
from app.fraud.errors import WithdrawalsOnHold
from app.kyc.errors import VerificationRequired
from app.ledger import errors as E
from app.ledger import service
from app.ledger.kernel import Unit
from app.ledger.service import Outcome
from app.responsible.errors import LimitExceeded, SessionLimitReached
from app.wallets.models import WalletKind
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run_coalesced, run_on_driver
from schema.context import Info
from schema.ids import parse_int_id, parse_uuid
from schema.inputs import ledger as inputs
from schema.types.ledger import InsufficientFunds, WalletOperation, from_document

# What every ledger operation can answer: bad input, an unknown player, the idempotency
# outcomes, and the kernel's own checks (currency, blocked debits, a final hold, a
# transaction id seen before).
_KERNEL: tuple[type[DomainError], ...] = (
    ValidationFailed, NotFound, E.IdempotencyKeyReused, E.RequestInProgress,
    E.CurrencyMismatch, E.AccountBlocked, E.HoldNotPending, E.DuplicateTransaction,
    E.AmountTooLarge,
)  # fmt: skip


def _spec(name: str, *errors: type[DomainError], gambling: bool = False) -> MutationSpec:
    return MutationSpec(
        name, (WalletOperation, InsufficientFunds), _KERNEL + errors,
        failure_audit="ledger.{field}", gambling=gambling,
    )  # fmt: skip


# Stakes are gambling: refused for a token carrying a restriction (a game engine that
# forwards a player's session would carry it; service tokens never do).
RESERVE_BET = _spec(
    "ReserveBetResult", MaxBetExceeded, LimitExceeded, SessionLimitReached, gambling=True
)
SETTLE_BET = _spec("SettleBetResult", E.ReservationNotFound, E.RoundNotFound)
CANCEL_BET = _spec("CancelBetResult", E.ReservationNotFound)
ROLLBACK_BET = _spec("RollbackBetResult", E.ReservationNotFound)
ROLLBACK_ROUND = _spec("RollbackRoundResult", E.RoundNotFound)
DEPOSIT = _spec("DepositResult", LimitExceeded)
WITHDRAW = _spec("WithdrawResult", VerificationRequired, WithdrawalsOnHold)
CONFIRM_WITHDRAWAL = _spec("ConfirmWithdrawalResult", E.ReservationNotFound)
REJECT_WITHDRAWAL = _spec("RejectWithdrawalResult", E.ReservationNotFound)
CHARGE_FEE = _spec("ChargeFeeResult")
ADJUST_BALANCE = _spec("AdjustBalanceResult")
GRANT_FREE_SPINS = _spec("GrantFreeSpinsResult")
CONSUME_FREE_SPINS = _spec("ConsumeFreeSpinsResult", gambling=True)
CREDIT_TOURNAMENT = _spec("CreditTournamentResult")
DEBIT_TOURNAMENT = _spec("DebitTournamentResult", gambling=True)


def _player(raw: strawberry.ID) -> Any:
    return parse_uuid(raw, "playerId")


async def _execute(
    info: Info, spec: MutationSpec, call: Call, check: Callable[[], None] | None = None,
    prepare: Callable[[], Any] | None = None,
) -> Any:  # fmt: skip
    """``check`` (input the service does not see) runs first, inside the runner: a refusal
    is the same typed, audited answer with nothing written. With ``prepare`` (the bet
    operations set_batch covers) the call goes through the process's group commit."""
    if prepare is not None and info.context.coalescer is not None:
        return await run_coalesced(info, spec, call, prepare, check, _present)

    async def checked(unit: DriverTransaction) -> Outcome:
        if check is not None:
            check()
        return await call(unit)

    return await run_on_driver(info, spec, checked, _present)


def _present(outcome: Outcome) -> Any:
    return from_document(outcome.body)


def check_ip(input: Any) -> None:
    """The ``ipAddress`` a money call carries (telemetry inputs) must be an address."""
    raw = getattr(input, "ip_address", None)
    if raw is not None:
        try:
            ipaddress.ip_address(raw.strip())
        except ValueError:
            raise ValidationFailed.single("ipAddress", "not an IPv4 or IPv6 address") from None


def device_seen(operation: str, input: Any, answer: Any) -> fraud_access.DeviceSeen | None:
    """The fraud telemetry of a money call that succeeded and carries the player's device
    fingerprint or IP address (single mutations, playRound and walletBatch items alike)."""
    raw_ip = getattr(input, "ip_address", None)
    ip = raw_ip.strip() if raw_ip else None
    device = getattr(input, "device_fingerprint", None)
    if (device or ip) and isinstance(answer, WalletOperation):
        return fraud_access.DeviceSeen(str(input.player_id), operation, ip, device)
    return None


async def record_telemetry(info: Info, seen: list[fraud_access.DeviceSeen | None]) -> None:
    """After the money transaction, in one of its own (the money statements are unchanged)."""
    found = [s for s in seen if s is not None]
    if found:
        await fraud_access.record_devices(info.context.db, found)


async def with_telemetry(info: Info, operation: str, input: Any, result: Awaitable[Any]) -> Any:
    answer = await result
    await record_telemetry(info, [device_seen(operation, input, answer)])
    return answer


def _optional_int(raw: strawberry.ID | None, field: str) -> int | None:
    return None if raw is None else parse_int_id(raw, field)


# --- the calls, shared by the single mutations and walletBatch --------------------------
# (a single mutation runs its call on a driver transaction, walletBatch on a session)
Call = Callable[[Unit], Awaitable[Outcome]]


@dataclass(frozen=True)
class _Operation:
    """One money operation: one reading of its input (``arguments``, the service's keyword
    arguments) for both of its service forms, ``run`` (the call in a unit of work) and,
    for the bet operations set_batch covers, ``prepare`` (the checked plan a set-based
    batch runs). The ids are parsed when the call or the plan is made, inside the
    runner, so a bad id is the typed ValidationFailed answer."""

    run: Callable[..., Awaitable[Outcome]]
    arguments: Callable[[Any], dict[str, Any]]
    prepare: Callable[..., Any] | None = None
    prepare_settings: bool = True  # the cancel and rollback plans need no settings

    def call(self, ctx: Any, input: Any) -> Call:
        return lambda s: self.run(s, ctx.settings, ctx.principal, **self.arguments(input))

    def prepared(self, ctx: Any, input: Any) -> Any:
        assert self.prepare is not None
        head = (ctx.settings,) if self.prepare_settings else ()
        return self.prepare(*head, **self.arguments(input))

    async def execute(self, info: Info, spec: MutationSpec, input: Any) -> Any:
        ctx = info.context
        prepare = None if self.prepare is None else partial(self.prepared, ctx, input)
        return await _execute(info, spec, self.call(ctx, input), prepare=prepare)


def _game(input: Any) -> dict[str, Any]:
    """The game a win is credited for (bonus wagering contributions)."""
    return {"game_category": input.game_category, "game_id": input.game_id,
            "game_provider": input.game_provider}  # fmt: skip


RESERVE_BET_OP = _Operation(
    service.reserve_bet,
    lambda i: {
        "player_id": _player(i.player_id), "amount": i.amount, "currency": i.currency,
        "game_round_id": i.game_round_id, "transaction_id": i.transaction_id,
        "idempotency_key": i.idempotency_key,
    },
    service.prepare_reserve_bet,
)  # fmt: skip
SETTLE_BET_OP = _Operation(
    service.settle_bet,
    lambda i: {
        "player_id": _player(i.player_id),
        "reservation_id": _optional_int(i.reservation_id, "reservationId"),
        "game_round_id": i.game_round_id, "win_amount": i.win_amount, "currency": i.currency,
        "transaction_id": i.transaction_id, "idempotency_key": i.idempotency_key, **_game(i),
    },
    service.prepare_settle_bet,
)  # fmt: skip
CANCEL_BET_OP = _Operation(
    service.cancel_bet,
    lambda i: {
        "player_id": _player(i.player_id),
        "reservation_id": parse_int_id(i.reservation_id, "reservationId"),
        "idempotency_key": i.idempotency_key,
    },
    service.prepare_cancel_bet, prepare_settings=False,
)  # fmt: skip
ROLLBACK_BET_OP = _Operation(
    service.rollback_bet,
    lambda i: {
        "player_id": _player(i.player_id), "transaction_id": i.transaction_id,
        "idempotency_key": i.idempotency_key,
    },
    service.prepare_rollback_bet, prepare_settings=False,
)  # fmt: skip
ROLLBACK_ROUND_OP = _Operation(
    service.rollback_round,
    lambda i: {
        "player_id": _player(i.player_id), "game_round_id": i.game_round_id,
        "transaction_id": i.transaction_id, "idempotency_key": i.idempotency_key,
    },
    service.prepare_rollback_round, prepare_settings=False,
)  # fmt: skip
PLAY_ROUND_OP = _Operation(
    service.play_round,
    lambda i: {
        "player_id": _player(i.player_id), "game_round_id": i.game_round_id,
        "stake": i.stake, "win_amount": i.win_amount, "currency": i.currency,
        "transaction_id": i.transaction_id, "idempotency_key": i.idempotency_key, **_game(i),
    },
    service.prepare_play_round,
)  # fmt: skip
DEPOSIT_OP = _Operation(
    service.deposit,
    lambda i: {
        "player_id": _player(i.player_id), "amount": i.amount, "currency": i.currency,
        "payment_reference": i.payment_reference, "idempotency_key": i.idempotency_key,
        "promo_code": i.promo_code,
    },
)  # fmt: skip


@strawberry.type
class LedgerMutations:
    @strawberry.mutation(
        graphql_type=RESERVE_BET.union,
        description="Hold a stake: REAL first, then BONUS (configurable).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def reserve_bet(self, info: Info, input: inputs.ReserveBetInput) -> object:
        return await RESERVE_BET_OP.execute(info, RESERVE_BET, input)

    @strawberry.mutation(
        graphql_type=SETTLE_BET.union,
        description="Post a round's held stakes and credit the win.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def settle_bet(self, info: Info, input: inputs.SettleBetInput) -> object:
        return await SETTLE_BET_OP.execute(info, SETTLE_BET, input)

    @strawberry.mutation(
        graphql_type=CANCEL_BET.union,
        description="Void a pending bet; its money is available again.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def cancel_bet(self, info: Info, input: inputs.CancelBetInput) -> object:
        return await CANCEL_BET_OP.execute(info, CANCEL_BET, input)

    @strawberry.mutation(
        graphql_type=ROLLBACK_BET.union,
        description="Provider rollback of one bet (tombstone if unseen).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def rollback_bet(self, info: Info, input: inputs.RollbackBetInput) -> object:
        return await ROLLBACK_BET_OP.execute(info, ROLLBACK_BET, input)

    @strawberry.mutation(
        graphql_type=ROLLBACK_ROUND.union,
        description="Provider refund of a settled round.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def rollback_round(self, info: Info, input: inputs.RollbackRoundInput) -> object:
        return await ROLLBACK_ROUND_OP.execute(info, ROLLBACK_ROUND, input)

    @strawberry.mutation(
        graphql_type=DEPOSIT.union,
        description="Credit REAL from the payments service.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def deposit(self, info: Info, input: inputs.DepositInput) -> object:
        deposit = DEPOSIT_OP.call(info.context, input)
        call = _execute(info, DEPOSIT, deposit, lambda: check_ip(input))
        return await with_telemetry(info, "deposit", input, call)

    @strawberry.mutation(
        graphql_type=WITHDRAW.union,
        description="Hold REAL money for a payout until confirmed/rejected.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def withdraw(self, info: Info, input: inputs.WithdrawInput) -> object:
        ctx = info.context
        call = _execute(info, WITHDRAW, lambda s: service.withdraw(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            amount=input.amount, currency=input.currency,
            payment_reference=input.payment_reference, idempotency_key=input.idempotency_key,
        ), lambda: check_ip(input))  # fmt: skip
        return await with_telemetry(info, "withdraw", input, call)

    @strawberry.mutation(
        graphql_type=CONFIRM_WITHDRAWAL.union,
        description="The payout went out: post the held money.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def confirm_withdrawal(self, info: Info, input: inputs.WithdrawalDecisionInput) -> object:
        return await _decide(info, input, CONFIRM_WITHDRAWAL, confirm=True)

    @strawberry.mutation(
        graphql_type=REJECT_WITHDRAWAL.union,
        description="The payout failed: release the held money.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def reject_withdrawal(self, info: Info, input: inputs.WithdrawalDecisionInput) -> object:
        return await _decide(info, input, REJECT_WITHDRAWAL, confirm=False)

    @strawberry.mutation(
        graphql_type=CHARGE_FEE.union,
        description="Take a commission from REAL to the house fees account.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def charge_fee(self, info: Info, input: inputs.ChargeFeeInput) -> object:
        ctx = info.context
        return await _execute(info, CHARGE_FEE, lambda s: service.charge_fee(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            amount=input.amount, currency=input.currency, reason=input.reason,
            idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=ADJUST_BALANCE.union,
        description="Staff correction of a wallet (signed amount, reason).",
        extensions=[forbidden_result(P.WALLET_ADJUST, audit=True)],
    )
    async def adjust_balance(self, info: Info, input: inputs.AdjustBalanceInput) -> object:
        ctx = info.context
        return await _execute(info, ADJUST_BALANCE, lambda s: service.adjust_balance(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            wallet_kind=WalletKind(input.wallet_kind.value), amount=input.amount,
            currency=input.currency, reason=input.reason, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=GRANT_FREE_SPINS.union,
        description="Add spins to the FREESPINS wallet.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def grant_free_spins(self, info: Info, input: inputs.FreeSpinsInput) -> object:
        ctx = info.context
        return await _execute(info, GRANT_FREE_SPINS, lambda s: service.grant_free_spins(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            spins=input.spins, reference=input.reference, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=CONSUME_FREE_SPINS.union,
        description="Use spins from the FREESPINS wallet.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def consume_free_spins(self, info: Info, input: inputs.FreeSpinsInput) -> object:
        ctx = info.context
        return await _execute(info, CONSUME_FREE_SPINS, lambda s: service.consume_free_spins(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            spins=input.spins, reference=input.reference, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=CREDIT_TOURNAMENT.union,
        description="Credit the TOURNAMENT wallet (prize, buy-in refund).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def credit_tournament(self, info: Info, input: inputs.TournamentInput) -> object:
        return await _tournament(info, input, CREDIT_TOURNAMENT, credit=True)

    @strawberry.mutation(
        graphql_type=DEBIT_TOURNAMENT.union,
        description="Debit the TOURNAMENT wallet (buy-in).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def debit_tournament(self, info: Info, input: inputs.TournamentInput) -> object:
        return await _tournament(info, input, DEBIT_TOURNAMENT, credit=False)


async def _decide(
    info: Info, input: inputs.WithdrawalDecisionInput, spec: MutationSpec, *, confirm: bool
) -> Any:
    ctx = info.context
    return await _execute(info, spec, lambda s: service.decide_withdrawal(
        s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
        withdrawal_id=parse_int_id(input.withdrawal_id, "withdrawalId"), confirm=confirm,
        idempotency_key=input.idempotency_key,
    ))  # fmt: skip


async def _tournament(
    info: Info, input: inputs.TournamentInput, spec: MutationSpec, *, credit: bool
) -> Any:
    ctx = info.context
    return await _execute(info, spec, lambda s: service.tournament_transfer(
        s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
        amount=input.amount, currency=input.currency, reference=input.reference, credit=credit,
        idempotency_key=input.idempotency_key,
    ))  # fmt: skip
