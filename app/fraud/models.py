"""Anti-fraud tables: rules (versioned data), per-player baselines, identifiers seen,
activity windows, observations (every computed signal, for dry runs), hits, flags, cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class Signal(StrEnum):
    BET_RATE = "bet_rate"  # bets this minute / the player's EWMA of bets per active minute
    STAKE_JUMP = "stake_jump"  # stake / the player's EWMA stake
    WIN_RATE = "win_rate"  # (wins / stakes) / expected RTP, over enough rounds
    DEPOSIT_VELOCITY = "deposit_velocity"  # deposits in the velocity window
    WITHDRAWAL_VELOCITY = "withdrawal_velocity"  # withdrawal requests in the window
    BONUS_ABUSE = "bonus_abuse"  # 1 - wagered / (deposit + bonus) on a withdrawal after a bonus
    SHARED_DEVICE = "shared_device"  # accounts seen on one device fingerprint
    SHARED_IP = "shared_ip"  # accounts seen from one IP address
    SHARED_PAYMENT = "shared_payment"  # accounts using one payment token
    FAILED_LOGINS_NEW_DEVICE = "failed_logins_new_device"  # failures before a new-device success
    ROLLBACKS = "rollbacks"  # round rollbacks of the player in the rollback window
    # Rollbacks by one provider (the game-engine client) across all players in the window.
    PROVIDER_ROLLBACKS = "provider_rollbacks"


class Action(StrEnum):
    FLAG = "FLAG"
    ALERT = "ALERT"
    STEP_UP_MFA = "STEP_UP_MFA"
    HOLD_WITHDRAWALS = "HOLD_WITHDRAWALS"
    AUTO_BLOCK = "AUTO_BLOCK"


class CaseStatus(StrEnum):
    OPEN = "OPEN"
    DECIDED = "DECIDED"


class Decision(StrEnum):
    CLEAR = "CLEAR"
    RESTRICT = "RESTRICT"
    BLOCK = "BLOCK"
    CLOSE_ACCOUNT = "CLOSE_ACCOUNT"


def _now() -> Any:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _player(primary_key: bool = False) -> Any:
    return Column(
        ForeignKey("players.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
        index=not primary_key,
    )


class FraudRule(SQLModel, table=True):
    """One version of a rule; saving a rule writes the next version, older ones stay."""

    __tablename__ = "fraud_rules"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key: str = Field(sa_column=Column(String(64), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    signal: str = Field(sa_column=Column(String(40), nullable=False))
    threshold: float = Field(sa_column=Column(Float, nullable=False))
    weight: int = Field(sa_column=Column(Integer, nullable=False))
    action: str = Field(sa_column=Column(String(20), nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_by: str = Field(sa_column=Column(String(80), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=_now())


class FraudBaseline(SQLModel, table=True):
    """A player's own behaviour so far, updated once per bet (EWMA, no history scan)."""

    __tablename__ = "fraud_baselines"

    player_id: uuid.UUID = Field(sa_column=_player(primary_key=True))
    minute: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    minute_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    rate_ewma: float | None = Field(default=None, sa_column=Column(Float))
    stake_ewma: float | None = Field(default=None, sa_column=Column(Float))
    stake_count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    stake_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    win_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # The minute before ``minute``'s count: the bet rate is of the last 60 seconds.
    previous_minute_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class FraudIdentifier(SQLModel, table=True):
    """A device fingerprint, IP or payment token (SHA-256, never the raw value) seen for a
    player."""

    __tablename__ = "fraud_identifiers"

    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    value_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    player_id: uuid.UUID = Field(sa_column=_player(primary_key=True))
    first_seen: datetime | None = Field(default=None, sa_column=_now())
    last_seen: datetime | None = Field(default=None, sa_column=_now())


class FraudActivity(SQLModel, table=True):
    """Windowed facts (deposits, withdrawals, bonuses, logins, rollbacks) for velocity."""

    __tablename__ = "fraud_activity"
    __table_args__ = (
        Index("ix_fraud_activity_player_kind_at", "player_id", "kind", "at"),
        # Counting by ref across players (a provider's rollbacks).
        Index("ix_fraud_activity_kind_ref_at", "kind", "ref", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # The player's stake total when a bonus was awarded (wagering since = now - mark).
    mark: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    ref: str | None = Field(default=None, sa_column=Column(String(64)))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class FraudObservation(SQLModel, table=True):
    """Every signal value computed from an event; rules and dry runs compare against it."""

    __tablename__ = "fraud_observations"
    __table_args__ = (Index("ix_fraud_observations_signal_at", "signal", "observed_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="CASCADE"), nullable=False)
    )
    signal: str = Field(sa_column=Column(String(40), nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))
    evidence: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    event_id: uuid.UUID | None = Field(default=None)
    observed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class FraudHit(SQLModel, table=True):
    """A rule version that fired for a player (one row per player and rule version; a
    later, stronger observation updates it)."""

    __tablename__ = "fraud_hits"
    __table_args__ = (UniqueConstraint("player_id", "rule_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True))
    player_id: uuid.UUID = Field(sa_column=_player())
    rule_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("fraud_rules.id", ondelete="CASCADE"), nullable=False)
    )
    rule_key: str = Field(sa_column=Column(String(64), nullable=False))
    signal: str = Field(sa_column=Column(String(40), nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))
    weight: int = Field(sa_column=Column(Integer, nullable=False))
    action: str = Field(sa_column=Column(String(20), nullable=False))
    evidence: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    case_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("fraud_cases.id", ondelete="SET NULL"))
    )
    hit_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class FraudFlags(SQLModel, table=True):
    """Restrictions a rule or a decision put on a player (read by login and withdrawals)."""

    __tablename__ = "fraud_flags"

    player_id: uuid.UUID = Field(sa_column=_player(primary_key=True))
    step_up_mfa: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    hold_withdrawals: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    updated_at: datetime | None = Field(default=None, sa_column=_now())


class FraudCase(SQLModel, table=True):
    """A player's case for COMPLIANCE: at most one OPEN per player, hits add to it."""

    __tablename__ = "fraud_cases"
    __table_args__ = (
        Index(
            "uq_fraud_cases_open_player",
            "player_id",
            unique=True,
            postgresql_where=text("status = 'OPEN'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    player_id: uuid.UUID = Field(sa_column=_player())
    status: str = Field(sa_column=Column(String(12), nullable=False))
    assignee: str | None = Field(default=None, sa_column=Column(String(80)))
    decision: str | None = Field(default=None, sa_column=Column(String(20)))
    note: str | None = Field(default=None, sa_column=Column(Text))
    decided_by: str | None = Field(default=None, sa_column=Column(String(80)))
    opened_at: datetime | None = Field(default=None, sa_column=_now())
    updated_at: datetime | None = Field(default=None, sa_column=_now())
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
