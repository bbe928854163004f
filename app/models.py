"""Imports every domain's tables so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from app.events.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.players.models import Player
from app.wallets.models import Wallet

__all__ = [
    "OutboxEvent",
    "Player",
    "Wallet",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
