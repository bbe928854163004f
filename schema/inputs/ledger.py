"""Inputs of the ledger. Amounts are decimal strings in the currency's units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.ledger.repository import HistoryFilter
from schema.enums import WalletKindEnum
from schema.input_guard import free_text

KEY = "Unique per caller and operation, 1-128 characters; a retry must reuse it."


# Fraud telemetry a money call may carry (resolvers/mutations/ledger.py records it).
def device_field() -> Any:
    return strawberry.field(
        default=None, description="The player's device fingerprint, when known (anti-fraud)."
    )


def ip_field() -> Any:
    return strawberry.field(
        default=None,
        description="The player's IP address, when known (anti-fraud; only its hash is kept).",
    )


@strawberry.input
class ReserveBetInput:
    player_id: strawberry.ID
    amount: str
    currency: str
    game_round_id: str
    transaction_id: str = strawberry.field(description="The game engine's bet id.")
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class SettleBetInput:
    player_id: strawberry.ID
    win_amount: str = strawberry.field(description="0 for a lost round.")
    currency: str
    transaction_id: str = strawberry.field(description="The game engine's win id.")
    idempotency_key: str = strawberry.field(description=KEY)
    reservation_id: strawberry.ID | None = None
    game_round_id: str | None = None
    game_category: str | None = strawberry.field(
        default=None, description="Weights bonus wagering and loyalty points (default: slots)."
    )
    game_id: str | None = strawberry.field(default=None, description="For play-style profiles.")
    game_provider: str | None = strawberry.field(
        default=None, description="For play-style profiles."
    )


@strawberry.input
class CancelBetInput:
    player_id: strawberry.ID
    reservation_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class RollbackBetInput:
    player_id: strawberry.ID
    transaction_id: str = strawberry.field(description="The id of the bet to roll back.")
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class RollbackRoundInput:
    player_id: strawberry.ID
    game_round_id: str
    transaction_id: str = strawberry.field(description="The game engine's refund id.")
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input(description="Bet and win of one round in one call (instant games).")
class PlayRoundInput:
    player_id: strawberry.ID
    game_round_id: str
    stake: str
    win_amount: str = strawberry.field(description="0 for a lost round.")
    currency: str
    transaction_id: str = strawberry.field(
        description="The game engine's round transaction id (stored as ID:bet and ID:win)."
    )
    idempotency_key: str = strawberry.field(
        description="Unique per caller and round, 1-124 characters (stored as KEY:bet and "
        "KEY:win); a retry must reuse it."
    )
    game_category: str | None = None
    game_id: str | None = None
    game_provider: str | None = None
    device_fingerprint: str | None = device_field()
    ip_address: str | None = ip_field()


@strawberry.input
class DepositInput:
    player_id: strawberry.ID
    amount: str
    currency: str
    payment_reference: str = free_text(description="A payment token, never card data.")
    idempotency_key: str = strawberry.field(description=KEY)
    promo_code: str | None = free_text(default=None, description="A bonus promo code.")
    device_fingerprint: str | None = device_field()
    ip_address: str | None = ip_field()


@strawberry.input
class WithdrawInput:
    player_id: strawberry.ID
    amount: str
    currency: str
    idempotency_key: str = strawberry.field(description=KEY)
    payment_reference: str | None = free_text(default=None)
    device_fingerprint: str | None = device_field()
    ip_address: str | None = ip_field()


@strawberry.input
class WithdrawalDecisionInput:
    player_id: strawberry.ID
    withdrawal_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class ChargeFeeInput:
    player_id: strawberry.ID
    amount: str
    currency: str
    reason: str = free_text()
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class AdjustBalanceInput:
    player_id: strawberry.ID
    wallet_kind: WalletKindEnum
    amount: str = strawberry.field(description="Signed: '-5.00' takes money away.")
    currency: str
    reason: str = free_text()
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class FreeSpinsInput:
    player_id: strawberry.ID
    spins: int
    idempotency_key: str = strawberry.field(description=KEY)
    reference: str | None = free_text(default=None)


@strawberry.input
class TournamentInput:
    player_id: strawberry.ID
    amount: str
    currency: str
    idempotency_key: str = strawberry.field(description=KEY)
    reference: str | None = free_text(default=None)


@strawberry.input
class LedgerFilter:
    kind: str | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None

    def to_data(self) -> HistoryFilter:
        return HistoryFilter(kind=self.kind, since=self.from_, until=self.to)


@strawberry.input(
    one_of=True,
    description="One operation of a walletBatch: exactly one of the fields is set.",
)
class WalletBatchOperation:
    reserve_bet: ReserveBetInput | None = strawberry.UNSET
    settle_bet: SettleBetInput | None = strawberry.UNSET
    cancel_bet: CancelBetInput | None = strawberry.UNSET
    rollback_bet: RollbackBetInput | None = strawberry.UNSET
    rollback_round: RollbackRoundInput | None = strawberry.UNSET
    deposit: DepositInput | None = strawberry.UNSET
    play_round: PlayRoundInput | None = strawberry.UNSET
