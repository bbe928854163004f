"""Read-only queries on streaming replicas (``PMS_DATABASE_REPLICA_URLS``), with
read-your-writes for the caller that just wrote.

``ReadRouter.target`` picks where one query's reads go: a healthy replica in round
robin, or the primary (``None``) when the caller wrote within
``read_your_writes_seconds`` or no replica is fit. Health is a periodic check per
replica: it must answer, and be no more than ``replica_max_lag_seconds`` behind the
primary (a replica promoted to primary is still fine to read). The recent-writer mark
is a Redis key when Redis is configured, so every worker and app replica sees it;
without Redis it lives in this process only (README "Workers and replicas").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Protocol

from sqlalchemy import text

from app.core import metrics
from app.core.db import Database
from app.core.settings import Settings

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


class RecentWriters(Protocol):
    async def mark(self, caller: str, seconds: float) -> None: ...

    async def wrote_recently(self, caller: str) -> bool: ...

    async def close(self) -> None: ...


class LocalRecentWriters:
    """In-process marks: enough for one process; N processes need Redis."""

    MAX_MARKS = 100_000

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    async def mark(self, caller: str, seconds: float) -> None:
        now = time.monotonic()
        if len(self._until) >= self.MAX_MARKS:
            self._until = {k: t for k, t in self._until.items() if t > now}
        self._until[caller] = now + seconds

    async def wrote_recently(self, caller: str) -> bool:
        until = self._until.get(caller)
        return until is not None and until > time.monotonic()

    async def close(self) -> None:
        return None


class RedisRecentWriters:
    """One key per caller that expires with the window (PX: millisecond windows)."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix = f"{prefix}ryw:"

    async def mark(self, caller: str, seconds: float) -> None:
        await self._redis.set(self._prefix + caller, b"1", px=max(int(seconds * 1000), 1))

    async def wrote_recently(self, caller: str) -> bool:
        return bool(await self._redis.exists(self._prefix + caller))

    async def close(self) -> None:
        await self._redis.aclose()


# The primary's WAL as far as it is flushed (what a replica can have received), read
# just before the replicas, so a replica that has replayed that far is current.
PRIMARY_LSN_SQL = "SELECT pg_current_wal_flush_lsn()::text"
# Lag of a replica: 0 when it has replayed the primary's WAL read before (an idle primary
# commits nothing, so the last replayed commit's age alone would grow without lag), else
# the age of the last commit it replayed (none yet: unknown, taken as too far behind).
REPLICA_LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() OR CAST(:lsn AS text)::pg_lsn IS NULL
         OR pg_last_wal_replay_lsn() >= CAST(:lsn AS text)::pg_lsn THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8,
                  'Infinity'::float8)
END"""


class ReplicaSet:
    """The replicas' pools and their health; ``pick`` is round robin over healthy ones
    (those that answered the last check and are within the lag bound)."""

    def __init__(
        self, urls: tuple[str, ...], *, pool_size: int, check_seconds: float,
        max_lag_seconds: float = 0.0,
    ) -> None:  # fmt: skip
        self.replicas = [
            Database(url, pool_size=pool_size, max_overflow=pool_size, name=f"pms-replica-{i}")
            for i, url in enumerate(urls)
        ]
        self.healthy: list[Database] = []
        self.lagging: set[int] = set()  # indexes of replicas out of rotation for their lag
        self.check_seconds = check_seconds
        self.max_lag_seconds = max_lag_seconds
        self.primary: Database | None = None  # set by start(); no lag bound without it
        self._turn = itertools.count()
        self._loop: asyncio.Task[None] | None = None

    def pick(self) -> Database | None:
        healthy = self.healthy
        if not healthy:
            return None
        return healthy[next(self._turn) % len(healthy)]

    def mark_down(self, replica: Database) -> None:
        """A read on ``replica`` met a connection failure: no reads until it answers a
        check again (the client's retry goes elsewhere at once)."""
        if replica in self.healthy:
            log.warning("read replica %s failed a read; out until the next check",
                        replica.engine.url.host)  # fmt: skip
            self.healthy = [r for r in self.healthy if r is not replica]

    async def check(self) -> None:
        """Ask every replica its lag; only those that answered and are within the bound
        take reads until the next check."""
        lsn = await self._primary_lsn()
        lags = await asyncio.gather(*(_lag(r, lsn) for r in self.replicas))
        for i, lag in enumerate(lags):
            if lag is not None and lsn is not None:  # the primary unknown: keep the state
                self._judge(i, lag)
        healthy = [r for i, (r, lag) in enumerate(zip(self.replicas, lags, strict=True))
                   if lag is not None and i not in self.lagging]  # fmt: skip
        if len(healthy) != len(self.healthy):
            log.warning("read replicas healthy: %d of %d", len(healthy), len(self.replicas))
        self.healthy = healthy

    def _judge(self, i: int, lag: float) -> None:
        """Take replica ``i`` out of rotation past the lag bound, back once within it."""
        metrics.REPLICA_LAG.labels(str(i)).set(lag)
        behind = lag > self.max_lag_seconds
        if behind == (i in self.lagging):
            return
        if behind:
            self.lagging.add(i)
            log.warning("read replica %d lags %.1f s (bound %.1f s): no reads until it "
                        "catches up", i, lag, self.max_lag_seconds)  # fmt: skip
        else:
            self.lagging.discard(i)
            log.warning("read replica %d caught up (lag %.1f s): back in rotation", i, lag)
        metrics.REPLICA_LAGGING.labels(str(i)).set(1 if behind else 0)

    async def _primary_lsn(self) -> str | None:
        if self.primary is None or self.max_lag_seconds <= 0:
            return None
        try:
            async with (
                asyncio.timeout(CHECK_TIMEOUT_SECONDS),
                self.primary.autocommit.connect() as conn,
            ):
                return str((await conn.execute(text(PRIMARY_LSN_SQL))).scalar_one())
        except Exception as exc:  # the primary down: its outage is not the replicas' lag
            log.debug("replica lag check: primary unavailable: %s", exc)
            return None

    async def start(self, primary: Database | None = None) -> None:
        self.primary = primary
        await self.check()
        self._loop = asyncio.create_task(self._check_forever(), name="pms:replica-health")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        await asyncio.gather(*(r.dispose() for r in self.replicas))

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            await self.check()


async def _lag(replica: Database, primary_lsn: str | None) -> float | None:
    """The replica's lag in seconds (0 without a primary position); None: no answer."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), replica.autocommit.connect() as conn:
            lag = (await conn.execute(text(REPLICA_LAG_SQL), {"lsn": primary_lsn})).scalar_one()
    except Exception as exc:  # any failure (refused, timeout, auth): not healthy
        log.debug("read replica %s unhealthy: %s", replica.engine.url.host, exc)
        return None
    return float(lag)


class ReadRouter:
    """Where a caller's read-only query reads, and the mark its writes leave."""

    def __init__(self, replicas: ReplicaSet, writers: RecentWriters, window: float) -> None:
        self.replicas = replicas
        self.writers = writers
        self.window = window

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadRouter | None:
        if not settings.database_replica_urls:
            return None
        replicas = ReplicaSet(
            settings.database_replica_urls,
            pool_size=settings.database_replica_pool_size,
            check_seconds=settings.database_replica_check_seconds,
            max_lag_seconds=settings.replica_max_lag_seconds,
        )
        writers: RecentWriters
        if settings.redis_url:
            writers = RedisRecentWriters(settings.redis_url, settings.redis_key_prefix)
        else:
            if settings.read_your_writes_seconds > 0:
                log.warning("read replicas without PMS_REDIS_URL: read-your-writes holds "
                            "within this process only")  # fmt: skip
            writers = LocalRecentWriters()
        return cls(replicas, writers, settings.read_your_writes_seconds)

    async def target(self, caller: str | None) -> Database | None:
        """A replica for this caller's query, or None for the primary (also when the
        recent-writer store cannot answer: the primary is always correct)."""
        if caller is not None and self.window > 0:
            try:
                if await self.writers.wrote_recently(caller):
                    return None
            except Exception:
                log.warning("read-your-writes store unavailable; reading the primary")
                return None
        return self.replicas.pick()

    async def wrote(self, caller: str | None) -> None:
        if caller is None or self.window <= 0:
            return
        try:
            await self.writers.mark(caller, self.window)
        except Exception:
            log.warning("read-your-writes store unavailable; %s may read stale data", caller)

    async def start(self, primary: Database | None = None) -> None:
        """Start the health checks; ``primary`` is what the replicas' lag is measured to."""
        await self.replicas.start(primary)

    async def stop(self) -> None:
        await self.replicas.stop()
        await self.writers.close()
