"""Shared fixtures: a real PostgreSQL with the migrated schema, the ASGI app and clients.

Isolation. Service-level tests use ``session``: one connection inside an outer
transaction that is rolled back, so nothing they write survives them. Tests that go
through the app (HTTP, concurrent transactions, several connections) use ``db``, which
commits for real; its teardown truncates every table, so each test starts from an
empty database whatever ran before it. The app uses many connections at once (sibling
resolvers, DataLoaders, race tests), which one outer transaction cannot cover.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, make_url, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

import app.models
from app.core import migrations
from app.core.db import Database, EmbeddedPostgres, ensure_database_exists, normalize_url
from app.core.settings import Settings
from pms.asgi import create_app
from pms.hooks import register_all
from tests import services
from tests.auth import auth  # noqa: F401  (fixture: real tokens for any principal)

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # xdist's workers (started after this, inheriting the environment) must collect the same
    # tests in the same order, and parametrizations built from sets of strings follow the
    # hash seed: one random seed per run, shared by the workers.
    os.environ.setdefault("PYTHONHASHSEED", str(random.randrange(2**32)))


def pytest_sessionstart(session: pytest.Session) -> None:
    if services.REQUIRE_SERVICES:
        problems = services.missing_required_services()
        if problems:
            pytest.exit("required services missing: " + "; ".join(problems), returncode=3)
    # Service-level tests call domain code without the app or the CLI: wire the hooks
    # (ledger extensions, attribute listeners) the way the composition root does.
    register_all()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database with a freshly migrated schema (dropped and rebuilt for every run); an
    xdist worker's has the worker id appended (the workers share the embedded server: its
    start reuses a running one)."""
    embedded = None
    if services.DATABASE_URL:
        url = normalize_url(services.DATABASE_URL)
    else:
        embedded = EmbeddedPostgres(ROOT / ".pms" / "test")
        url = embedded.start()
    if services.WORKER:
        parsed = make_url(url)
        url = parsed.set(database=f"{parsed.database}_{services.WORKER}").render_as_string(
            hide_password=False
        )
    asyncio.run(_rebuild_schema(url))
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()


async def _rebuild_schema(url: str) -> None:
    await ensure_database_exists(url)
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await database.dispose()
    await asyncio.to_thread(migrations.upgrade, url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return suite_settings(database_url)


def suite_settings(database_url: str) -> Settings:
    """The suite's settings for a database (a module with its own server reuses them)."""
    return Settings(
        _env_file=None,
        env="test",
        database_url=database_url,
        run_background_tasks=False,
        # Cheap hashing in tests; production cost is asserted in a unit test.
        argon2_time_cost=1,
        argon2_memory_cost_kib=1024,
        argon2_parallelism=1,
    )


@pytest.fixture(scope="session")
async def _database(settings: Settings) -> AsyncIterator[Database]:
    # Up to 100 at once as before, but only 10 kept open between tests: both xdist workers
    # share the server's 100 connections (the CI server's too), and one's burst (a race,
    # three `pms serve` pools) needs what the other leaves free.
    database = Database(settings.database_url or "", pool_size=10, max_overflow=90)
    yield database
    await database.dispose()


_TABLES = [t.name for t in SQLModel.metadata.sorted_tables]
# One statement naming the tables that hold a row (EXISTS on an emptied table reads no
# page) and the tables' own sequences that moved since their last restart (a rolled-back
# insert moves one and leaves no row).
_DIRTY = text(
    " UNION ALL ".join(
        f"SELECT 'table', '\"{name}\"' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in _TABLES
    )
    + """ UNION ALL
    SELECT 'sequence', s.oid::regclass::text
    FROM pg_class s
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
         AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_sequences q ON q.schemaname = current_schema() AND q.sequencename = s.relname
    WHERE s.relkind = 'S' AND q.last_value IS NOT NULL AND t.relname = ANY(:tables)"""
).bindparams(tables=_TABLES)


async def truncate_all(database: Database) -> None:
    """Every table empty and every table's sequence restarted, as after ``TRUNCATE`` of
    all of them, but touching only what the test used: a TRUNCATE of the ~80 tables costs
    ~120 ms (new files for every table and index), paid after each of ~3,000 tests."""
    async with database.engine.begin() as conn:
        dirty = (await conn.execute(_DIRTY)).all()
        tables = [name for kind, name in dirty if kind == "table"]
        sequences = [name for kind, name in dirty if kind == "sequence"]
        # The append-only tables refuse TRUNCATE unless the retention switch is on.
        await conn.execute(text("SET LOCAL pms.retention_job = 'on'"))
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        for sequence in sequences:  # the ones no TRUNCATE above restarted (idempotent)
            await conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))


@pytest.fixture
async def db(_database: Database) -> AsyncIterator[Database]:
    """The real database, committing; emptied after the test."""
    yield _database
    await truncate_all(_database)


@pytest.fixture
async def session(_database: Database) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is rolled back after the test."""
    async with _database.engine.connect() as conn:
        outer = await conn.begin()
        async with AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as sess:
            yield sess
        await outer.rollback()


@pytest.fixture(scope="session", autouse=True)
def _one_schema_per_settings() -> Iterator[None]:
    """In-process apps of equal settings share one built schema: building it costs ~0.15 s
    and about a thousand tests make an app (a served process builds one schema, once).
    The key is every setting plus the tracing switch, the other input of ``build_schema``."""
    import pms.asgi
    from app.observability import tracing

    built: dict[tuple[str, bool], Any] = {}
    build = pms.asgi.build_schema

    def shared(settings: Settings) -> Any:
        key = (repr(sorted(vars(settings).items())), bool(tracing._enabled))
        if key not in built:
            built[key] = build(settings)
        return built[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pms.asgi, "build_schema", shared)
        yield


@pytest.fixture
def app(settings: Settings, db: Database) -> Any:
    return create_app(settings, database=db)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        yield http


class GraphQLClient:
    """Posts GraphQL documents through the real ASGI app and returns the JSON body."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


@contextmanager
def count_statements(database: Database) -> Iterator[list[str]]:
    """Collects every SQL statement the engine sends while the block runs."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
