"""What the retention purge archived: one row per month dropped from ``audit_log`` and
``ledger_transfers``, with the bundle's place and the audit tree prefix it covered."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, LargeBinary, String
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column


class RetentionArchive(SQLModel, table=True):
    """``tree_from``/``tree_size``: the tree positions [from, size) the month's bundle
    holds the leaves of; every position below ``tree_size`` is archived, and ``tree_root``
    (the root at ``tree_size``, proven against checkpoint ``checkpoint_size`` when the
    bundle was written) is where ``pms audit verify`` starts from."""

    __tablename__ = "retention_archives"

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    month: date = Field(sa_column=Column(Date, nullable=False, unique=True))
    directory: str = Field(sa_column=Column(String(1000), nullable=False))
    manifest_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    audit_rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    ledger_rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    tree_from: int = Field(sa_column=Column(BigInteger, nullable=False))
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    tree_root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    checkpoint_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    archived_at: datetime | None = Field(default=None, sa_column=created_at_column())
