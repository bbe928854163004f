"""The exactly-once outbox consumer (app/events/consumer.py): a round tries its whole batch
at once and, when one event fails, goes event by event instead; either way every event
before the failing one takes effect once, the failing one and those after it wait for the
next round, and what the first try did is undone (in the database and, through
``on_rollback``, in the handler's memory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.core.db import Database
from app.events.consumer import consume

CONSUMER, TYPE = "test-rounds", "test.round_event"


@pytest.fixture
async def seen_table(db: Database):
    """Where the handler writes: the events it took effect for, in the database."""
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE test_consumer_seen (n int NOT NULL)"))
    yield
    async with db.transaction() as session:
        await session.execute(text("DROP TABLE test_consumer_seen"))
        await session.execute(text("DELETE FROM event_consumer_cursors WHERE consumer = :c"),
                              {"c": CONSUMER})  # fmt: skip


async def _events(db: Database, n: int) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    rows = [{"e": uuid.uuid4(), "sub": str(uuid.uuid4()), "d": f'{{"n": {i}}}',
             "at": at + timedelta(seconds=i)} for i in range(n)]  # fmt: skip
    async with db.transaction() as session:
        await session.execute(text(
            "INSERT INTO outbox_events (event_id, type, source, subject, time, data, published_at)"
            " VALUES (:e, :t, 'test', :sub, :at, CAST(:d AS JSONB), now())"
        ), [{**r, "t": TYPE} for r in rows])  # fmt: skip


class Handler:
    """Writes each event's number; fails on ``fail_on`` (Python error or bad SQL)."""

    def __init__(self, fail_on: int | None = None, sql_error: bool = False) -> None:
        self.fail_on, self.sql_error = fail_on, sql_error
        self.in_memory: list[int] = []
        self.rollbacks = 0

    async def __call__(self, session: Any, event: Any) -> None:
        n = int(event.data["n"])
        if n == self.fail_on:
            if self.sql_error:  # aborts the transaction, as a constraint violation would
                await session.execute(text("SELECT 1 / 0"))
            raise RuntimeError(f"handler refuses event {n}")
        await session.execute(text("INSERT INTO test_consumer_seen (n) VALUES (:n)"), {"n": n})
        self.in_memory.append(n)

    def rolled_back(self) -> None:
        self.rollbacks += 1
        self.in_memory.clear()


async def _round(db: Database, handler: Handler) -> int:
    return await consume(db, CONSUMER, (TYPE,), handler, lag_seconds=0.0,
                         on_rollback=handler.rolled_back)  # fmt: skip


async def _seen(db: Database) -> list[int]:
    async with db.read_session() as session:
        rows = await session.execute(text("SELECT n FROM test_consumer_seen ORDER BY n"))
        return list(rows.scalars())


async def test_a_round_without_failures_takes_every_event_once(db, seen_table):
    await _events(db, 30)
    handler = Handler()
    assert await _round(db, handler) == 30
    assert await _round(db, handler) == 0  # claimed and past the cursor: never again
    assert await _seen(db) == list(range(30))
    assert handler.in_memory == list(range(30)) and handler.rollbacks == 0


@pytest.mark.parametrize("sql_error", [False, True], ids=["python-error", "sql-error"])
async def test_a_failing_event_waits_and_those_before_it_count_once(db, seen_table, sql_error):
    await _events(db, 20)
    handler = Handler(fail_on=8, sql_error=sql_error)
    assert await _round(db, handler) == 8  # events 0-7, after the first try was undone
    assert handler.rollbacks == 1
    assert handler.in_memory == list(range(8))  # the first try's memory was reset
    assert await _seen(db) == list(range(8))
    assert await _round(db, handler) == 0  # still failing: nothing more, nothing twice
    assert await _seen(db) == list(range(8))
    handler.fail_on = None
    assert await _round(db, handler) == 12
    assert await _seen(db) == list(range(20))
    async with db.read_session() as session:
        cursor = await session.scalar(text(
            "SELECT last_event_id FROM event_consumer_cursors WHERE consumer = :c"
        ), {"c": CONSUMER})  # fmt: skip
        last = await session.scalar(text("SELECT max(id) FROM outbox_events WHERE type = :t"),
                                    {"t": TYPE})  # fmt: skip
    assert cursor == last
