"""What identity keeps for the life of a process: the key ring, the session store and the
SMS sender. Built lazily on first use, since tests hand the app a database after creation."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from app.core.db import Database
from app.core.settings import Settings
from app.identity.keys import KeyRing
from app.identity.revocation import RevocationCache, VerifiedTokens
from app.identity.sms import SmsSender, check_sender_allowed, sender_from_settings
from app.identity.store import PostgresStore, RedisStore, SessionStore


class IdentityRuntime:
    def __init__(self, db: Callable[[], Database], settings: Settings) -> None:
        self._db = db
        self.settings = settings

    @property
    def db(self) -> Database:
        return self._db()

    @cached_property
    def keyring(self) -> KeyRing:
        return KeyRing(self.db, self.settings)

    @cached_property
    def store(self) -> SessionStore:
        if self.settings.redis_url:
            return RedisStore(self.settings.redis_url, self.settings.redis_key_prefix)
        return PostgresStore(self.db)

    @cached_property
    def verified_tokens(self) -> VerifiedTokens:
        return VerifiedTokens()

    @cached_property
    def revocations(self) -> RevocationCache:
        return RevocationCache(self.settings.revocation_cache_seconds)

    @cached_property
    def sms(self) -> SmsSender:
        return sender_from_settings(self.settings, self.db)

    async def start(self) -> None:
        check_sender_allowed(self.settings)  # fail at startup, not at the first SMS
        await self.keyring.load()

    async def stop(self) -> None:
        if "store" in self.__dict__:
            await self.store.close()
