"""The audit tree maintainer, a periodic task in every replica: sequence what has
committed, then sign a checkpoint when N entries or M seconds have passed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from app.audit import checkpoints, tree
from app.core.db import Database
from app.core.settings import Settings


async def maintain(db: Database, settings: Settings) -> int:
    """One pass (repeated while batches come back full). Returns entries sequenced."""
    total = 0
    while True:
        async with db.transaction() as session:
            extended = await tree.extend(session, settings.audit_tree_batch)
            if extended is None:
                return total
            total += extended.appended
            last = await checkpoints.latest(session)
            now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
            if checkpoints.due(last, extended.size, now, settings):
                await checkpoints.sign(session, settings, extended.size, extended.root)
        if extended.appended < settings.audit_tree_batch:
            return total


async def checkpoint_now(db: Database, settings: Settings) -> None:
    """Sequence everything committed and sign a checkpoint of it (CLI, tests)."""
    await maintain(db, settings)
    async with db.transaction() as session:
        extended = await tree.current(session)
        if extended.size == 0:
            return
        last = await checkpoints.latest(session)
        if last is None or last.tree_size < extended.size:
            await checkpoints.sign(session, settings, extended.size, extended.root)
