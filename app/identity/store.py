"""Session state with expiry: refresh-token families, MFA challenges, throttling counters
and revocations. One interface, two implementations: Redis when ``PMS_REDIS_URL`` is set
(shared by every replica, fast), otherwise a PostgreSQL table (shared too, no Redis needed).
Every operation the callers rely on for safety (``take``, ``add``, ``incr``) is atomic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import text

from app.core.db import Database


class SessionStore(Protocol):
    async def put(self, key: str, value: dict[str, Any], ttl: int) -> None: ...

    async def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        """Store only if absent (or expired); whether it was stored."""
        ...

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]: ...

    async def take(self, key: str) -> dict[str, Any] | None:
        """Get and delete in one step: of two concurrent callers only one gets the value."""
        ...

    async def delete(self, *keys: str) -> None: ...

    async def incr(self, key: str, ttl: int) -> int:
        """Add one to a counter; a new counter expires ``ttl`` seconds after its first hit."""
        ...

    async def ttl(self, key: str) -> int:
        """Seconds until ``key`` expires; 0 if it does not exist."""
        ...

    async def close(self) -> None: ...


class RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        await self._redis.set(self._k(key), json.dumps(value), ex=max(ttl, 1))

    async def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        return bool(await self._redis.set(self._k(key), json.dumps(value), ex=max(ttl, 1), nx=True))

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self._redis.get(self._k(key))
        return json.loads(raw) if raw is not None else None

    async def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        raws = await self._redis.mget([self._k(k) for k in keys])
        return [json.loads(r) if r is not None else None for r in raws]

    async def take(self, key: str) -> dict[str, Any] | None:
        raw = await self._redis.getdel(self._k(key))
        return json.loads(raw) if raw is not None else None

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._k(k) for k in keys))

    async def incr(self, key: str, ttl: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._k(key))
            pipe.expire(self._k(key), max(ttl, 1), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def ttl(self, key: str) -> int:
        return max(int(await self._redis.ttl(self._k(key))), 0)

    async def close(self) -> None:
        await self._redis.aclose()


class PostgresStore:
    """The same on the ``session_state`` table. Expired rows are ignored by every read and
    overwritten by writes; ``purge_expired`` removes them (periodic task)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _expiry(ttl: int) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=max(ttl, 1))

    async def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO session_state (key, value, expires_at) VALUES (:k, :v, :e) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                    "expires_at = EXCLUDED.expires_at"
                ),
                {"k": key, "v": json.dumps(value), "e": self._expiry(ttl)},
            )

    async def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                text(
                    "INSERT INTO session_state (key, value, expires_at) VALUES (:k, :v, :e) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                    "expires_at = EXCLUDED.expires_at WHERE session_state.expires_at <= now() "
                    "RETURNING key"
                ),
                {"k": key, "v": json.dumps(value), "e": self._expiry(ttl)},
            )
            return result.first() is not None

    async def get(self, key: str) -> dict[str, Any] | None:
        return (await self.get_many([key]))[0]

    async def get_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []
        # Autocommit: one statement, one round trip (every authenticated request may
        # come here when its revocation facts are not cached).
        async with self._db.autocommit.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT key, value FROM session_state "
                    "WHERE key = ANY(:keys) AND expires_at > now()"
                ),
                {"keys": keys},
            )
            found = {row.key: row.value for row in result}
        return [found.get(k) for k in keys]

    async def take(self, key: str) -> dict[str, Any] | None:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                text("DELETE FROM session_state WHERE key = :k RETURNING value, expires_at"),
                {"k": key},
            )
            row = result.first()
        if row is None or row.expires_at <= datetime.now(UTC):
            return None
        value: dict[str, Any] = row.value
        return value

    async def delete(self, *keys: str) -> None:
        if keys:
            async with self._db.engine.begin() as conn:
                await conn.execute(
                    text("DELETE FROM session_state WHERE key = ANY(:keys)"), {"keys": list(keys)}
                )

    async def incr(self, key: str, ttl: int) -> int:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                text(
                    "INSERT INTO session_state (key, value, expires_at) "
                    "VALUES (:k, '{\"n\": 1}'::jsonb, :e) "
                    "ON CONFLICT (key) DO UPDATE SET "
                    "value = CASE WHEN session_state.expires_at <= now() THEN EXCLUDED.value "
                    "ELSE jsonb_build_object('n', (session_state.value->>'n')::bigint + 1) END, "
                    "expires_at = CASE WHEN session_state.expires_at <= now() "
                    "THEN EXCLUDED.expires_at ELSE session_state.expires_at END "
                    "RETURNING (value->>'n')::bigint AS n"
                ),
                {"k": key, "e": self._expiry(ttl)},
            )
            return int(result.scalar_one())

    async def ttl(self, key: str) -> int:
        async with self._db.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT ceil(extract(epoch FROM expires_at - now())) FROM session_state "
                    "WHERE key = :k AND expires_at > now()"
                ),
                {"k": key},
            )
            seconds = result.scalar_one_or_none()
        return int(seconds) if seconds is not None else 0

    async def close(self) -> None:
        return None


async def purge_expired(db: Database) -> int:
    async with db.engine.begin() as conn:
        result = await conn.execute(
            text("DELETE FROM session_state WHERE expires_at <= now() - interval '1 minute'")
        )
        return int(result.rowcount or 0)
