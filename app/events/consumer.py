"""In-process consumers of the outbox: each event handled exactly once per consumer.

Outbox ids are taken at INSERT but become visible at COMMIT, so a cursor over ids alone
would skip a slower transaction's lower id. Here the cursor passes only events older than
a lag, newer ones are read again, and a consumption row (consumer, event) inserted in the
handler's own transaction makes every event take effect once, however often it is read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any], Awaitable[None]]

CURSOR_LAG_SECONDS = 300.0

_ENSURE_CURSOR = """
INSERT INTO event_consumer_cursors (consumer, last_event_id) VALUES (:c, 0)
ON CONFLICT DO NOTHING
"""
_LOCK_CURSOR = """
SELECT last_event_id FROM event_consumer_cursors WHERE consumer = :c FOR UPDATE SKIP LOCKED
"""
_EVENTS = """
SELECT o.id, o.event_id, o.type, o.subject, o.time, o.data,
       o.time < now() - make_interval(secs => :lag) AS settled
FROM outbox_events o
WHERE o.id > :after AND o.type = ANY(:types)
  AND NOT EXISTS (SELECT 1 FROM event_consumptions c
                  WHERE c.consumer = :c AND c.event_id = o.event_id)
ORDER BY o.id LIMIT :n
"""
_CLAIM = """
INSERT INTO event_consumptions (consumer, event_id) VALUES (:c, :e)
ON CONFLICT DO NOTHING RETURNING 1
"""
_ADVANCE = """
WITH moved AS (
    UPDATE event_consumer_cursors SET last_event_id = :id WHERE consumer = :c
)
DELETE FROM event_consumptions WHERE consumer = :c AND event_id IN (
    SELECT event_id FROM outbox_events WHERE id <= :id AND type = ANY(:types))
"""


async def consume(
    db: Database,
    consumer: str,
    types: Sequence[str],
    handle: Handler,
    *,
    batch: int = 500,
    lag_seconds: float = CURSOR_LAG_SECONDS,
) -> int:
    """Handle the next events of ``types`` once each; returns how many took effect.

    The cursor row is locked SKIP LOCKED, so one replica at a time runs a consumer. Each
    event is handled in a savepoint: a failing event is logged and retried next round
    without holding back the others.
    """
    async with db.transaction() as session:
        await session.execute(text(_ENSURE_CURSOR), {"c": consumer})
    handled = 0
    async with db.transaction() as session:
        after = (await session.execute(text(_LOCK_CURSOR), {"c": consumer})).scalar()
        if after is None:
            return 0  # another replica holds this consumer now
        events = (await session.execute(text(_EVENTS), {
            "c": consumer, "after": after, "types": list(types), "n": batch,
            "lag": lag_seconds,
        })).all()  # fmt: skip
        settled_upto = after
        for event in events:
            try:
                async with session.begin_nested():
                    claim = {"c": consumer, "e": event.event_id}
                    if (await session.execute(text(_CLAIM), claim)).first() is not None:
                        await handle(session, event)
                        handled += 1
            except Exception:
                log.exception("consumer %s failed on event %s", consumer, event.event_id)
                break  # keep order: retry from here next round
            if event.settled:
                settled_upto = event.id
        if settled_upto != after:
            await session.execute(
                text(_ADVANCE), {"c": consumer, "id": settled_upto, "types": list(types)}
            )
    return handled
