"""Database pool gauges, kept current by SQLAlchemy pool events (so they are right in
multi-process mode too, where a scrape-time collector would see one worker only)."""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import metrics

# Weak, not id(): a disposed engine's id can be reused by a new one, which then went
# uninstrumented (its gauges stayed at 0).
_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument_pool(engine: AsyncEngine) -> None:
    """Idempotent per engine."""
    sync = engine.sync_engine
    if sync in _instrumented:
        return
    _instrumented.add(sync)
    pool: Any = sync.pool
    size = getattr(pool, "size", lambda: 0)()
    metrics.DB_POOL_CAPACITY.inc(size + max(getattr(pool, "_max_overflow", 0), 0))
    # Connections the pool holds already (an engine shared before the app started).
    checked_out = getattr(pool, "checkedout", lambda: 0)()
    metrics.DB_POOL_CHECKED_OUT.inc(checked_out)
    metrics.DB_POOL_OPEN.inc(checked_out + getattr(pool, "checkedin", lambda: 0)())

    def on_connect(*_: Any) -> None:
        metrics.DB_POOL_OPEN.inc()

    def on_close(*_: Any) -> None:
        metrics.DB_POOL_OPEN.dec()

    def on_checkout(*_: Any) -> None:
        metrics.DB_POOL_CHECKED_OUT.inc()

    def on_checkin(*_: Any) -> None:
        metrics.DB_POOL_CHECKED_OUT.dec()

    event.listen(sync, "connect", on_connect)
    event.listen(sync, "close", on_close)
    event.listen(sync, "close_detached", on_close)
    event.listen(sync, "checkout", on_checkout)
    event.listen(sync, "checkin", on_checkin)
