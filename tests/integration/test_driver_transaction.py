"""``Database.driver_transaction``: the money path's unit of work on a pooled asyncpg
connection. One transaction whether a statement goes to the driver or through the
session it lends (made only when asked for); rollback on an exception; a connection
the server killed is refused as unavailable and replaced, never returned to the pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from app.core.db import Database, mark_changed
from app.core.outage import is_unavailable


@pytest.fixture
async def one_connection(settings) -> AsyncIterator[Database]:
    """A pool of one connection with a temporary table on it (every checkout is it)."""
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    async with database.engine.connect() as conn:
        await conn.execute(text("CREATE TEMPORARY TABLE tx_probe (v text NOT NULL)"))
        await conn.commit()
    yield database
    await database.dispose()


async def _rows(database: Database) -> list[str]:
    async with database.engine.connect() as conn:
        return list((await conn.execute(text("SELECT v FROM tx_probe ORDER BY v"))).scalars())


async def _pid(database: Database) -> int:
    async with database.driver_transaction() as tx:
        return int(await tx.connection.fetchval("SELECT pg_backend_pid()"))


async def test_driver_and_session_statements_commit_as_one_transaction(one_connection):
    database = one_connection
    changed: list[set[str]] = []

    async def hook(subjects: set[str]) -> None:
        changed.append(subjects)

    database.after_commit.append(hook)
    pid = await _pid(database)
    async with database.driver_transaction() as tx:
        await tx.connection.execute("INSERT INTO tx_probe VALUES ('driver')")
        session = await tx.session()
        assert await session.scalar(text("SELECT count(*) FROM tx_probe")) == 1  # same tx
        await session.execute(text("INSERT INTO tx_probe VALUES ('session')"))
        assert await tx.session() is session
        mark_changed(tx, "p1")
        mark_changed(session, "p2")
        assert changed == []  # the hooks run after the commit
    assert await _rows(database) == ["driver", "session"]
    assert changed == [{"p1", "p2"}]
    assert await _pid(database) == pid  # the connection went back to the pool


@pytest.mark.parametrize("with_session", [False, True])
async def test_an_exception_rolls_back_everything_and_returns_the_connection(
    one_connection, with_session
):
    database = one_connection
    changed: list[set[str]] = []

    async def hook(subjects: set[str]) -> None:
        changed.append(subjects)

    database.after_commit.append(hook)
    pid = await _pid(database)
    with pytest.raises(ValueError):
        async with database.driver_transaction() as tx:
            await tx.connection.execute("INSERT INTO tx_probe VALUES ('driver')")
            if with_session:
                session = await tx.session()
                await session.execute(text("INSERT INTO tx_probe VALUES ('session')"))
            mark_changed(tx, "p1")
            raise ValueError("a bug in the plan")
    assert await _rows(database) == []
    assert changed == []
    async with database.driver_transaction() as tx:
        assert await tx.connection.fetchval("SELECT pg_backend_pid()") == pid
        assert await tx.connection.fetchval("SELECT count(*) FROM tx_probe") == 0


async def test_a_connection_killed_in_use_is_unavailable_and_replaced(settings):
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    other = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    try:
        before = await _pid(database)
        with pytest.raises(Exception) as failed:
            async with database.driver_transaction() as tx:
                async with other.driver_transaction() as killer:
                    await killer.connection.execute("SELECT pg_terminate_backend($1)", before)
                await tx.connection.fetchval("SELECT 1")
        assert is_unavailable(failed.value)  # the API answers 503, not 500
        after = await _pid(database)  # a new connection, not the dead one
        assert after != before
    finally:
        await database.dispose()
        await other.dispose()
