"""SQL of the audit package: audit rows are only ever inserted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert as sql_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry


async def insert(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)
    await session.flush()


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rows (``AuditEntry`` column values) in one Core executemany: multi-row INSERTs, no
    ORM unit of work; the same insert trigger as ``insert``."""
    if rows:
        await session.execute(sql_insert(AuditEntry.__table__), list(rows))  # type: ignore[attr-defined]
