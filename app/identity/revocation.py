"""Per-process caches in front of the session store: verified access-token claims and
revocation facts. They depend only on the store, key ring and settings (not on the
runtime that owns them), so ``runtime.py`` builds them without importing ``auth.py``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from app.core.settings import Settings
from app.identity.keys import KeyRing
from app.identity.store import SessionStore
from app.identity.tokens import AccessClaims, verify_access_token


class RevocationCache:
    """Revocation facts looked up in the session store, kept for ``ttl`` seconds in this
    process: every authenticated request needs them, and a store round trip on each request
    cost the money path a tenth of its throughput (bench/README.md). A logout through this
    replica evicts at once; another replica sees it within ``ttl`` (default 1 s)."""

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}

    async def get_many(self, store: SessionStore, keys: list[str]) -> list[Any]:
        now = time.monotonic()
        cached = [self._entries.get(k) for k in keys]
        if self.ttl > 0 and all(c is not None and c[0] > now for c in cached):
            return [c[1] for c in cached if c is not None]
        found = await store.get_many(keys)
        if self.ttl > 0:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            for key, value in zip(keys, found, strict=True):
                self._entries[key] = (now + self.ttl, value)
        return found

    def evict(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)


class VerifiedTokens:
    """Claims of access tokens this process has already verified, until they expire.

    Parsing and checking a JWT cost about 0.6 ms, a tenth of a money mutation's time in the
    server; a client sends the same token with every request. Only a token whose signature
    and claims passed is kept, keyed by its exact text, and its expiry is checked again on
    every use; revocation is looked up every time regardless (``auth.authenticate_token``).
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._claims: dict[str, AccessClaims] = {}

    async def verify(self, token: str, keyring: KeyRing, settings: Settings) -> AccessClaims:
        claims = self._claims.get(token)
        if claims is not None and claims.expires_at > datetime.now(UTC):
            return claims
        claims = await verify_access_token(token, keyring, settings)
        if len(self._claims) >= self.max_entries:
            self._claims.clear()
        self._claims[token] = claims
        return claims
