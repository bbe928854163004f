"""DataLoader batches of one statement run in autocommit: one round trip each, no BEGIN
and ROLLBACK around them; batches of several statements keep one snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from app.core.db import Database
from app.players.models import Player
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


async def _read_profile(database: Database, player_id: Any) -> tuple[Any, Any, Any]:
    loaders = Loaders(database)
    row = await loaders.get(PlayerById).load(player_id)
    wallets = await loaders.get(WalletsByPlayer).load(player_id)
    segments = await loaders.get(SegmentsByPlayer).load(player_id)
    return row, wallets, segments


async def test_single_statement_batches_send_no_transaction_statements(db, settings):
    player = await create_player(db, settings)
    statements: list[str] = []
    database = _logging_database(settings.database_url or "", statements)
    try:
        # A connection's first uuid[] parameter makes the driver look the type up, once.
        await _read_profile(database, player.id)
        await asyncio.sleep(0.05)  # the driver's query logger is called soon, not at once
        statements.clear()
        row, wallets, segments = await _read_profile(database, player.id)
        await asyncio.sleep(0.05)
    finally:
        await database.dispose()
    assert row is not None and row.id == player.id
    assert {w.kind for w in wallets} >= {"REAL"}
    assert segments == []
    # One SELECT per batch, nothing around it (no BEGIN, ROLLBACK or SET).
    assert [s.split()[0] for s in statements] == ["SELECT"] * 3, statements


async def test_driver_batches_give_the_rows_a_session_reads(db, settings):
    """The driver loaders' rows (no ORM loading) equal the ORM's, column for column, and
    are detached like rows of a closed session."""
    from sqlalchemy import inspect, select, text

    from app.segments import service as segments
    from app.segments.models import SegmentKind
    from app.wallets.models import Wallet

    player = await create_player(db, settings)
    async with db.transaction() as session:
        await session.execute(
            text('UPDATE players SET preferences = \'{"lang": "de"}\' WHERE id = :id'),
            {"id": player.id},
        )
        segment, _ = await segments.create_segment(
            session, name="vip", rule=None, actor="staff:t", kind=SegmentKind.STATIC
        )
        await segments.add_static_members(session, segment.id, [player.id])
    row, wallets, found = await _read_profile(db, player.id)
    async with db.read_session() as session:
        orm_player = await session.get(Player, player.id)
        stmt = select(Wallet).where(Wallet.player_id == player.id).order_by(Wallet.id)
        orm_wallets = list((await session.execute(stmt)).scalars())
        orm_segment = await segments.get_segment(session, segment.id)
    assert orm_player is not None and orm_segment is not None
    assert row.model_dump() == orm_player.model_dump()
    assert row.preferences == {"lang": "de"}
    assert [w.model_dump() for w in wallets] == [w.model_dump() for w in orm_wallets]
    assert [w.available for w in wallets] == [w.balance - w.held for w in orm_wallets]
    assert [s.model_dump() for s in found] == [orm_segment.model_dump()]
    for loaded in (row, *wallets, *found):
        assert inspect(loaded).detached


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


async def test_player_with_related_gives_the_rows_of_the_three_loaders(db, settings):
    """The one-statement read of a player with its wallets and segments gives exactly the
    rows the three loaders read apart, and primes them (no further statement)."""
    from sqlalchemy import inspect, text

    from app.segments import service as segments
    from app.segments.models import SegmentKind
    from schema.loaders import SEGMENTS, WALLETS, PlayerWithRelated

    player, other = await create_player(db, settings), await create_player(db, settings)
    async with db.transaction() as session:
        for name in ("b-segment", "a-segment"):
            segment, _ = await segments.create_segment(
                session, name=name, rule=None, actor="staff:t", kind=SegmentKind.STATIC
            )
            await segments.add_static_members(session, segment.id, [player.id])
        # A JSONB value inside the row type is decoded as in a plain column.
        await session.execute(text("""UPDATE segments SET rule = '{"all": []}'"""))
    apart = [await _read_profile(db, p.id) for p in (player, other)]

    statements: list[str] = []
    database = _logging_database(settings.database_url or "", statements)
    try:
        loaders = Loaders(database)
        both = frozenset({WALLETS, SEGMENTS})
        rows = await asyncio.gather(
            loaders.get(PlayerWithRelated).load((player.id, both)),
            loaders.get(PlayerWithRelated).load((other.id, frozenset({WALLETS}))),
        )
        together = [
            (
                await loaders.get(PlayerById).load(p.id),
                await loaders.get(WalletsByPlayer).load(p.id),
                await loaders.get(SegmentsByPlayer).load(p.id),
            )
            for p in (player, other)
        ]
        await asyncio.sleep(0.05)
    finally:
        await database.dispose()
    assert [r.id for r in rows] == [player.id, other.id]
    for (row, wallets, found), (row2, wallets2, found2) in zip(apart, together, strict=True):
        assert row2.model_dump() == row.model_dump()
        assert [w.model_dump() for w in wallets2] == [w.model_dump() for w in wallets]
        assert [s.model_dump() for s in found2] == [s.model_dump() for s in found]
        for loaded in (row2, *wallets2, *found2):
            assert inspect(loaded).detached
    assert [s.name for s in together[0][2]] == ["a-segment", "b-segment"]
    assert together[0][2][0].rule == {"all": []}
    selects = [s for s in statements if s.split()[0] == "SELECT"]
    # ONE statement for both players (batched), plus the driver's type look-ups once.
    assert sum("FROM players p" in s for s in selects) == 1, selects
    assert not any("FROM wallets WHERE" in s or "FROM segment_members m JOIN" in s
                   for s in selects if "FROM players p" not in s)  # fmt: skip


async def test_combined_read_survives_a_row_type_change_on_a_pooled_connection(db, settings):
    """The combined read decodes the wallets' and segments' row types, whose codecs the
    driver caches per connection. A migration that changes such a table while the server
    runs must not fail the next read on a connection that cached the old type."""
    from sqlalchemy import text

    from schema.loaders import SEGMENTS, WALLETS, PlayerWithRelated

    player = await create_player(db, settings)
    both = frozenset({WALLETS, SEGMENTS})
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    try:
        before = await Loaders(database).get(PlayerWithRelated).load((player.id, both))
        async with db.transaction() as session:
            await session.execute(text("ALTER TABLE wallets ADD COLUMN probe_column int"))
        try:
            loaders = Loaders(database)  # the same single pooled connection, old codec
            after = await loaders.get(PlayerWithRelated).load((player.id, both))
            wallets = await loaders.get(WalletsByPlayer).load(player.id)
        finally:
            async with db.transaction() as session:
                await session.execute(text("ALTER TABLE wallets DROP COLUMN probe_column"))
    finally:
        await database.dispose()
    assert before is not None and after is not None and after.id == player.id
    assert {w.kind for w in wallets} >= {"REAL"}
