"""Bonus tables: campaigns (award rules as data), the bonuses players hold, loyalty
accounts, and the cursors of event-driven triggers.

Percentages are stored in basis points (1 % = 100), wagering multipliers in hundredths
(35x = 3500) and money in minor units of the campaign's currency. A player bonus copies
the wagering terms of its campaign when it is granted: later edits of the campaign never
change what a player already holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check, updated_at_column


class CampaignKind(StrEnum):
    DEPOSIT_MATCH = "DEPOSIT_MATCH"
    CASHBACK = "CASHBACK"
    FREE_SPINS = "FREE_SPINS"
    FIXED = "FIXED"
    LOYALTY_TIER = "LOYALTY_TIER"


class CampaignTrigger(StrEnum):
    FIRST_DEPOSIT = "FIRST_DEPOSIT"
    DEPOSIT = "DEPOSIT"
    BIRTHDAY = "BIRTHDAY"
    TURNOVER_REACHED = "TURNOVER_REACHED"
    VIP_ACTIVATION = "VIP_ACTIVATION"
    LOYALTY_TIER_REACHED = "LOYALTY_TIER_REACHED"
    CASHBACK_PERIOD = "CASHBACK_PERIOD"
    MANUAL = "MANUAL"


class CampaignStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"


class AwardLimit(StrEnum):
    """How often one player may receive a campaign (enforced by the occurrence key)."""

    ONCE_PER_PLAYER = "ONCE_PER_PLAYER"
    ONCE_PER_PERIOD = "ONCE_PER_PERIOD"
    EVERY_OCCURRENCE = "EVERY_OCCURRENCE"


class WageringBase(StrEnum):
    BONUS = "BONUS"
    BONUS_AND_DEPOSIT = "BONUS_AND_DEPOSIT"


class BonusStatus(StrEnum):
    ACTIVE = "ACTIVE"
    FULFILLED = "FULFILLED"
    EXPIRED = "EXPIRED"
    FORFEITED = "FORFEITED"
    CANCELLED = "CANCELLED"


class BonusKind(StrEnum):
    DEPOSIT_MATCH = "DEPOSIT_MATCH"
    CASHBACK = "CASHBACK"
    FREE_SPINS = "FREE_SPINS"
    FIXED = "FIXED"
    LOYALTY_TIER = "LOYALTY_TIER"
    FREE_SPINS_WIN = "FREE_SPINS_WIN"


def _json_list() -> Column[Any]:
    return Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))


class BonusCampaign(SQLModel, table=True):
    __tablename__ = "bonus_campaigns"
    __table_args__ = (
        enum_check("kind", CampaignKind),
        enum_check("trigger", CampaignTrigger),
        enum_check("status", CampaignStatus),
        enum_check("award_limit", AwardLimit),
        enum_check("wagering_base", WageringBase),
        Index("ix_bonus_campaigns_trigger_status", "trigger", "status"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    name: str = Field(sa_column=Column(String(120), nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    trigger: str = Field(sa_column=Column(String(24), nullable=False))
    status: str = Field(
        default=CampaignStatus.ACTIVE,
        sa_column=Column(String(16), nullable=False, server_default=CampaignStatus.ACTIVE.value),
    )
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    percent_bp: int | None = Field(default=None, sa_column=Column(Integer))
    fixed_amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    max_amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    min_deposit: int | None = Field(default=None, sa_column=Column(BigInteger))
    free_spins: int | None = Field(default=None, sa_column=Column(Integer))
    spin_stake: int | None = Field(default=None, sa_column=Column(BigInteger))
    games: list[str] = Field(default_factory=list, sa_column=_json_list())
    promo_code: str | None = Field(default=None, sa_column=Column(String(64)))
    promo_expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    turnover_threshold: int | None = Field(default=None, sa_column=Column(BigInteger))
    loyalty_tier: str | None = Field(default=None, sa_column=Column(String(32)))
    period_days: int | None = Field(default=None, sa_column=Column(Integer))
    countries: list[str] = Field(default_factory=list, sa_column=_json_list())
    segment_ids: list[str] = Field(default_factory=list, sa_column=_json_list())
    kyc_states: list[str] = Field(default_factory=list, sa_column=_json_list())
    award_limit: str = Field(
        default=AwardLimit.ONCE_PER_PLAYER,
        sa_column=Column(
            String(24), nullable=False, server_default=AwardLimit.ONCE_PER_PLAYER.value
        ),
    )
    wagering_multiplier_x100: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    wagering_base: str = Field(
        default=WageringBase.BONUS,
        sa_column=Column(String(24), nullable=False, server_default=WageringBase.BONUS.value),
    )
    # {category: basis points}; a category not listed contributes nothing.
    contributions: dict[str, int] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    max_bet: int | None = Field(default=None, sa_column=Column(BigInteger))
    expiry_days: int = Field(default=30, sa_column=Column(Integer, nullable=False))
    max_conversion: int | None = Field(default=None, sa_column=Column(BigInteger))
    forfeit_on_withdrawal: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="false")
    )
    created_by: str = Field(sa_column=Column(String(160), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class PlayerBonus(SQLModel, table=True):
    """One award. ``occurrence_key`` names the trigger occurrence (first deposit, a
    deposit's operation id, a birthday year, a cashback period...): the unique constraint
    makes every occurrence award at most once, whatever runs concurrently."""

    __tablename__ = "player_bonuses"
    __table_args__ = (
        UniqueConstraint("campaign_id", "player_id", "occurrence_key"),
        enum_check("status", BonusStatus),
        enum_check("kind", BonusKind),
        CheckConstraint(
            "amount > 0 AND wagered >= 0 AND wagering_required >= 0", name="non_negative"
        ),
        Index("ix_player_bonuses_player_id_id", "player_id", "id"),
        # LOAD of every money operation probes this (tiny) partial index.
        Index(
            "ix_player_bonuses_active_player_id",
            "player_id",
            postgresql_where=text("status = 'ACTIVE'"),
        ),
        Index(
            "ix_player_bonuses_active_expires_at",
            "expires_at",
            postgresql_where=text("status = 'ACTIVE'"),
        ),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    campaign_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("bonus_campaigns.id", ondelete="RESTRICT"), nullable=False
        )
    )
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="RESTRICT"), nullable=False)
    )
    occurrence_key: str = Field(sa_column=Column(String(96), nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    deposit_amount: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    wagering_required: int = Field(sa_column=Column(BigInteger, nullable=False))
    wagered: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    contributions: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    max_bet: int | None = Field(default=None, sa_column=Column(BigInteger))
    max_conversion: int | None = Field(default=None, sa_column=Column(BigInteger))
    forfeit_on_withdrawal: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="false")
    )
    released: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    forfeited: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    granted_by: str = Field(sa_column=Column(String(160), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class LoyaltyAccount(SQLModel, table=True):
    """Loyalty points earned by wagering; written in the settle statement itself."""

    __tablename__ = "loyalty_accounts"

    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="RESTRICT"), primary_key=True)
    )
    points: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    tier: str = Field(sa_column=Column(String(32), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class BonusTriggerCursor(SQLModel, table=True):
    """How far an event-driven trigger has read the outbox (one row per trigger)."""

    __tablename__ = "bonus_trigger_cursors"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    last_event_id: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
