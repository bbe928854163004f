"""Applied marketing imports: the import id makes a second confirmation a replay."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import created_at_column


class MarketingImport(SQLModel, table=True):
    __tablename__ = "marketing_imports"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    file_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    report: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_by: str = Field(sa_column=Column(String(160), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    # Batches are cut by the size the first confirmation used, so a resumed one cuts the
    # same; ``completed_at`` is set with the last batch (before it: resumable).
    batch_size: int | None = Field(default=None, sa_column=Column(Integer))
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The per-player changes the first confirmation validated: every confirmation of this
    # id applies these (NULL: claimed before the column existed).
    plan: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))


class MarketingImportBatch(SQLModel, table=True):
    """One applied batch of an import, written in the batch's own transaction."""

    __tablename__ = "marketing_import_batches"

    import_id: str = Field(
        sa_column=Column(
            String(64), ForeignKey("marketing_imports.id", ondelete="CASCADE"), primary_key=True
        )
    )
    batch: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    players: int = Field(sa_column=Column(Integer, nullable=False))
    applied_at: datetime | None = Field(default=None, sa_column=created_at_column())


class MarketingImportUpload(SQLModel, table=True):
    """A list uploaded over HTTP and its dry-run report, waiting for confirmation. The
    file is kept (bounded by ``import_max_bytes``) so the confirmation applies exactly
    what was validated; ``job_id`` is set once, by the first confirmation."""

    __tablename__ = "marketing_import_uploads"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    format: str = Field(sa_column=Column(String(8), nullable=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    file_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    report: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    job_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, unique=True))
    created_by: str = Field(sa_column=Column(String(160), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
