"""SQL of the events package: the outbox, its relay and consumers, and the webhook queue.

The consumers' statements run for every event and every consumer, so they are raw SQL
(named constants below, one round trip each); the rest are SQLAlchemy Core/ORM queries.
Functions take the caller's session and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import func
from sqlmodel import col

from app.events.models import (
    DeliveryStatus,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

# --- the outbox ------------------------------------------------------------------------


async def insert_event(session: AsyncSession, event: OutboxEvent) -> OutboxEvent:
    session.add(event)
    await session.flush()
    return event


async def claim_pending(session: AsyncSession, limit: int) -> list[OutboxEvent]:
    """Lock the oldest unpublished events that no other relay holds."""
    stmt = (
        select(OutboxEvent)
        .where(col(OutboxEvent.published_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars().all())


async def pending_of_subjects(
    session: AsyncSession, subjects: Sequence[str], up_to_id: int
) -> list[tuple[int, str]]:
    """Every unpublished (id, subject) of ``subjects`` up to ``up_to_id``, in id order,
    as committed now (locked or not)."""
    stmt = (
        select(col(OutboxEvent.id), col(OutboxEvent.subject))
        .where(
            col(OutboxEvent.published_at).is_(None),
            col(OutboxEvent.subject).in_(subjects),
            col(OutboxEvent.id) <= up_to_id,
        )
        .order_by(col(OutboxEvent.id))
    )
    rows = await session.execute(stmt)
    # The columns are typed nullable by the model; a key and a matched subject never are.
    return [(i, s) for i, s in rows if i is not None and s is not None]


async def mark_published(session: AsyncSession, ids: Iterable[int]) -> None:
    await session.execute(
        update(OutboxEvent)
        .where(col(OutboxEvent.id).in_(list(ids)))
        .values(published_at=func.now(), attempts=col(OutboxEvent.attempts) + 1)
    )


# --- consumers (hot path: raw SQL) ----------------------------------------------------

ENSURE_CURSOR = """
INSERT INTO event_consumer_cursors (consumer, last_event_id) VALUES (:c, 0)
ON CONFLICT DO NOTHING
"""
LOCK_CURSOR = """
SELECT last_event_id FROM event_consumer_cursors WHERE consumer = :c FOR UPDATE SKIP LOCKED
"""
CONSUMER_EVENTS = """
SELECT o.id, o.event_id, o.type, o.subject, o.time, o.data,
       o.time < now() - make_interval(secs => :lag) AS settled
FROM outbox_events o
WHERE o.id > :after AND o.type = ANY(:types)
  AND NOT EXISTS (SELECT 1 FROM event_consumptions c
                  WHERE c.consumer = :c AND c.event_id = o.event_id)
ORDER BY o.id LIMIT :n
"""
CLAIM_EVENT = """
INSERT INTO event_consumptions (consumer, event_id) VALUES (:c, :e)
ON CONFLICT DO NOTHING RETURNING 1
"""
CLAIM_EVENTS = """
INSERT INTO event_consumptions (consumer, event_id)
SELECT :c, e FROM unnest(CAST(:events AS uuid[])) AS e
ON CONFLICT DO NOTHING RETURNING event_id
"""
ADVANCE_CURSOR = """
WITH moved AS (
    UPDATE event_consumer_cursors SET last_event_id = :id WHERE consumer = :c
)
DELETE FROM event_consumptions WHERE consumer = :c AND event_id IN (
    SELECT event_id FROM outbox_events WHERE id <= :id AND type = ANY(:types))
"""


async def ensure_cursor(session: AsyncSession, consumer: str) -> None:
    await session.execute(text(ENSURE_CURSOR), {"c": consumer})


async def lock_cursor(session: AsyncSession, consumer: str) -> int | None:
    """The consumer's cursor, locked; ``None`` while another replica holds it."""
    after = (await session.execute(text(LOCK_CURSOR), {"c": consumer})).scalar()
    return None if after is None else int(after)


async def unconsumed_events(
    session: AsyncSession,
    consumer: str,
    types: Sequence[str],
    after: int,
    limit: int,
    lag_seconds: float,
) -> Sequence[Row[Any]]:
    """Events of ``types`` past the cursor that ``consumer`` has not handled, each with
    ``settled``: older than the lag, so no lower id can still commit."""
    params = {"c": consumer, "after": after, "types": list(types), "n": limit, "lag": lag_seconds}
    return (await session.execute(text(CONSUMER_EVENTS), params)).all()


async def count_retained(session: AsyncSession, types: Sequence[str]) -> int:
    result = await session.execute(
        text("SELECT count(*) FROM outbox_events WHERE type = ANY(:types)"), {"types": list(types)}
    )
    return int(result.scalar_one())


async def claim_event(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Record that ``consumer`` handles the event; False if it already did."""
    claim = {"c": consumer, "e": event_id}
    return (await session.execute(text(CLAIM_EVENT), claim)).first() is not None


async def claim_events(
    session: AsyncSession, consumer: str, event_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """``claim_event`` for many events in one statement: the ids not handled before."""
    rows = await session.execute(text(CLAIM_EVENTS), {"c": consumer, "events": list(event_ids)})
    return {uuid.UUID(str(event_id)) for (event_id,) in rows}


async def advance_cursor(
    session: AsyncSession, consumer: str, types: Sequence[str], to_id: int
) -> None:
    """Move the cursor and forget the consumption rows it now covers."""
    await session.execute(text(ADVANCE_CURSOR), {"c": consumer, "id": to_id, "types": list(types)})


# --- webhooks ------------------------------------------------------------------------


async def insert_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    session.add(endpoint)
    await session.flush()
    return endpoint


async def active_endpoints(session: AsyncSession) -> list[tuple[int, list[str]]]:
    """(id, event type patterns) of every active endpoint."""
    stmt = select(col(WebhookEndpoint.id), col(WebhookEndpoint.event_types)).where(
        col(WebhookEndpoint.active)
    )
    rows = await session.execute(stmt)
    return [(i, list(types)) for i, types in rows if i is not None]  # a key is never NULL


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Queue deliveries; one already queued for (endpoint, event) is left as it is."""
    stmt = (
        insert(WebhookDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
    )
    await session.execute(stmt)


async def flush(session: AsyncSession) -> None:
    """Write the changes made to loaded rows (a redelivered delivery)."""
    await session.flush()


async def lock_delivery(session: AsyncSession, delivery_id: int) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id, with_for_update=True)


async def claim_due_deliveries(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[WebhookDelivery, str, str, str]]:
    """Lock due pending deliveries no other dispatcher holds, with the endpoint's url,
    sealed secret and signature format."""
    stmt = (
        select(
            WebhookDelivery,
            col(WebhookEndpoint.url),
            col(WebhookEndpoint.secret),
            col(WebhookEndpoint.signature_format),
        )
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
        .where(
            col(WebhookDelivery.status) == DeliveryStatus.PENDING,
            col(WebhookDelivery.next_attempt_at) <= now,
        )
        .order_by(col(WebhookDelivery.next_attempt_at))
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    return [
        (d, str(url), str(secret), str(fmt)) for d, url, secret, fmt in await session.execute(stmt)
    ]


async def postpone_deliveries(session: AsyncSession, ids: list[int], until: datetime) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id).in_(ids))
        .values(next_attempt_at=until)
    )


async def insert_attempts(session: AsyncSession, attempts: Iterable[WebhookAttempt]) -> None:
    session.add_all(attempts)
    await session.flush()


async def update_delivery(session: AsyncSession, delivery_id: int, values: dict[str, Any]) -> None:
    await session.execute(
        update(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id).values(**values)
    )
