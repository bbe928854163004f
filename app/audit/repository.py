"""SQL of the audit package: audit rows are only ever inserted."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry


async def insert(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)
    await session.flush()
