"""Per-process caches in front of the session store: verified access-token claims and
revocation facts. They depend only on the store, key ring and settings (not on the
runtime that owns them), so ``runtime.py`` builds them without importing ``auth.py``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.core.settings import Settings
from app.identity.keys import KeyRing
from app.identity.store import SessionStore
from app.identity.tokens import AccessClaims, TokenExpired, verify_access_token


class RevocationCache:
    """Revocation facts looked up in the session store, kept for ``ttl`` seconds in this
    process: every authenticated request needs them, and a store round trip on each request
    cost the money path a tenth of its throughput (bench/README.md). A logout through this
    replica evicts at once; another replica sees it within ``ttl`` (default 1 s).

    When the facts of a token expire, every request carrying it that arrives before the
    fresh look-up answers would look them up again (32 clients of one game engine: up to 32
    store round trips a second, each waiting for a pooled connection under load: ~3 % of
    a money request's server CPU). Those requests share the one look-up in flight instead
    (it started after the facts expired, so its answer is as fresh as theirs would be). An
    eviction ends the sharing at once: a request after it never joins, and no look-up that
    started before it is cached. A request whose shared look-up failed or was cancelled
    looks up itself, as before."""

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        self._pending: dict[tuple[str, ...], asyncio.Future[list[Any]]] = {}
        self._evictions = 0  # bumped by every evict: look-ups older than it are not cached

    async def get_many(self, store: SessionStore, keys: list[str]) -> list[Any]:
        now = time.monotonic()
        cached = [self._entries.get(k) for k in keys]
        if self.ttl > 0 and all(c is not None and c[0] > now for c in cached):
            return [c[1] for c in cached if c is not None]
        if self.ttl <= 0:
            return await store.get_many(keys)
        shared = tuple(keys)
        pending = self._pending.get(shared)
        if pending is not None:
            try:
                return list(await asyncio.shield(pending))
            except Exception:  # the look-up it shared failed (or its caller was cancelled)
                return await self._lookup(store, keys, now, None)
        pending = self._pending[shared] = asyncio.get_running_loop().create_future()
        return await self._lookup(store, keys, now, pending)

    async def _lookup(
        self,
        store: SessionStore,
        keys: list[str],
        now: float,
        pending: asyncio.Future[list[Any]] | None,
    ) -> list[Any]:
        evictions = self._evictions
        try:
            found = await store.get_many(keys)
        except BaseException:
            if pending is not None:
                self._unshare(tuple(keys), pending)
                pending.set_exception(_SharedLookupFailed())
                pending.exception()  # retrieved: no "never retrieved" warning if none waits
            raise
        if pending is not None:
            self._unshare(tuple(keys), pending)
            pending.set_result(found)
        if evictions == self._evictions:  # no logout here since it started
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            for key, value in zip(keys, found, strict=True):
                self._entries[key] = (now + self.ttl, value)
        return found

    def _unshare(self, shared: tuple[str, ...], pending: asyncio.Future[list[Any]]) -> None:
        if self._pending.get(shared) is pending:
            del self._pending[shared]

    def evict(self, *keys: str) -> None:
        self._evictions += 1
        for key in keys:
            self._entries.pop(key, None)
        gone = set(keys)
        for shared in [s for s in self._pending if gone.intersection(s)]:
            del self._pending[shared]  # its waiters keep it; later requests look up anew


class _SharedLookupFailed(Exception):
    """What the requests sharing a failed look-up see (each then looks up itself)."""


class VerifiedTokens:
    """Claims of access tokens this process has already verified, until they expire.

    Parsing and checking a JWT cost about 0.6 ms, a tenth of a money mutation's time in the
    server; a client sends the same token with every request. Only a token whose signature
    and claims passed is kept, keyed by its exact text, and its expiry (with the same
    leeway as ``verify_access_token``) is checked again on every use; revocation is looked
    up every time regardless (``auth.authenticate_token``).

    Expired tokens are refused from here too: clients keep sending a token after it
    expired (until their refresh lands), and each such request cost a full ES256
    verification. A token is answered ``TokenExpired`` without verifying only if this
    process verified its signature before (kept while valid, or found expired by the full
    check): the cache can only refuse faster, never accept what was not verified, and it
    answers exactly what the full check would.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._claims: dict[str, AccessClaims] = {}
        self._expired: dict[str, None] = {}

    async def verify(self, token: str, keyring: KeyRing, settings: Settings) -> AccessClaims:
        claims = self._claims.get(token)
        if claims is not None:
            if claims.expires_at.timestamp() + settings.token_leeway_seconds > time.time():
                return claims
            del self._claims[token]
            self._remember_expired(token)
            raise TokenExpired()
        if token in self._expired:
            raise TokenExpired()
        try:
            claims = await verify_access_token(token, keyring, settings)
        except TokenExpired:
            self._remember_expired(token)  # its signature was valid (checked first)
            raise
        if len(self._claims) >= self.max_entries:
            self._claims.clear()
        self._claims[token] = claims
        return claims

    def _remember_expired(self, token: str) -> None:
        if len(self._expired) >= self.max_entries:
            self._expired.clear()
        self._expired[token] = None
