"""JWT access tokens: short-lived, signed with the key ring's current key (``kid`` in the
header), verified with the algorithm pinned and ``iss``/``aud``/``exp``/``nbf`` checked.

Stable API (the realtime WebSocket authentication uses it too)::

    token, expires_in = await issue_access_token(principal, keyring, settings)
    claims = await verify_access_token(token, keyring, settings)  # AccessClaims
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from app.core.errors import DomainError
from app.core.principal import Principal, PrincipalKind
from app.core.settings import Settings
from app.identity.keys import KeyRing

TOKEN_KINDS = {PrincipalKind.PLAYER, PrincipalKind.STAFF, PrincipalKind.SERVICE}


class InvalidToken(DomainError):
    code = "INVALID_TOKEN"

    def __init__(self, message: str = "the access token is invalid") -> None:
        super().__init__(message)


class TokenExpired(InvalidToken):
    code = "TOKEN_EXPIRED"

    def __init__(self, message: str = "the access token has expired") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class AccessClaims:
    principal: Principal
    expires_at: datetime
    issued_at: datetime
    token_id: str
    session_id: str | None = None
    methods: tuple[str, ...] = field(default_factory=tuple)
    # The subject's session generation at issue: logoutEverywhere raises it (auth.py).
    generation: int = 0
    # When the password (+ MFA) check behind this session happened (OIDC ``auth_time``);
    # refreshed tokens keep it, so step-up checks see the real sign-in time.
    auth_time: datetime | None = None
    # A gambling restriction in force when the token was minted (``rg``: BREAK,
    # SELF_EXCLUSION, RETURN_PENDING): the account pages work, gambling operations refuse.
    restriction: str | None = None


async def issue_access_token(
    principal: Principal,
    keyring: KeyRing,
    settings: Settings,
    *,
    session_id: str | None = None,
    methods: tuple[str, ...] = (),
    generation: int = 0,
    auth_time: int | None = None,
    ttl_seconds: int | None = None,
    now: int | None = None,
    restriction: str | None = None,
) -> tuple[str, int]:
    """A signed access token for ``principal`` and its lifetime in seconds."""
    if principal.kind not in TOKEN_KINDS or not principal.id:
        raise ValueError(f"no access token for a {principal.kind} principal")
    kid, algorithm, key = await keyring.signing_key()
    issued = int(time.time()) if now is None else now
    ttl = ttl_seconds or settings.access_token_ttl_seconds
    claims: dict[str, object] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": principal.key,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": secrets.token_urlsafe(12),
    }
    if principal.roles:
        claims["roles"] = sorted(principal.roles)
    if principal.scopes:
        claims["scope"] = " ".join(sorted(principal.scopes))
    if session_id:
        claims["sid"] = session_id
    if methods:
        claims["amr"] = list(methods)
    if generation:
        claims["gen"] = generation
    if auth_time:
        claims["auth_time"] = auth_time
    if restriction:
        claims["rg"] = restriction
    token = jwt.encode({"alg": algorithm, "kid": kid, "typ": "at+jwt"}, claims, key)
    return token, ttl


def _header(token: str) -> dict[str, object]:
    try:
        segment = token.split(".")[0]
        padded = segment + "=" * (-len(segment) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidToken() from None
    if not isinstance(header, dict):
        raise InvalidToken()
    return header


def _principal(claims: dict[str, object]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or ":" not in sub:
        raise InvalidToken()
    kind_text, _, ident = sub.partition(":")
    try:
        kind = PrincipalKind(kind_text)
    except ValueError:
        raise InvalidToken() from None
    if kind not in TOKEN_KINDS or not ident:
        raise InvalidToken()
    roles = claims.get("roles", [])
    scope = claims.get("scope", "")
    if not isinstance(roles, list) or not isinstance(scope, str):
        raise InvalidToken()
    return Principal(
        kind, id=ident, roles=frozenset(map(str, roles)), scopes=frozenset(scope.split())
    )


async def verify_access_token(
    token: str, keyring: KeyRing, settings: Settings, *, now: int | None = None
) -> AccessClaims:
    """The claims of a valid token; ``TokenExpired`` or ``InvalidToken`` otherwise.

    The algorithm comes from our key, never from the token: ``alg: none``, HS256 with the
    public key as secret and every other substitution fail here.
    """
    if len(token) > 4096 or token.count(".") != 2:
        raise InvalidToken()
    header = _header(token)
    kid = header.get("kid")
    if not isinstance(kid, str) or header.get("alg") != settings.token_algorithm:
        raise InvalidToken()
    found = await keyring.verifying_key(kid)
    if found is None:
        raise InvalidToken()
    algorithm, key = found
    try:
        decoded = jwt.decode(token, key, algorithms=[algorithm])
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=settings.token_leeway_seconds,
            iss={"essential": True, "value": settings.token_issuer},
            aud={"essential": True, "value": settings.token_audience},
            sub={"essential": True},
            exp={"essential": True},
            nbf={"essential": True},
            iat={"essential": True},
        )
        registry.validate(decoded.claims)
    except ExpiredTokenError:
        raise TokenExpired() from None
    except (JoseError, ValueError, TypeError):
        raise InvalidToken() from None
    claims = decoded.claims
    sid = claims.get("sid")
    amr = claims.get("amr", [])
    generation = claims.get("gen", 0)
    auth_time = claims.get("auth_time")
    restriction = claims.get("rg")
    return AccessClaims(
        principal=_principal(claims),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        token_id=str(claims.get("jti", "")),
        session_id=sid if isinstance(sid, str) else None,
        methods=tuple(map(str, amr)) if isinstance(amr, list) else (),
        generation=generation if isinstance(generation, int) else 0,
        auth_time=datetime.fromtimestamp(auth_time, UTC) if isinstance(auth_time, int) else None,
        restriction=restriction if isinstance(restriction, str) else None,
    )
