"""DataLoader batches of one statement run in autocommit: one round trip each, no BEGIN
and ROLLBACK around them; batches of several statements keep one snapshot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from app.core.db import Database
from schema.loaders import (
    LedgerPageKey,
    LedgerPages,
    Loaders,
    PlayerById,
    SegmentsByPlayer,
    WalletsByPlayer,
)
from tests.factories import create_player


def _logging_database(url: str, statements: list[str]) -> Database:
    database = Database(url, pool_size=2, max_overflow=0)

    def attach(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(
            lambda logged: statements.append(logged.query)
        )

    event.listen(database.engine.sync_engine, "connect", attach)
    return database


async def test_single_statement_batches_send_no_transaction_statements(db, settings):
    player = await create_player(db, settings)
    statements: list[str] = []
    database = _logging_database(settings.database_url or "", statements)
    try:
        loaders = Loaders(database)
        row = await loaders.get(PlayerById).load(player.id)
        wallets = await loaders.get(WalletsByPlayer).load(player.id)
        segments = await loaders.get(SegmentsByPlayer).load(player.id)
    finally:
        await database.dispose()
    assert row is not None and row.id == player.id
    assert {w.kind for w in wallets} >= {"REAL"}
    assert segments == []
    # The logger sees simple-protocol statements (BEGIN, ROLLBACK, SET): there are none.
    assert statements == [], statements


async def test_a_page_batch_still_reads_in_one_transaction(db, settings):
    from app.ledger import repository as ledger

    player = await create_player(db, settings)
    statements: list[str] = []
    database = _logging_database(settings.database_url or "", statements)
    try:
        key = LedgerPageKey(ledger.HistoryFilter(), 10, None, player_id=player.id)
        rows, has_next, total = await Loaders(database).get(LedgerPages).load(key)
    finally:
        await database.dispose()
    assert (rows, has_next, total) == ([], False, 0)
    assert "BEGIN;" in statements


async def test_the_session_store_lookup_of_every_request_is_one_statement(db, settings):
    from app.identity.store import PostgresStore

    statements: list[str] = []
    database = _logging_database(settings.database_url or "", statements)
    try:
        store = PostgresStore(database)
        await store.put("rs:probe", {"n": 1}, 60)
        statements.clear()
        assert await store.get_many(["rs:probe", "gen:nobody"]) == [{"n": 1}, None]
    finally:
        await database.dispose()
    assert statements == [], statements  # no BEGIN / ROLLBACK around the SELECT
