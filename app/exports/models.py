"""Export tables: the runs (cursor ranges, so a resumed run covers the same rows) and the
Ed25519 keys that sign export bundles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column


class ExportRun(SQLModel, table=True):
    """One export range. ``(kind, since_position)`` is unique: a run started again from the
    same cursor reuses the recorded upper bound, so it writes the same rows."""

    __tablename__ = "export_runs"
    __table_args__ = (UniqueConstraint("kind", "since_position"),)

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    since_position: int = Field(sa_column=Column(BigInteger, nullable=False))
    until_position: int = Field(sa_column=Column(BigInteger, nullable=False))
    manifest_sha256: str | None = Field(default=None, sa_column=Column(String(64)))
    created_by: str = Field(sa_column=Column(String(160), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ExportSigningKey(SQLModel, table=True):
    """An Ed25519 key for export bundles (not the JWT keys, not the audit keys): the
    private half sealed with app.core.crypto, the public half published with exports."""

    __tablename__ = "export_signing_keys"

    kid: str = Field(sa_column=Column(String(32), primary_key=True))
    public_key: str = Field(sa_column=Column(String(64), nullable=False))  # base64 raw
    private_key: str = Field(sa_column=Column(String(255), nullable=False))  # sealed
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    retired_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
