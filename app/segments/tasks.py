"""Periodic full recompute: time alone moves players between activity segments
(active -> dormant -> churned), which no event announces."""

from __future__ import annotations

from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings

# One replica at a time: the others skip this round instead of repeating the work.
LOCK_KEY = 0x504D535F53454753  # "PMS_SEGS"


async def run_recompute(db: Database, settings: Settings) -> None:
    from app.segments.service import recompute_all

    async with db.transaction() as session:
        got = (
            await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        ).scalar_one()
        if got:
            await recompute_all(session, settings)


def recompute_segments_task(settings: Settings):
    from app.tasks import PeriodicTask

    return PeriodicTask(
        "segments-recompute", settings.segment_recompute_interval_seconds, run_recompute
    )
