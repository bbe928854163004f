"""Read-only queries on streaming replicas (``PMS_DATABASE_REPLICA_URLS``), with
read-your-writes for the caller that just wrote.

``ReadRouter.target`` picks where one query's reads go: a healthy replica in round
robin, or the primary (``None``) when the caller wrote within
``read_your_writes_seconds`` or no replica is healthy. Health is a periodic
``SELECT pg_is_in_recovery()`` per replica (a replica promoted to primary is still fine
to read). The recent-writer mark is a Redis key when Redis is configured, so every worker
and app replica sees it; without Redis it lives in this process only (README "Workers
and replicas").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Protocol

from sqlalchemy import text

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


class ReplicaSet:
    """The replicas' pools and their health; ``pick`` is round robin over healthy ones."""

    def __init__(self, urls: tuple[str, ...], *, pool_size: int, check_seconds: float) -> None:
        self.replicas = [
            Database(url, pool_size=pool_size, max_overflow=pool_size, name=f"pms-replica-{i}")
            for i, url in enumerate(urls)
        ]
        self.healthy: list[Database] = []
        self.check_seconds = check_seconds
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
        """Ping every replica; only those that answered take reads until the next check."""
        answered = await asyncio.gather(*(_answers(r) for r in self.replicas))
        healthy = [r for r, ok in zip(self.replicas, answered, strict=True) if ok]
        if len(healthy) != len(self.healthy):
            log.warning("read replicas healthy: %d of %d", len(healthy), len(self.replicas))
        self.healthy = healthy

    async def start(self) -> None:
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


async def _answers(replica: Database) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), replica.autocommit.connect() as conn:
            await conn.execute(text("SELECT pg_is_in_recovery()"))
    except Exception as exc:  # any failure (refused, timeout, auth): not healthy
        log.debug("read replica %s unhealthy: %s", replica.engine.url.host, exc)
        return False
    return True


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

    async def start(self) -> None:
        await self.replicas.start()

    async def stop(self) -> None:
        await self.replicas.stop()
        await self.writers.close()
