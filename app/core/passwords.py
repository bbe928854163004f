"""Password hashing with argon2id. Hashing is CPU-bound, so it runs in a worker thread
to keep the event loop serving other requests."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.settings import Settings


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
    )


def hasher_for(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_cost_kib, settings.argon2_parallelism
    )


async def hash_password(password: str, settings: Settings) -> str:
    return await asyncio.to_thread(hasher_for(settings).hash, password)


async def verify_password(password_hash: str, password: str, settings: Settings) -> bool:
    def verify() -> bool:
        try:
            return hasher_for(settings).verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
