"""Turning a bearer token into a Principal: signature and claims (tokens.py), then the
revocations kept in the session store (logout of one session, logout everywhere); the
per-process caches in front of both live in revocation.py."""

from __future__ import annotations

from typing import Any

from app.core.principal import Principal
from app.identity.runtime import IdentityRuntime
from app.identity.tokens import AccessClaims, InvalidToken


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


async def authenticate_token(token: str, runtime: IdentityRuntime) -> AccessClaims:
    """Verified, unrevoked claims of an access token, or ``InvalidToken``/``TokenExpired``."""
    claims = await runtime.verified_tokens.verify(token, runtime.keyring, runtime.settings)
    keys = [generation_key(claims.principal.key)]
    if claims.session_id:
        keys.append(revoked_session_key(claims.session_id))
    found = await runtime.revocations.get_many(runtime.store, keys)
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
