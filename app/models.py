"""Imports every domain's tables so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from app.audit.models import AuditEntry
from app.events.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.identity.models import (
    MfaFactor,
    OAuthClient,
    RecoveryCode,
    SessionState,
    SigningKey,
    SmsMessage,
    StaffMember,
)
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
    "AuditEntry",
    "GameRound",
    "GameTransaction",
    "HouseAccount",
    "IdempotencyRecord",
    "LedgerHold",
    "LedgerTransfer",
    "MfaFactor",
    "OAuthClient",
    "OutboxEvent",
    "Player",
    "RecoveryCode",
    "SessionState",
    "SigningKey",
    "SmsMessage",
    "StaffMember",
    "Wallet",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
