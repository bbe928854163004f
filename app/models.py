"""Imports every domain's tables so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from app.analytics.models import DailyActivePlayer, DailyCount, DailyMoney, DailyRegistrations
from app.audit.models import AuditEntry
from app.bonuses.models import BonusCampaign, BonusTriggerCursor, LoyaltyAccount, PlayerBonus
from app.events.models import (
    EventConsumerCursor,
    EventConsumption,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.exports.models import ExportRun, ExportSigningKey
from app.fraud.models import (
    FraudActivity,
    FraudBaseline,
    FraudCase,
    FraudFlags,
    FraudHit,
    FraudIdentifier,
    FraudObservation,
    FraudRule,
)
from app.identity.models import (
    MfaFactor,
    OAuthClient,
    RecoveryCode,
    SessionState,
    SigningKey,
    SmsMessage,
    StaffMember,
)
from app.imports.models import MarketingImport
from app.kyc.models import KycCase, KycCaseEvent
from app.ledger.models import (
    GameRound,
    GameTransaction,
    HouseAccount,
    IdempotencyRecord,
    LedgerCarryForward,
    LedgerHold,
    LedgerTransfer,
)
from app.players.models import Player
from app.playstyle.models import PlayerMetrics
from app.profiles.models import PlayerProfile, PlayerTag, SettingsChange
from app.responsible.models import GamblingLimit, PlayerExclusion
from app.retention.models import RetentionArchive
from app.segments.models import Segment, SegmentMember
from app.wallets.models import Wallet

__all__ = [
    "AuditEntry",
    "BonusCampaign",
    "BonusTriggerCursor",
    "DailyActivePlayer",
    "DailyCount",
    "DailyMoney",
    "DailyRegistrations",
    "EventConsumerCursor",
    "EventConsumption",
    "ExportRun",
    "ExportSigningKey",
    "FraudActivity",
    "FraudBaseline",
    "FraudCase",
    "FraudFlags",
    "FraudHit",
    "FraudIdentifier",
    "FraudObservation",
    "FraudRule",
    "GamblingLimit",
    "GameRound",
    "GameTransaction",
    "HouseAccount",
    "IdempotencyRecord",
    "KycCase",
    "KycCaseEvent",
    "LedgerCarryForward",
    "LedgerHold",
    "LedgerTransfer",
    "LoyaltyAccount",
    "MarketingImport",
    "MfaFactor",
    "OAuthClient",
    "OutboxEvent",
    "Player",
    "PlayerBonus",
    "PlayerExclusion",
    "PlayerMetrics",
    "PlayerProfile",
    "PlayerTag",
    "RecoveryCode",
    "RetentionArchive",
    "Segment",
    "SegmentMember",
    "SessionState",
    "SettingsChange",
    "SigningKey",
    "SmsMessage",
    "StaffMember",
    "Wallet",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
