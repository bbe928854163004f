"""The outbox: every state change writes its event here in the same transaction."""

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
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check


class OutboxEvent(SQLModel, table=True):
    """One CloudEvents 1.0 envelope waiting for (or done with) delivery.

    ``id`` orders events (per subject = per player, delivery keeps this order);
    ``event_id`` is the CloudEvents id receivers de-duplicate on.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_events_subject_id", "subject", "id"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    # Random (version 4) wherever a row is written: unique without an index (0036).
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, nullable=False)
    type: str = Field(sa_column=Column(String(128), nullable=False))
    source: str = Field(sa_column=Column(String(128), nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(String(128)))
    time: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    DEAD = "DEAD"  # gave up after the configured number of attempts


class WebhookEndpoint(SQLModel, table=True):
    """A receiver registered by staff: which event types go to which URL, signed how."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    event_types: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(128)), nullable=False)
    )
    # Needed in clear to sign each delivery; never exposed through the API.
    # Sealed (AES-GCM under PMS_SECRET_KEY, app/core/crypto.py): the receiver's HMAC key
    # must be recoverable to sign, so it is encrypted, not hashed.
    secret: str = Field(sa_column=Column(String(512), nullable=False))
    description: str = Field(default="", sa_column=Column(String(256), nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_by: str = Field(default="", sa_column=Column(String(160), nullable=False))
    # 'pms' or 'standard' (Standard Webhooks headers): app/events/signing.py
    signature_format: str = Field(
        default="pms", sa_column=Column(String(16), nullable=False, server_default="pms")
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class WebhookDelivery(SQLModel, table=True):
    """One event owed to one endpoint. Unique per (endpoint, event): the relay delivers at
    least once, so a replayed fan-out must not queue the event twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
        enum_check("status", DeliveryStatus),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    endpoint_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: uuid.UUID = Field(nullable=False)
    event_type: str = Field(sa_column=Column(String(128), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    status: str = Field(
        default=DeliveryStatus.PENDING,
        sa_column=Column(String(16), nullable=False, server_default=DeliveryStatus.PENDING.value),
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    next_attempt_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class WebhookAttempt(SQLModel, table=True):
    """One HTTP try of a delivery: kept for the operator (and the API) to see."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),)

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    delivery_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False
        )
    )
    attempted_at: datetime | None = Field(default=None, sa_column=created_at_column())
    succeeded: bool = Field(sa_column=Column(Boolean, nullable=False))
    response_code: int | None = Field(default=None, sa_column=Column(Integer))
    latency_ms: int = Field(sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(String(512)))


class EventConsumerCursor(SQLModel, table=True):
    """How far an in-process outbox consumer has settled (app/events/consumer.py)."""

    __tablename__ = "event_consumer_cursors"

    consumer: str = Field(sa_column=Column(String(64), primary_key=True))
    last_event_id: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


class EventConsumption(SQLModel, table=True):
    """An event a consumer has taken effect for (pruned once the cursor passes it)."""

    __tablename__ = "event_consumptions"

    consumer: str = Field(sa_column=Column(String(64), primary_key=True))
    event_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
