"""The realtime side of one process (subscription hub, outbox relay with its sinks: bus,
hub, webhooks, cache; webhook dispatcher; player cache), built in one place for the ASGI
app and ``pms worker``."""

from __future__ import annotations

from app.core.db import Database
from app.core.settings import Settings
from app.events.runtime import EventsRuntime


def build_events(db: Database, settings: Settings) -> EventsRuntime:
    """The events runtime, not started yet: the caller starts and stops it."""
    return EventsRuntime(db, settings)
