"""The ``db`` fixture's teardown (``truncate_all``): whatever a test left, the next one
starts from empty tables and restarted sequences, as a TRUNCATE of every table gave."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.conftest import truncate_all

INSERT_EVENT = text(
    "INSERT INTO outbox_events (event_id, type, source, data) "
    "VALUES (:id, 'probe.written', 'tests', '{}') RETURNING id"
)


async def test_rows_and_moved_sequences_are_reset_whether_or_not_a_row_is_left(db):
    async with db.engine.begin() as conn:
        first = (await conn.execute(INSERT_EVENT, {"id": uuid.uuid4()})).scalar_one()
    await truncate_all(db)
    async with db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM outbox_events")) == 0
        rolled_back = (await conn.execute(INSERT_EVENT, {"id": uuid.uuid4()})).scalar_one()
        await conn.rollback()  # moves the sequence, leaves no row behind
    assert rolled_back == first  # the kept row's TRUNCATE restarted the identity
    await truncate_all(db)
    async with db.engine.begin() as conn:
        again = (await conn.execute(INSERT_EVENT, {"id": uuid.uuid4()})).scalar_one()
    assert again == first  # a sequence moved by a rolled-back insert is restarted too
    await truncate_all(db)
    async with db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM outbox_events")) == 0
