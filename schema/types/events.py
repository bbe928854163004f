"""Types of live updates (subscriptions) and the back-office event feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from schema.enums import ConfirmStatusEnum, RiskLevelEnum
from schema.types.balances import WalletBalance


def _time(envelope: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(envelope["time"])


@strawberry.type(description="A committed balance change and every wallet after it.")
class BalanceChange:
    event_id: strawberry.ID
    player_id: strawberry.ID
    transaction_id: strawberry.ID | None = strawberry.field(
        description="The ledger transaction that caused the change."
    )
    operation: str = strawberry.field(description="deposit, bet, win, fee, hold, void, ...")
    wallets: list[WalletBalance]
    occurred_at: datetime

    @classmethod
    def from_event(cls, envelope: dict[str, Any]) -> BalanceChange:
        """From a projected envelope: without wallet:read ``wallets`` is empty."""
        data = envelope["data"]
        tx = data.get("transactionId")
        return cls(
            event_id=strawberry.ID(envelope["id"]),
            player_id=strawberry.ID(str(data.get("playerId") or envelope["subject"])),
            transaction_id=strawberry.ID(str(tx)) if tx is not None else None,
            operation=str(data.get("operation", "")),
            wallets=[WalletBalance.from_doc(w) for w in data.get("wallets", [])],
            occurred_at=_time(envelope),
        )


@strawberry.type(description="The player's verification (KYC) status or risk level changed.")
class VerificationStatusChange:
    event_id: strawberry.ID
    player_id: strawberry.ID
    confirm_status: ConfirmStatusEnum
    risk_level: RiskLevelEnum | None = strawberry.field(
        description="As Player.riskLevel: null without kyc:read (the player sees their own)."
    )
    occurred_at: datetime

    @classmethod
    def from_event(cls, envelope: dict[str, Any]) -> VerificationStatusChange:
        data = envelope["data"]
        return cls(
            event_id=strawberry.ID(envelope["id"]),
            player_id=strawberry.ID(str(data.get("playerId") or envelope["subject"])),
            confirm_status=ConfirmStatusEnum(data["confirmStatus"]),
            risk_level=RiskLevelEnum(data["riskLevel"]) if data.get("riskLevel") else None,
            occurred_at=_time(envelope),
        )


@strawberry.type(
    description="A committed domain event (CloudEvents 1.0 fields); `data` holds only the "
    "keys the caller may read (permissions/payloads.py)."
)
class DomainEvent:
    id: strawberry.ID
    type: str
    subject: str | None
    time: datetime
    data: JSON

    @classmethod
    def from_event(cls, envelope: dict[str, Any]) -> DomainEvent:
        return cls(
            id=strawberry.ID(envelope["id"]),
            type=envelope["type"],
            subject=envelope.get("subject"),
            time=_time(envelope),
            data=envelope.get("data", {}),
        )


@strawberry.input(description="Which events the feed carries; omitted = all.")
class PlayerEventFilter:
    types: list[str] | None = None
    player_id: strawberry.ID | None = None
