"""Player tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Date, DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import created_at_column, enum_check, updated_at_column


class PlayerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"
    SELF_EXCLUDED = "SELF_EXCLUDED"
    CLOSED = "CLOSED"


class ConfirmStatus(StrEnum):
    UNVERIFIED = "UNVERIFIED"
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    MANUAL_REVIEW = "MANUAL_REVIEW"


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class Player(SQLModel, table=True):
    __tablename__ = "players"
    __table_args__ = (
        # Email is stored normalised (lower-case), so a plain unique index is case-insensitive.
        Index("uq_players_email", "email", unique=True),
        # Login keeps the case the player typed; uniqueness ignores it.
        Index("uq_players_login_lower", text("lower(login)"), unique=True),
        # Keyset pagination of the player list walks (created_at, id).
        Index("ix_players_created_at_id", "created_at", "id"),
        enum_check("status", PlayerStatus),
        enum_check("confirm_status", ConfirmStatus),
        enum_check("risk_level", RiskLevel),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(sa_column=Column(String(254), nullable=False))
    login: str = Field(sa_column=Column(String(32), nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    country: str = Field(sa_column=Column(String(2), nullable=False, index=True))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    birth_date: date = Field(sa_column=Column(Date, nullable=False))
    locale: str = Field(sa_column=Column(String(16), nullable=False, server_default="en"))
    traffic_source: str | None = Field(default=None, sa_column=Column(String(64)))
    affiliate_code: str | None = Field(default=None, sa_column=Column(String(64)))
    status: str = Field(
        default=PlayerStatus.ACTIVE,
        sa_column=Column(String(16), nullable=False, server_default=PlayerStatus.ACTIVE.value),
    )
    confirm_status: str = Field(
        default=ConfirmStatus.UNVERIFIED,
        sa_column=Column(String(16), nullable=False, server_default=ConfirmStatus.UNVERIFIED.value),
    )
    risk_level: str = Field(
        default=RiskLevel.LOW,
        sa_column=Column(String(8), nullable=False, server_default=RiskLevel.LOW.value),
    )
    vip_level: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    vip_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    preferences: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())
