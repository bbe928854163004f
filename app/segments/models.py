"""Segment tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import created_at_column, enum_check, updated_at_column


class SegmentKind(StrEnum):
    RULE = "RULE"  # membership follows the rule, recomputed
    STATIC = "STATIC"  # membership is a list (imports, staff): never recomputed


class Segment(SQLModel, table=True):
    __tablename__ = "segments"
    __table_args__ = (
        Index("uq_segments_name", "name", unique=True),
        enum_check("kind", SegmentKind),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(64), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    kind: str = Field(
        default=SegmentKind.RULE,
        sa_column=Column(String(8), nullable=False, server_default=SegmentKind.RULE.value),
    )
    # A STATIC segment has no rule: {}.
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
