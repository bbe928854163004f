"""Shared table helpers: the constraint naming convention and common column factories.

Every ``models.py`` imports from here, so the naming convention is in place before any
table is declared (Alembic autogenerate depends on stable constraint names).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Identity, func
from sqlmodel import SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def created_at_column() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


def partition_key_column() -> Column[datetime]:
    """``created_at`` of a table range-partitioned on it: part of the primary key."""
    return Column(
        DateTime(timezone=True), primary_key=True, nullable=False, server_default=func.now()
    )


def updated_at_column() -> Column[datetime]:
    return Column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


def bigint_pk_column() -> Column[int]:
    return Column(BigInteger, Identity(always=False), primary_key=True)


def enum_check(column: str, enum: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """A CHECK that keeps a text column inside an enum (plain text is easier to migrate
    than a PostgreSQL ENUM type, and the check still rejects anything else)."""
    return CheckConstraint(_in_list(column, (m.value for m in enum)), name=name or column)


def _in_list(column: str, values: Iterable[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
