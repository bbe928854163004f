"""The Player type."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from app.players.models import Player as PlayerRow
from schema.context import Info
from schema.pagination import Connection
from schema.types import player_extra as extra
from schema.types.enums import ConfirmStatusEnum, PlayerStatusEnum, RiskLevelEnum
from schema.types.kyc import KycCase
from schema.types.profile import PlayerProfile, PlayStyle, SettingsChange, VipStatus
from schema.types.segment import Segment
from schema.types.wallet import Wallet


@strawberry.federation.type(keys=["id"], description="A player of the casino.")
class Player:
    id: strawberry.ID
    email: str
    login: str
    country: str
    currency: str
    status: PlayerStatusEnum
    confirm_status: ConfirmStatusEnum
    risk_level: RiskLevelEnum
    vip_level: int
    created_at: datetime
    preferences: JSON
    _row: strawberry.Private[PlayerRow | None] = None

    @strawberry.field(description="REAL, BONUS, FREESPINS and TOURNAMENT balances.")
    async def wallets(self, info: Info) -> list[Wallet]:
        rows = await info.context.loaders.wallets_by_player.load(uuid.UUID(str(self.id)))
        return [Wallet.from_model(row) for row in rows]

    # --- issue 6 (profile, VIP, segments, play style, KYC); see schema/types/player_extra.py
    # permission: player:read_pii (owner ok); masked without it
    profile: PlayerProfile = strawberry.field(resolver=extra.profile)
    # permission: player:read
    vip: VipStatus = strawberry.field(resolver=extra.vip)
    # permission: player:read (segment:read)
    segments: list[Segment] = strawberry.field(resolver=extra.segments)
    # permission: player:read (marketer-visible, no PII)
    play_style: PlayStyle | None = strawberry.field(resolver=extra.play_style)
    # permission: player:read (owner ok); PII values masked without player:read_pii
    settings_history: Connection[SettingsChange] = strawberry.field(resolver=extra.settings_history)
    # permission: kyc:review (owner ok)
    kyc_cases: list[KycCase] = strawberry.field(resolver=extra.kyc_cases)
    # permission: player:read
    tags: list[str] = strawberry.field(resolver=extra.tags)

    @classmethod
    def from_model(cls, row: PlayerRow) -> Player:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            login=row.login,
            country=row.country,
            currency=row.currency,
            status=PlayerStatusEnum(row.status),
            confirm_status=ConfirmStatusEnum(row.confirm_status),
            risk_level=RiskLevelEnum(row.risk_level),
            vip_level=row.vip_level,
            created_at=row.created_at,
            preferences=row.preferences,
            _row=row,
        )
