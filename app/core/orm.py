"""Shared table helpers: the constraint naming convention and common column factories.

Every ``models.py`` imports from here, so the naming convention is in place before any
table is declared (Alembic autogenerate depends on stable constraint names).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Identity, func, inspect
from sqlalchemy.orm import class_mapper
from sqlmodel import SQLModel

T = TypeVar("T", bound=SQLModel)

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


def columns_of(model: type[SQLModel], alias: str = "") -> str:
    """``model``'s columns as a SELECT list (for statements sent on the driver)."""
    table: Any = inspect(model).local_table  # no configure_mappers at import time
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{c.name}"' for c in table.columns)


def detached_rows(model: type[T], records: Iterable[Mapping[str, Any]]) -> list[T]:
    """Rows of ``model`` from driver records (all its columns; others ignored), in the state a
    closed session's query leaves them: detached, with their identity key. No session,
    identity map or result machinery: in a read of a few rows those are most of
    SQLAlchemy's cost (bench/README.md, branch profileq). ``model(**values)`` would cost
    more still: SQLModel's ``__init__`` runs pydantic's (~180 us a row here, this ~10)."""
    new, names, key_of = _row_plan(model)
    rows: list[T] = []
    for record in records:
        row = new()
        row.__dict__.update({key: record[name] for key, name in names})
        row._sa_instance_state.key = key_of(record)
        rows.append(row)
    return rows


@functools.cache
def _row_plan(model: type[SQLModel]) -> tuple[Any, list[tuple[str, str]], Any]:
    """Made once per model: the instance factory, (attribute, column) pairs, identity key."""
    mapper = class_mapper(model)  # configures the mappers on first use
    primary = [column.name for column in mapper.primary_key]
    names = [(attr.key, attr.columns[0].name) for attr in mapper.column_attrs]

    def key_of(record: Mapping[str, Any]) -> Any:
        return mapper.identity_key_from_primary_key(tuple(record[k] for k in primary))

    return model._sa_class_manager.new_instance, names, key_of  # type: ignore[attr-defined]
