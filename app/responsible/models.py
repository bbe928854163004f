"""Responsible-gambling tables: a player's limits (with their live counters, written
only under the player's wallet locks: see app/responsible/extension.py) and the breaks /
self-exclusions they took."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check, updated_at_column


class LimitKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    LOSS = "LOSS"  # stakes minus wins, real money only
    WAGER = "WAGER"  # stakes
    SESSION = "SESSION"  # minutes of one play session (amount in minutes; period DAY)


class LimitPeriod(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


PERIOD_ORDER = (LimitPeriod.DAY, LimitPeriod.WEEK, LimitPeriod.MONTH)


class ExclusionKind(StrEnum):
    BREAK = "BREAK"  # cooling-off, 24 h .. 6 weeks
    SELF_EXCLUSION = "SELF_EXCLUSION"  # >= 6 months or permanent


class GamblingLimit(SQLModel, table=True):
    """One limit in force (``amount``), a pending increase or removal waiting for its
    cool-down and the player's confirmation, and the counter of the current window."""

    __tablename__ = "gambling_limits"
    __table_args__ = (
        enum_check("kind", LimitKind),
        enum_check("period", LimitPeriod),
        UniqueConstraint("player_id", "kind", "period"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    # The unique (player_id, kind, period) index is the money path's lookup.
    player_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("players.id"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    period: str = Field(sa_column=Column(String(8), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    used: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    window_start: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # SESSION limits: the last accepted bet (window_start is the session's start); a gap
    # of rg_session_break_minutes starts a new session.
    last_activity_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    pending_amount: int | None = Field(default=None, sa_column=Column(BigInteger))
    pending_remove: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    pending_effective_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class PlayerExclusion(SQLModel, table=True):
    """A break or self-exclusion; ``ends_at`` NULL is permanent. Never shortened: only an
    ADMIN lift (with a reason, audited) ends one early."""

    __tablename__ = "player_exclusions"
    __table_args__ = (
        enum_check("kind", ExclusionKind),
        Index("ix_player_exclusions_player_id_ends_at", "player_id", "ends_at"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    player_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("players.id"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # After a self-exclusion ends the account stays restricted until the player asks to
    # return (here) and the return cooling period has passed.
    return_requested_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    lifted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    lifted_by: str | None = Field(default=None, sa_column=Column(String(120)))
    lift_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class PlaySession(SQLModel, table=True):
    """A player's sign-in session (login to logout or token expiry) as a play session.
    ``started_at`` is the play session's start: a sign-in within the session break of
    the previous session's end carries its start over, so logging out and straight back
    in does not restart the session time limit."""

    __tablename__ = "play_sessions"
    __table_args__ = (
        UniqueConstraint("session_id"),
        Index("ix_play_sessions_player_id_id", "player_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    # Sign-in telemetry, not a record to keep: it goes with the player row.
    player_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("players.id", ondelete="CASCADE"), nullable=False
        )
    )
    session_id: str = Field(sa_column=Column(String(64), nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    signed_in_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # The access token's expiry, moved on by each refresh: past it the session is over.
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
