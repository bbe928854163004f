"""The outbox: every state change writes its event here in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.orm import bigint_pk_column


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
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True, nullable=False)
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
