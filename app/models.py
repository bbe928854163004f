"""Imports every domain's tables so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from app.bonuses.models import BonusCampaign, BonusTriggerCursor, LoyaltyAccount, PlayerBonus
from app.events.models import OutboxEvent
from app.ledger.models import (
    GameRound,
    GameTransaction,
    HouseAccount,
    IdempotencyRecord,
    LedgerHold,
    LedgerTransfer,
)
from app.players.models import Player
from app.wallets.models import Wallet

__all__ = [
    "BonusCampaign",
    "BonusTriggerCursor",
    "GameRound",
    "GameTransaction",
    "HouseAccount",
    "IdempotencyRecord",
    "LedgerHold",
    "LedgerTransfer",
    "LoyaltyAccount",
    "OutboxEvent",
    "Player",
    "PlayerBonus",
    "Wallet",
]
