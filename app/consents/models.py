"""Consent tables: the current value per purpose and the history of every change."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, updated_at_column


class PlayerConsent(SQLModel, table=True):
    """``purpose`` is ``marketing.<channel>`` (value ``granted``/``withdrawn``) or
    ``terms`` (value: the accepted terms version)."""

    __tablename__ = "player_consents"

    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), primary_key=True)
    )
    purpose: str = Field(sa_column=Column(String(32), primary_key=True))
    value: str = Field(sa_column=Column(String(64), nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class ConsentChange(SQLModel, table=True):
    __tablename__ = "player_consent_changes"
    __table_args__ = (Index("ix_player_consent_changes_player_id_id", "player_id", "id"),)

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), nullable=False)
    )
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    old_value: str | None = Field(default=None, sa_column=Column(String(64)))
    new_value: str = Field(sa_column=Column(String(64), nullable=False))
    actor: str = Field(sa_column=Column(String(120), nullable=False))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    changed_at: datetime | None = Field(default=None, sa_column=created_at_column())
