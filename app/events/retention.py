"""Purging the outbox (it grew forever): a row goes once it is published, older than
``outbox_retention_days`` and behind every consumer cursor (the play-style and bonus
trigger consumers read the outbox by id). ``bet.settled`` rows stay for
``outbox_round_refund_retention_days``: a round refund reads its settlement back
(app/playstyle/repository.py ``SETTLED_ROUND``). ``player.status_changed`` rows stay for
``retention_years`` (at least 5): they are the account-status history the regulator
export reports (app/exports/regulator_repository.py).

Safe in many replicas: each batch takes its rows FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings

# The table names of the cursors are read as data, not imported: app.events sits below
# the domains that consume it (bonus triggers, play style).
PURGE = text("""
WITH floor AS (
    SELECT least(
        (SELECT min(last_event_id) FROM event_consumer_cursors),
        (SELECT min(last_event_id) FROM bonus_trigger_cursors)
    ) AS id
), doomed AS (
    SELECT o.id FROM outbox_events o, floor
    WHERE o.published_at IS NOT NULL
      AND o.published_at < now() - make_interval(secs => :keep)
      AND (floor.id IS NULL OR o.id <= floor.id)
      AND (o.type <> 'bet.settled' OR o.published_at < now() - make_interval(secs => :settled))
      AND (o.type <> 'player.status_changed'
           OR o.published_at < now() - make_interval(years => :status_years))
    ORDER BY o.id LIMIT :n
    FOR UPDATE OF o SKIP LOCKED
)
DELETE FROM outbox_events o USING doomed WHERE o.id = doomed.id
""")


async def purge_outbox(db: Database, settings: Settings) -> int:
    """Delete purgeable outbox rows in batches; returns how many went."""
    total = 0
    params = {
        "keep": settings.outbox_retention_days * 86400,
        "settled": settings.outbox_round_refund_retention_days * 86400,
        "status_years": settings.retention_years,
        "n": settings.outbox_purge_batch,
    }
    while True:
        async with db.transaction() as session:
            result: Any = await session.execute(PURGE, params)  # a CursorResult
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < settings.outbox_purge_batch:
            return total
