"""Segment tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import created_at_column, updated_at_column


class Segment(SQLModel, table=True):
    __tablename__ = "segments"
    __table_args__ = (Index("uq_segments_name", "name", unique=True),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(64), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    rule: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    computed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class SegmentMember(SQLModel, table=True):
    __tablename__ = "segment_members"
    __table_args__ = (
        # Player.segments looks members up by player; segment.players pages by segment.
        Index("ix_segment_members_player_id", "player_id"),
    )

    segment_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    )
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), primary_key=True)
    )
    entered_at: datetime | None = Field(default=None, sa_column=created_at_column())
