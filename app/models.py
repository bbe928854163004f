"""Imports every domain's tables so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from app.alerts.models import Alert, AlertCounter, AlertHistory, AlertRule, AlertRuleState
from app.analytics.models import (
    AnalyticsPlayer,
    AnalyticsRegistrationError,
    AnalyticsSegmentMember,
    DailyActivePlayer,
    DailyCount,
    DailyMoney,
    DailyRegistrations,
    PlayerDay,
)
from app.audit.models import AuditEntry, AuditPersonalValue
from app.bonuses.models import BonusCampaign, BonusTriggerCursor, LoyaltyAccount, PlayerBonus
from app.consents.models import ConsentChange, PlayerConsent
from app.core.jobs import Job
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
from app.gdpr.models import Erasure
from app.identity.models import (
    MfaFactor,
    OAuthClient,
    RecoveryCode,
    SessionState,
    SigningKey,
    SmsMessage,
    StaffMember,
)
from app.imports.models import MarketingImport, MarketingImportUpload
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
from app.responsible.models import GamblingLimit, PlayerExclusion, PlaySession
from app.retention.models import RetentionArchive
from app.segments.models import Segment, SegmentMember
from app.wallets.models import Wallet

__all__ = [
    "Alert",
    "AlertCounter",
    "AlertHistory",
    "AlertRule",
    "AlertRuleState",
    "AnalyticsPlayer",
    "AnalyticsRegistrationError",
    "AnalyticsSegmentMember",
    "AuditEntry",
    "AuditPersonalValue",
    "BonusCampaign",
    "BonusTriggerCursor",
    "ConsentChange",
    "DailyActivePlayer",
    "DailyCount",
    "DailyMoney",
    "DailyRegistrations",
    "Erasure",
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
    "Job",
    "KycCase",
    "KycCaseEvent",
    "LedgerCarryForward",
    "LedgerHold",
    "LedgerTransfer",
    "LoyaltyAccount",
    "MarketingImport",
    "MarketingImportUpload",
    "MfaFactor",
    "OAuthClient",
    "OutboxEvent",
    "PlaySession",
    "Player",
    "PlayerBonus",
    "PlayerConsent",
    "PlayerDay",
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
