"""Alembic is the only way the schema is made: head matches the models, and it unwinds."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from alembic import command
from app.core import migrations
from app.core.db import Database, asyncpg_dsn, ensure_database_exists


@pytest.fixture
async def scratch_url(database_url):
    """An empty database of its own beside the test database, dropped afterwards."""
    name = f"pms_migrations_{uuid.uuid4().hex[:8]}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await ensure_database_exists(url)
    yield url
    import asyncpg

    admin = await asyncpg.connect(
        asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def schema_diff(url: str) -> list:
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await database.dispose()


async def table_names(url: str) -> set[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            return set(rows.scalars())
    finally:
        await database.dispose()


async def test_upgrade_head_on_empty_database_matches_the_models(scratch_url):
    await asyncio.to_thread(migrations.upgrade, scratch_url)

    assert await schema_diff(scratch_url) == []
    await asyncio.to_thread(command.check, migrations.alembic_config(scratch_url))


async def test_downgrade_base_removes_everything_and_upgrade_again_works(scratch_url):
    await asyncio.to_thread(migrations.upgrade, scratch_url)
    await asyncio.to_thread(migrations.downgrade, scratch_url, "base")

    assert await table_names(scratch_url) == {"alembic_version"}

    await asyncio.to_thread(migrations.upgrade, scratch_url)
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= await table_names(scratch_url)


async def test_migrations_have_a_single_head():
    assert len(migrations.head_revisions()) == 1


async def test_readyz_is_503_until_migrations_are_at_head(scratch_url, settings):
    import httpx

    from pms.asgi import create_app

    database = Database(scratch_url)
    app = create_app(settings, database=database)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
            before = await http.get("/readyz")
            await asyncio.to_thread(migrations.upgrade, scratch_url, "base")
            still_empty = await http.get("/readyz")
            await asyncio.to_thread(migrations.upgrade, scratch_url)
            after = await http.get("/readyz")
    finally:
        await database.dispose()

    assert (before.status_code, before.json()["database"]) == (503, "migrations pending")
    assert before.json()["current"] == []
    assert still_empty.status_code == 503
    assert after.status_code == 200


BEFORE_PARTITIONS = "0018_crm_jobs"  # the revision before 0019_retention_partitions
PARTITIONS = "0019_retention_partitions"  # what it made (0025 later changes the keys)


async def test_partitioning_keeps_rows_ids_indexes_triggers_and_grants(scratch_url):
    """0019 converts audit_log and ledger_transfers in place: rows and ids kept, the
    identity continues, old rows land in their month, the rest is made again."""
    import asyncpg

    await asyncio.to_thread(migrations.upgrade, scratch_url, BEFORE_PARTITIONS)
    conn = await asyncpg.connect(asyncpg_dsn(scratch_url))
    try:
        await conn.execute(
            "INSERT INTO audit_log (actor, action, outcome, occurred_at) VALUES "
            "('a', 'old', 'success', '2024-03-05 10:00+00'), ('a', 'new', 'success', now())"
        )
        before = await conn.fetch("SELECT id, action, occurred_at FROM audit_log ORDER BY id")
        await asyncio.to_thread(migrations.upgrade, scratch_url, PARTITIONS)
        after = await conn.fetch("SELECT id, action, occurred_at FROM audit_log ORDER BY id")
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        assert (
            await conn.fetchval(
                "SELECT tableoid::regclass::text FROM audit_log WHERE action = 'old'"
            )
            == "pms_partitions.audit_log_p2024_03"
        )
        new_id = await conn.fetchval(
            "INSERT INTO audit_log (actor, action, outcome) VALUES ('a', 'x', 'success') "
            "RETURNING id"
        )
        assert new_id == before[-1]["id"] + 1
        for table in ("audit_log", "ledger_transfers"):
            assert (
                await conn.fetchval("SELECT relkind FROM pg_class WHERE oid = $1::regclass", table)
                == b"p"
            )
            assert await conn.fetchval(
                "SELECT has_table_privilege('pms_app', $1, 'INSERT') AND "
                "has_table_privilege('pms_app', $1, 'SELECT') AND NOT "
                "has_table_privilege('pms_app', $1, 'UPDATE') AND NOT "
                "has_table_privilege('pms_app', $1, 'DELETE')", table,
            )  # fmt: skip
            assert await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass "
                "AND tgname LIKE '%append_only' OR tgname LIKE $2", table, f"{table}_no_truncate"
            ) >= 2  # fmt: skip
            assert await conn.fetchval(
                "SELECT to_regclass($1) IS NOT NULL", f"pms_partitions.{table}_default"
            )
        indexes = {r["indexname"] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('audit_log', 'ledger_transfers')"
        )}  # fmt: skip
        assert {"pk_audit_log", "ix_audit_log_actor_id", "ix_audit_log_target_id",
                "ix_audit_log_occurred_at", "pk_ledger_transfers",
                "ix_ledger_transfers_wallet_id_id", "ix_ledger_transfers_player_id_id",
                "ix_ledger_transfers_operation_id"} <= indexes  # fmt: skip
        fks = {r["conname"] for r in await conn.fetch(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_transfers'::regclass"
        )}  # fmt: skip
        assert {"fk_ledger_transfers_player_id_players", "fk_ledger_transfers_wallet_id_wallets",
                "ck_ledger_transfers_amount_not_zero"} <= fks  # fmt: skip
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute("UPDATE audit_log SET outcome = 'failure'")
        await asyncio.to_thread(migrations.downgrade, scratch_url, BEFORE_PARTITIONS)
        back = await conn.fetch("SELECT id, action FROM audit_log WHERE id <= $1 ORDER BY id",
                                before[-1]["id"])  # fmt: skip
        assert [tuple(r) for r in back] == [(r["id"], r["action"]) for r in before]
        assert (
            await conn.fetchval("SELECT relkind FROM pg_class WHERE oid = 'audit_log'::regclass")
            == b"r"
        )
    finally:
        await conn.close()


HOLD_KEYS = "0034_hold_wallet_keys"


async def test_hold_wallet_keys_validate_existing_holds_and_refuse_another_players_wallet(
    scratch_url,
):
    """0034 on a populated table: the composite keys are added NOT VALID, validated over
    the existing holds, and from then on a hold must name its own player's wallets."""
    import asyncpg
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config(scratch_url))
    before = script.get_revision(HOLD_KEYS).down_revision
    await asyncio.to_thread(migrations.upgrade, scratch_url, before)
    conn = await asyncpg.connect(asyncpg_dsn(scratch_url))
    try:
        await conn.execute("""
            INSERT INTO players (id, email, login, password_hash, country, currency, birth_date)
            SELECT gen_random_uuid(), 'm' || i || '@test', 'm' || i, 'x', 'DE', 'EUR',
                   '1990-01-01' FROM generate_series(1, 2) AS i;
            INSERT INTO wallets (player_id, kind, currency)
            SELECT id, k, 'EUR' FROM players, unnest(ARRAY['REAL', 'BONUS']) AS k;
            INSERT INTO ledger_holds (player_id, purpose, client, currency, real_wallet_id,
                                      bonus_wallet_id, real_amount, bonus_amount)
            SELECT p.id, 'BET', 'c', 'EUR', r.id, b.id, 100, 0
            FROM players p JOIN wallets r ON r.player_id = p.id AND r.kind = 'REAL'
            JOIN wallets b ON b.player_id = p.id AND b.kind = 'BONUS'""")
        await asyncio.to_thread(migrations.upgrade, scratch_url, HOLD_KEYS)
        keys = {r["conname"]: r["convalidated"] for r in await conn.fetch(
            "SELECT conname, convalidated FROM pg_constraint "
            "WHERE conrelid = 'ledger_holds'::regclass AND contype = 'f'"
        )}  # fmt: skip
        assert keys == {
            "fk_ledger_holds_real_wallet_id_player_id_wallets": True,
            "fk_ledger_holds_bonus_wallet_id_player_id_wallets": True,
            "fk_ledger_holds_game_round_id_game_rounds": True,
        }
        assert await conn.fetchval("SELECT count(*) FROM ledger_holds") == 2
        other = """
            INSERT INTO ledger_holds (player_id, purpose, client, currency, real_wallet_id,
                                      bonus_wallet_id, real_amount, bonus_amount)
            SELECT p.id, 'BET', 'c', 'EUR', {real}, {bonus}, 1, 0
            FROM players p JOIN wallets w ON w.player_id <> p.id AND w.kind = 'REAL'
            JOIN wallets mine ON mine.player_id = p.id AND mine.kind = 'REAL' LIMIT 1"""
        for real, bonus in (("w.id", "NULL"), ("mine.id", "w.id")):
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                await conn.execute(other.format(real=real, bonus=bonus))
        await conn.execute(other.format(real="mine.id", bonus="NULL"))  # no bonus wallet: fine
        await asyncio.to_thread(migrations.downgrade, scratch_url, before)
        assert await conn.fetchval("SELECT count(*) FROM ledger_holds") == 3
        assert "fk_ledger_holds_player_id_players" in {r["conname"] for r in await conn.fetch(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'ledger_holds'::regclass"
        )}  # fmt: skip
    finally:
        await conn.close()


KEY_WRITES = "0035_idempotency_key_writes"
KEY_INDEXES = """
SELECT i.relname, a.amname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_am a ON a.oid = i.relam WHERE x.indrelid = 'idempotency_keys'::regclass"""


async def test_idempotency_key_writes_keep_the_keys_and_the_purge_reads_by_brin(scratch_url):
    """0035 on a populated table: the keys stay, ``created_at`` is BRIN-indexed, the pages
    keep room for the answer's update, the purge still finds old keys; and it unwinds."""
    import asyncpg

    await asyncio.to_thread(migrations.upgrade, scratch_url, "0034_hold_wallet_keys")
    conn = await asyncpg.connect(asyncpg_dsn(scratch_url))
    try:
        await conn.execute("""
            INSERT INTO idempotency_keys (scope, operation, key, request_hash, created_at)
            SELECT 's', 'o', 'k' || i, 'h', now() - make_interval(days => i, hours => -12)
            FROM generate_series(1, 200) AS i""")
        await asyncio.to_thread(migrations.upgrade, scratch_url, KEY_WRITES)
        assert dict(await conn.fetch(KEY_INDEXES)) == {
            "pk_idempotency_keys": "btree", "ix_idempotency_keys_created_at_brin": "brin",
        }  # fmt: skip
        assert await conn.fetchval(
            "SELECT reloptions FROM pg_class WHERE oid = 'idempotency_keys'::regclass"
        ) == ["fillfactor=70"]  # fmt: skip
        from app.ledger.repository import PURGE_IDEMPOTENCY_KEYS_SQL

        purge = PURGE_IDEMPOTENCY_KEYS_SQL.replace(":days", "$1").replace(":batch", "$2")
        assert await conn.execute(purge, 100, 1000) == "DELETE 100"  # keys older than 100 days
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 100
        await asyncio.to_thread(migrations.downgrade, scratch_url, "0034_hold_wallet_keys")
        assert dict(await conn.fetch(KEY_INDEXES)) == {
            "pk_idempotency_keys": "btree", "ix_idempotency_keys_created_at": "btree",
        }  # fmt: skip
        assert await conn.fetchval(
            "SELECT reloptions FROM pg_class WHERE oid = 'idempotency_keys'::regclass"
        ) is None  # fmt: skip
    finally:
        await conn.close()


async def test_outbox_event_id_index_goes_and_comes_back_with_the_events_kept(scratch_url):
    import asyncpg

    await asyncio.to_thread(migrations.upgrade, scratch_url, KEY_WRITES)
    conn = await asyncpg.connect(asyncpg_dsn(scratch_url))
    unique = ("SELECT count(*) FROM pg_constraint WHERE conrelid = 'outbox_events'::regclass "
              "AND conname = 'uq_outbox_events_event_id'")  # fmt: skip
    try:
        await conn.execute("""
            INSERT INTO outbox_events (event_id, type, source, subject, data)
            SELECT gen_random_uuid(), 't', 'urn:pms', 's', '{}' FROM generate_series(1, 3)""")
        assert await conn.fetchval(unique) == 1
        await asyncio.to_thread(migrations.upgrade, scratch_url, "0036_outbox_event_id_index")
        assert await conn.fetchval(unique) == 0
        assert await conn.fetchval("SELECT count(DISTINCT event_id) FROM outbox_events") == 3
        await asyncio.to_thread(migrations.downgrade, scratch_url, KEY_WRITES)
        assert await conn.fetchval(unique) == 1
    finally:
        await conn.close()
