"""Turning a bearer token into a Principal: signature and claims (tokens.py), then the
revocations kept in the session store (logout of one session, logout everywhere)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.core.principal import Principal
from app.identity.tokens import AccessClaims, InvalidToken, verify_access_token

if TYPE_CHECKING:  # runtime.py builds the RevocationCache defined here
    from app.identity.runtime import IdentityRuntime


def revoked_session_key(session_id: str) -> str:
    return f"rs:{session_id}"


def generation_key(subject: str) -> str:
    return f"gen:{subject}"


def generation_of(value: Any) -> int:
    """A subject's session generation as stored (absent = 0)."""
    if isinstance(value, dict):
        return int(value.get("n", 0))
    return 0


async def current_generation(runtime: IdentityRuntime, subject: str) -> int:
    return generation_of(await runtime.store.get(generation_key(subject)))


class RevocationCache:
    """Revocation facts looked up in the session store, kept for ``ttl`` seconds in this
    process: every authenticated request needs them, and a store round trip on each request
    cost the money path a tenth of its throughput (bench/README.md). A logout through this
    replica evicts at once; another replica sees it within ``ttl`` (default 1 s)."""

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}

    async def get_many(self, runtime: IdentityRuntime, keys: list[str]) -> list[Any]:
        now = time.monotonic()
        cached = [self._entries.get(k) for k in keys]
        if self.ttl > 0 and all(c is not None and c[0] > now for c in cached):
            return [c[1] for c in cached if c is not None]
        found = await runtime.store.get_many(keys)
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
    every use; revocation is looked up every time regardless (``authenticate_token``).
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._claims: dict[str, AccessClaims] = {}

    async def verify(self, token: str, runtime: IdentityRuntime) -> AccessClaims:
        claims = self._claims.get(token)
        if claims is not None and claims.expires_at > datetime.now(UTC):
            return claims
        claims = await verify_access_token(token, runtime.keyring, runtime.settings)
        if len(self._claims) >= self.max_entries:
            self._claims.clear()
        self._claims[token] = claims
        return claims


async def authenticate_token(token: str, runtime: IdentityRuntime) -> AccessClaims:
    """Verified, unrevoked claims of an access token, or ``InvalidToken``/``TokenExpired``."""
    claims = await runtime.verified_tokens.verify(token, runtime)
    keys = [generation_key(claims.principal.key)]
    if claims.session_id:
        keys.append(revoked_session_key(claims.session_id))
    found = await runtime.revocations.get_many(runtime, keys)
    if claims.generation < generation_of(found[0]):
        raise InvalidToken("the session was ended")
    if len(found) > 1 and found[1] is not None:
        raise InvalidToken("the session was ended")
    return claims


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None if there is no header;
    InvalidToken if the header is not a bearer token."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("expected 'Authorization: Bearer <token>'")
    return token.strip()


async def principal_from_header(
    authorization: str | None, runtime: IdentityRuntime
) -> tuple[Principal, AccessClaims | None]:
    token = bearer_token(authorization)
    if token is None:
        return Principal.anonymous(), None
    claims = await authenticate_token(token, runtime)
    return claims.principal, claims
