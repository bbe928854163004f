"""Applied marketing imports: the import id makes a second confirmation a replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, String
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
