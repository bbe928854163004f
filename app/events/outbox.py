"""Writing domain events. Call ``record`` inside the transaction that makes the change:
the event commits or rolls back with it, so no consumer hears of a change that never
happened, and none is lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import mark_changed, mark_outbox_written
from app.events import repository
from app.events.models import OutboxEvent

SOURCE = "urn:pms"
SPEC_VERSION = "1.0"


async def record(
    session: AsyncSession, type: str, subject: str | None, data: dict[str, Any]
) -> OutboxEvent:
    event = OutboxEvent(event_id=uuid.uuid4(), type=type, source=SOURCE, subject=subject, data=data)
    await repository.insert_event(session, event)
    mark_outbox_written(session)
    if subject is not None:
        mark_changed(session, subject)
    return event


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """The CloudEvents 1.0 JSON form of a stored event."""
    time = event.time or datetime.now(UTC)
    return {
        "specversion": SPEC_VERSION,
        "id": str(event.event_id),
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": time.isoformat(),
        "datacontenttype": "application/json",
        "data": event.data,
    }
