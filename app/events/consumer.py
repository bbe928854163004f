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
from app.events import repository

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any], Awaitable[None]]
# Runs once a round, before any event is handled, with all of the round's events: a
# consumer that locks rows per event takes them here in one global order instead.
Prepare = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]

CURSOR_LAG_SECONDS = 300.0


async def consume(
    db: Database,
    consumer: str,
    types: Sequence[str],
    handle: Handler,
    *,
    batch: int = 500,
    lag_seconds: float = CURSOR_LAG_SECONDS,
    on_rollback: Callable[[], None] | None = None,
    prepare: Prepare | None = None,
) -> int:
    """Handle the next events of ``types`` once each; returns how many took effect.

    The cursor row is locked SKIP LOCKED, so one replica at a time runs a consumer. A
    round first tries the whole batch under one savepoint with one claim statement
    (``_all_at_once``: two round trips per event fewer); should any event fail, that is
    rolled back and the round goes event by event, each in its own savepoint: a failing
    event is logged and retried next round without holding back the events before it.
    ``on_rollback`` resets what a handler keeps in memory when the first try is undone.
    ``prepare`` runs first, in its own savepoint (should it fail, the round goes on
    without it); what it locks stays locked until the round commits, whichever way the
    events are then handled.
    """
    async with db.transaction() as session:
        await repository.ensure_cursor(session, consumer)
    async with db.transaction() as session:
        after = await repository.lock_cursor(session, consumer)
        if after is None:
            return 0  # another replica holds this consumer now
        events = await repository.unconsumed_events(
            session, consumer, types, after, batch, lag_seconds
        )
        if prepare is not None and events:
            await _prepared(session, consumer, events, prepare)
        handled = await _all_at_once(session, consumer, events, handle)
        if handled is None:
            if on_rollback is not None:
                on_rollback()
            handled, events = await _one_by_one(session, consumer, events, handle)
        settled_upto = after
        for event in events:
            if event.settled:
                settled_upto = event.id
        if settled_upto != after:
            await repository.advance_cursor(session, consumer, types, settled_upto)
    return handled


async def _prepared(
    session: AsyncSession, consumer: str, events: Sequence[Any], prepare: Prepare
) -> None:
    try:
        async with session.begin_nested():
            await prepare(session, events)
    except Exception:
        log.warning("consumer %s: preparing a round failed", consumer, exc_info=True)


async def _all_at_once(
    session: AsyncSession, consumer: str, events: Sequence[Any], handle: Handler
) -> int | None:
    """Every event in one savepoint; None (and nothing kept) if any of them failed."""
    if not events:
        return 0
    try:
        async with session.begin_nested():
            claimed = await repository.claim_events(session, consumer, [e.event_id for e in events])
            for event in events:
                if event.event_id in claimed:
                    await handle(session, event)
            return len(claimed)
    except Exception:
        log.debug("consumer %s: a batch failed, going event by event", consumer, exc_info=True)
        return None


async def _one_by_one(
    session: AsyncSession, consumer: str, events: Sequence[Any], handle: Handler
) -> tuple[int, Sequence[Any]]:
    """Each event in its own savepoint, up to the first that fails: (handled, events done)."""
    handled = 0
    for done, event in enumerate(events):
        try:
            async with session.begin_nested():
                if await repository.claim_event(session, consumer, event.event_id):
                    await handle(session, event)
                    handled += 1
        except Exception:
            log.exception("consumer %s failed on event %s", consumer, event.event_id)
            return handled, events[:done]  # keep order: retry from here next round
    return handled, events


async def retained(session: AsyncSession, types: Sequence[str]) -> int:
    """How many events of ``types`` the outbox still holds (what a rebuild replays)."""
    return await repository.count_retained(session, types)


async def rewind(session: AsyncSession, consumer: str) -> None:
    """Make ``consumer`` start again from the first event (a rebuild of what it derives),
    in the caller's transaction; waits for a running pass of it to finish."""
    await repository.ensure_cursor(session, consumer)
    await session.execute(
        text("SELECT 1 FROM event_consumer_cursors WHERE consumer = :c FOR UPDATE"),
        {"c": consumer},
    )
    await session.execute(text("DELETE FROM event_consumptions WHERE consumer = :c"),
                          {"c": consumer})  # fmt: skip
    await session.execute(
        text("UPDATE event_consumer_cursors SET last_event_id = 0 WHERE consumer = :c"),
        {"c": consumer},
    )
