"""Money mutations: parse ids, run one service call in one transaction, map the result
document or the DomainError to the typed union.

Audit: the game engine's and payments' operations are recorded by the ledger itself
(append-only transfer rows with actor, idempotency key, reference and time, written in
the same statement), which keeps the hot path at one write statement; staff adjustments
also get an audit_log row. Denials of any of them are audited (permissions/rules.py)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.ledger import service
from app.ledger.service import Outcome
from app.wallets.models import WalletKind
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result
from schema.context import Info
from schema.inputs import ledger as inputs
from schema.types.ledger import from_document, from_error, result_union


def _player(raw: strawberry.ID) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound("player not found") from None


def _int_id(raw: strawberry.ID | None, field: str) -> int | None:
    if raw is None:
        return None
    text = str(raw)
    if not text.isdigit() or len(text) > 18:
        raise ValidationFailed.single(field, "is not a valid id")
    return int(text)


async def _execute(info: Info, call: Callable[[AsyncSession], Awaitable[Outcome]]) -> Any:
    try:
        async with info.context.db.transaction() as session:
            outcome = await call(session)
    except DomainError as exc:
        # Rolled back, so the APPLY statement's audit row was never written: record the
        # refusal on its own.
        await audit.record_now(info.context.db, actor_of(info), f"ledger.{info.field_name}",
                               None, audit.FAILURE, {"code": exc.code})  # fmt: skip
        return from_error(exc)
    return from_document(outcome.body)


@strawberry.type
class LedgerMutations:
    @strawberry.mutation(
        description="Hold a stake: REAL first, then BONUS (configurable).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def reserve_bet(self, info: Info, input: inputs.ReserveBetInput) -> result_union(
        "ReserveBetResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.reserve_bet(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            amount=input.amount, currency=input.currency, game_round_id=input.game_round_id,
            transaction_id=input.transaction_id, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Post a round's held stakes and credit the win.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def settle_bet(self, info: Info, input: inputs.SettleBetInput) -> result_union(
        "SettleBetResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.settle_bet(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            reservation_id=_int_id(input.reservation_id, "reservationId"),
            game_round_id=input.game_round_id, win_amount=input.win_amount,
            currency=input.currency, transaction_id=input.transaction_id,
            idempotency_key=input.idempotency_key, game_category=input.game_category,
            game_id=input.game_id, game_provider=input.game_provider,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Void a pending bet; its money is available again.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def cancel_bet(self, info: Info, input: inputs.CancelBetInput) -> result_union(
        "CancelBetResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.cancel_bet(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            reservation_id=_int_id(input.reservation_id, "reservationId") or 0,
            idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Provider rollback of one bet (tombstone if unseen).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def rollback_bet(self, info: Info, input: inputs.RollbackBetInput) -> result_union(
        "RollbackBetResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.rollback_bet(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            transaction_id=input.transaction_id, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Provider refund of a settled round.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def rollback_round(self, info: Info, input: inputs.RollbackRoundInput) -> result_union(
        "RollbackRoundResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.rollback_round(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            game_round_id=input.game_round_id, transaction_id=input.transaction_id,
            idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Credit REAL from the payments service.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def deposit(self, info: Info, input: inputs.DepositInput) -> result_union(
        "DepositResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.deposit(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            amount=input.amount, currency=input.currency,
            payment_reference=input.payment_reference, idempotency_key=input.idempotency_key,
            promo_code=input.promo_code,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Hold REAL money for a payout until confirmed/rejected.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def withdraw(self, info: Info, input: inputs.WithdrawInput) -> result_union(
        "WithdrawResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.withdraw(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            amount=input.amount, currency=input.currency,
            payment_reference=input.payment_reference, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="The payout went out: post the held money.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def confirm_withdrawal(
        self, info: Info, input: inputs.WithdrawalDecisionInput
    ) -> result_union("ConfirmWithdrawalResult"):  # type: ignore[valid-type]
        return await _decide(info, input, confirm=True)

    @strawberry.mutation(
        description="The payout failed: release the held money.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def reject_withdrawal(
        self, info: Info, input: inputs.WithdrawalDecisionInput
    ) -> result_union("RejectWithdrawalResult"):  # type: ignore[valid-type]
        return await _decide(info, input, confirm=False)

    @strawberry.mutation(
        description="Take a commission from REAL to the house fees account.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def charge_fee(self, info: Info, input: inputs.ChargeFeeInput) -> result_union(
        "ChargeFeeResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.charge_fee(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            amount=input.amount, currency=input.currency, reason=input.reason,
            idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Staff correction of a wallet (signed amount, reason).",
        extensions=[forbidden_result(P.WALLET_ADJUST, audit=True)],
    )
    async def adjust_balance(self, info: Info, input: inputs.AdjustBalanceInput) -> result_union(
        "AdjustBalanceResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.adjust_balance(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            wallet_kind=WalletKind(input.wallet_kind.value), amount=input.amount,
            currency=input.currency, reason=input.reason, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Add spins to the FREESPINS wallet.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def grant_free_spins(self, info: Info, input: inputs.FreeSpinsInput) -> result_union(
        "GrantFreeSpinsResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.grant_free_spins(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            spins=input.spins, reference=input.reference, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Use spins from the FREESPINS wallet.",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def consume_free_spins(self, info: Info, input: inputs.FreeSpinsInput) -> result_union(
        "ConsumeFreeSpinsResult"
    ):  # type: ignore[valid-type]
        ctx = info.context
        return await _execute(info, lambda s: service.consume_free_spins(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            spins=input.spins, reference=input.reference, idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Credit the TOURNAMENT wallet (prize, buy-in refund).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def credit_tournament(self, info: Info, input: inputs.TournamentInput) -> result_union(
        "CreditTournamentResult"
    ):  # type: ignore[valid-type]
        return await _tournament(info, input, credit=True)

    @strawberry.mutation(
        description="Debit the TOURNAMENT wallet (buy-in).",
        extensions=[forbidden_result(P.WALLET_OPERATE)],
    )
    async def debit_tournament(self, info: Info, input: inputs.TournamentInput) -> result_union(
        "DebitTournamentResult"
    ):  # type: ignore[valid-type]
        return await _tournament(info, input, credit=False)


async def _decide(info: Info, input: inputs.WithdrawalDecisionInput, *, confirm: bool) -> Any:
    ctx = info.context
    return await _execute(info, lambda s: service.decide_withdrawal(
        s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
        withdrawal_id=_int_id(input.withdrawal_id, "withdrawalId") or 0, confirm=confirm,
        idempotency_key=input.idempotency_key,
    ))  # fmt: skip


async def _tournament(info: Info, input: inputs.TournamentInput, *, credit: bool) -> Any:
    ctx = info.context
    return await _execute(info, lambda s: service.tournament_transfer(
        s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
        amount=input.amount, currency=input.currency, reference=input.reference, credit=credit,
        idempotency_key=input.idempotency_key,
    ))  # fmt: skip
