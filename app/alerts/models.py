"""Alert tables: rule versions, each rule's evaluation state, alerts with their history,
and the per-minute counters the rules read."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

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
    text,
)
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check


class RuleKind(StrEnum):
    FAILURE_RATE = "FAILURE_RATE"  # failures / attempts over the window, in percent
    DEPOSIT_SWING = "DEPOSIT_SWING"  # |% change| of the average deposit vs its trailing window
    REVERSAL_SPIKE = "REVERSAL_SPIKE"  # reversals in the window / the baseline's expectation
    OUTBOX_LAG = "OUTBOX_LAG"  # age in seconds of the oldest undelivered outbox event


class AlertStatus(StrEnum):
    FIRING = "FIRING"
    ACKNOWLEDGED = "ACKNOWLEDGED"  # still open: someone is on it
    RESOLVED = "RESOLVED"  # closed by staff, or cleared by the evaluator


OPEN_STATUSES = (AlertStatus.FIRING.value, AlertStatus.ACKNOWLEDGED.value)


class AlertAction(StrEnum):
    FIRED = "FIRED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    CLEARED = "CLEARED"  # the evaluator saw the condition recover (resolved by "system")
    RESOLVED = "RESOLVED"  # staff resolved it


class AlertRule(SQLModel, table=True):
    """One version of a rule; saving writes the next version, older ones stay (the audit
    of who changed what). The newest version of a key is the one evaluated."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("key", "version"), enum_check("kind", RuleKind))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key: str = Field(sa_column=Column(String(64), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    metric: str = Field(sa_column=Column(String(40), nullable=False))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    window_seconds: int = Field(sa_column=Column(Integer, nullable=False))
    baseline_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    threshold: float = Field(sa_column=Column(Float, nullable=False))
    clear_threshold: float = Field(sa_column=Column(Float, nullable=False))
    for_evaluations: int = Field(sa_column=Column(Integer, nullable=False))
    min_samples: int = Field(sa_column=Column(Integer, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_by: str = Field(sa_column=Column(String(160), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class AlertRuleState(SQLModel, table=True):
    """Hysteresis of one rule key: consecutive breaching / recovered evaluations and the
    open alert, if any. Written only by the evaluator holding the advisory lock."""

    __tablename__ = "alert_rule_states"

    rule_key: str = Field(sa_column=Column(String(64), primary_key=True))
    breaches: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    recoveries: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    alert_id: uuid.UUID | None = Field(default=None)
    last_value: float | None = Field(default=None, sa_column=Column(Float))
    evaluated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        enum_check("status", AlertStatus),
        Index("ix_alerts_open", "rule_key", postgresql_where=text(
            "status IN ('FIRING', 'ACKNOWLEDGED')")),
        Index("ix_alerts_fired_at", "fired_at"),
    )  # fmt: skip

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    rule_id: uuid.UUID = Field(sa_column=Column(ForeignKey("alert_rules.id"), nullable=False))
    rule_key: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    metric: str = Field(sa_column=Column(String(40), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    value: float = Field(sa_column=Column(Float, nullable=False))  # when it fired
    threshold: float = Field(sa_column=Column(Float, nullable=False))
    last_value: float | None = Field(default=None, sa_column=Column(Float))
    fired_at: datetime | None = Field(default=None, sa_column=created_at_column())
    acknowledged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    acknowledged_by: str | None = Field(default=None, sa_column=Column(String(160)))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    resolved_by: str | None = Field(default=None, sa_column=Column(String(160)))


class AlertHistory(SQLModel, table=True):
    """One step of an alert's life: who did what, when, and the value seen then."""

    __tablename__ = "alert_history"
    __table_args__ = (
        Index("ix_alert_history_alert_id_id", "alert_id", "id"),
        enum_check("action", AlertAction),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    alert_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    action: str = Field(sa_column=Column(String(16), nullable=False))
    actor: str = Field(sa_column=Column(String(160), nullable=False))
    value: float | None = Field(default=None, sa_column=Column(Float))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    at: datetime | None = Field(default=None, sa_column=created_at_column())


class AlertCounter(SQLModel, table=True):
    """Per-minute counts (and sums, e.g. deposit amounts in minor units) the rules read:
    filled from the in-memory buffers of every process (app/core/counters.py) and by the
    alerts consumer of committed events."""

    __tablename__ = "alert_counters"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    bucket: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    count: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
