"""Imports every domain's tables so ``SQLModel.metadata`` is complete (Alembic, tests)."""

from app.events.models import OutboxEvent
from app.kyc.models import KycCase, KycCaseEvent
from app.players.models import Player
from app.playstyle.models import PlayerMetrics
from app.profiles.models import PlayerProfile, PlayerTag, SettingsChange
from app.segments.models import Segment, SegmentMember
from app.wallets.models import Wallet

__all__ = [
    "KycCase",
    "KycCaseEvent",
    "OutboxEvent",
    "Player",
    "PlayerMetrics",
    "PlayerProfile",
    "PlayerTag",
    "Segment",
    "SegmentMember",
    "SettingsChange",
    "Wallet",
]
