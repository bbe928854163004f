"""Profile tables. Personal data lives in its own table so it can be guarded, masked and
erased separately from the operational player row."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, updated_at_column


class PlayerProfile(SQLModel, table=True):
    __tablename__ = "player_profiles"

    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), primary_key=True)
    )
    first_name: str | None = Field(default=None, sa_column=Column(String(100)))
    last_name: str | None = Field(default=None, sa_column=Column(String(100)))
    phone: str | None = Field(default=None, sa_column=Column(String(16)))  # E.164
    address_line1: str | None = Field(default=None, sa_column=Column(String(200)))
    address_line2: str | None = Field(default=None, sa_column=Column(String(200)))
    city: str | None = Field(default=None, sa_column=Column(String(100)))
    postal_code: str | None = Field(default=None, sa_column=Column(String(16)))
    address_country: str | None = Field(default=None, sa_column=Column(String(2)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class SettingsChange(SQLModel, table=True):
    """One changed field: who (principal key), when, old -> new. ``pii`` marks values that
    are masked for callers who may not see personal data."""

    __tablename__ = "player_settings_changes"
    __table_args__ = (Index("ix_player_settings_changes_player_id_id", "player_id", "id"),)

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), nullable=False)
    )
    actor: str = Field(sa_column=Column(String(128), nullable=False))
    field: str = Field(sa_column=Column(String(64), nullable=False))
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    new_value: str | None = Field(default=None, sa_column=Column(Text))
    pii: bool = Field(sa_column=Column(Boolean, nullable=False))
    changed_at: datetime | None = Field(default=None, sa_column=created_at_column())


class PlayerTag(SQLModel, table=True):
    """Custom labels staff put on a player (usable in segment rules: ``tags contains X``)."""

    __tablename__ = "player_tags"

    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(sa_column=Column(String(64), primary_key=True))
