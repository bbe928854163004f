"""GDPR tables: one row per erased player (what was done, and until when AML law keeps
the retained records)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Text, text
from sqlmodel import Field, SQLModel

from app.core.orm import created_at_column


class Erasure(SQLModel, table=True):
    __tablename__ = "gdpr_erasures"
    __table_args__ = (
        Index("ix_gdpr_erasures_retain_until", "retain_until",
              postgresql_where=text("purged_at IS NULL")),
    )  # fmt: skip

    player_id: uuid.UUID = Field(sa_column=Column(ForeignKey("players.id"), primary_key=True))
    pseudonym: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    erased_by: str = Field(sa_column=Column(String(120), nullable=False))
    erased_at: datetime | None = Field(default=None, sa_column=created_at_column())
    # AMLD art. 40: KYC and transaction records kept 5 years after the relationship ends.
    retain_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    purged_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
