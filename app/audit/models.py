"""The append-only audit log table.

Rows are never updated or deleted (a trigger in the migration refuses it). ``prev_hash`` and
``row_hash`` are left null for now: a later issue can fill them as a hash chain (tamper
evidence) without a table rewrite, and add retention/export on ``occurred_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor_id", "actor", "id"),
        Index("ix_audit_log_target_id", "target", "id"),
        Index("ix_audit_log_occurred_at", "occurred_at"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    occurred_at: datetime | None = Field(default=None, sa_column=created_at_column())
    actor: str = Field(sa_column=Column(String(120), nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    target: str | None = Field(default=None, sa_column=Column(String(120)))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    ip: str | None = Field(default=None, sa_column=Column(String(64)))
    request_id: str | None = Field(default=None, sa_column=Column(String(64)))
    details: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    row_hash: str | None = Field(default=None, sa_column=Column(String(64)))
