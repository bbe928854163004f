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
