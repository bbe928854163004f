"""Redis cache of hot player profiles (player by id), never stale after a commit.

Invalidation: every ``Database.transaction()`` that changed a player (``mark_changed``,
done by ``outbox.record``) bumps the player's generation and deletes the cached copy
*after commit and before the caller answers*; the outbox relay does the same for every
event it delivers (a backstop for writers outside ``transaction()``), and a short TTL
bounds anything else. A reader fills the cache only if the generation it saw before
reading PostgreSQL is still current (one Lua script), so a read that raced a write can
never put the old row back. Without Redis there is no cache: with several replicas an
in-process copy could not be invalidated everywhere.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from app.core.settings import Settings
from app.players.models import Player

log = logging.getLogger(__name__)

_FILL_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""

_PRIVATE = {"password_hash"}  # never leaves PostgreSQL


def _dump(row: Player) -> str:
    data = row.model_dump(exclude=_PRIVATE)
    return json.dumps(data, default=str)


def _load(raw: bytes | str) -> Player:
    data: dict[str, Any] = json.loads(raw)
    data["id"] = uuid.UUID(data["id"])
    data["birth_date"] = date.fromisoformat(data["birth_date"])
    for key in ("created_at", "updated_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    player = Player(**data, password_hash="")
    return player


def _generation(raw: bytes | str | None) -> str:
    """The counter as stored (bytes: the client does not decode); 0 when never bumped."""
    if raw is None:
        return "0"
    return raw.decode() if isinstance(raw, bytes) else raw


class PlayerCache:
    def __init__(self, redis_url: str | None, ttl_seconds: int, prefix: str = "pms:player") -> None:
        self._redis = aioredis.Redis.from_url(redis_url) if redis_url else None
        self.ttl = ttl_seconds
        self.prefix = prefix
        self._fill = self._redis.register_script(_FILL_IF_CURRENT) if self._redis else None
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    def _keys(self, player_id: str) -> tuple[str, str]:
        return f"{self.prefix}:{player_id}", f"{self.prefix}:gen:{player_id}"

    async def get(
        self, player_id: uuid.UUID, load: Callable[[], Awaitable[Player | None]]
    ) -> Player | None:
        if self._redis is None or self._fill is None:
            return await load()
        value_key, gen_key = self._keys(str(player_id))
        try:
            cached, generation = await self._redis.mget(value_key, gen_key)
        except RedisError:
            log.warning("player cache unavailable; reading PostgreSQL", exc_info=True)
            return await load()
        if cached is not None:
            self.hits += 1
            return _load(cached)
        self.misses += 1
        row = await load()
        if row is not None:
            seen = _generation(generation)
            try:
                await self._fill(keys=[value_key, gen_key], args=[seen, _dump(row), self.ttl])
            except RedisError:
                log.warning("player cache fill failed", exc_info=True)
        return row

    async def invalidate(self, player_ids: Iterable[str]) -> None:
        if self._redis is None:
            return
        pipe = self._redis.pipeline(transaction=False)
        for player_id in player_ids:
            value_key, gen_key = self._keys(player_id)
            pipe.incr(gen_key)
            # Outlives any read in flight; an expired counter restarts at 0, which a
            # reader that saw a higher number never matches.
            pipe.expire(gen_key, max(300, self.ttl * 10))
            pipe.delete(value_key)
        try:
            await pipe.execute()
        except RedisError:
            # The TTL is the backstop; a failed invalidation is logged loudly.
            log.error("player cache invalidation failed", exc_info=True)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def from_settings(settings: Settings) -> PlayerCache:
    """The cache the events runtime keeps fresh (registered by ``pms.hooks``)."""
    return PlayerCache(settings.redis_url, settings.player_cache_ttl_seconds)
