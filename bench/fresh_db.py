"""The benchmarks' own database: dropped and re-migrated on every run."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from app.core import migrations
from app.core.db import Database, ensure_database_exists


async def fresh_database(url: str) -> Database:
    """``url``'s database with an empty public schema migrated to head."""
    await ensure_database_exists(url)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await asyncio.to_thread(migrations.upgrade, url)
    return db
