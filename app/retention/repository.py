"""Reads of the retention records that other commands need (``pms audit verify``)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.verify import ArchivedPrefix


async def archived_prefix(session: AsyncSession) -> ArchivedPrefix | None:
    """The tree prefix the purge archived so far (None: nothing archived)."""
    row = (
        await session.execute(
            text(
                "SELECT tree_from, tree_size, tree_root FROM retention_archives "
                "WHERE tree_size > 0 ORDER BY tree_size DESC LIMIT 1"
            )
        )
    ).first()
    if row is None:
        return None
    return ArchivedPrefix(int(row.tree_size), bytes(row.tree_root), int(row.tree_from))
