"""The pool replaces a connection the database closed (a restart, an administrator's
terminate) at checkout, without a round trip per checkout (no pool_pre_ping)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from app.core.db import Database


async def _backend_pid(database: Database) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_pooled_connection_killed_by_the_server_is_replaced_at_checkout(settings):
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    other = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    try:
        before = await _backend_pid(database)  # now idle in the pool
        async with other.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            # The backend sends its FATAL message before it exits: once it is gone, the
            # message is on the idle socket (checking out earlier raced it under load).
            for _ in range(500):
                gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid"
                if (await conn.execute(text(gone), {"pid": before})).scalar_one():
                    break
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the event loop reads the FATAL and marks the socket closed
        after = await _backend_pid(database)  # must not raise "connection was closed"
        assert after != before
    finally:
        await database.dispose()
        await other.dispose()


async def test_checkout_sends_no_ping(settings):
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    statements: list[str] = []
    try:
        async with database.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
        driver.add_query_logger(lambda record: statements.append(record.query))
        await _backend_pid(database)
        # The logger sees simple-protocol statements: the connection's own transaction
        # only. A pre-ping would add its BEGIN and ROLLBACK around ";".
        assert statements == ["BEGIN;", "ROLLBACK;"], statements
    finally:
        await database.dispose()
