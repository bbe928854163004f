"""Refresh-token families. A refresh token is opaque (random), stored only as its SHA-256,
and single use: every refresh rotates it inside its family. Presenting a token that was
already used means it leaked: the whole family is revoked (RFC 9700 4.14.2).

Store keys: ``rt:<hash>`` live token -> family; ``ru:<hash>`` used token -> family;
``rf:<family>`` live family -> subject; ``rs:<family>`` revoked family (access tokens
carrying it as ``sid`` are refused); ``gen:<subject>`` session generation (auth.py).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from app.core.crypto import token_hash
from app.core.principal import Principal, PrincipalKind
from app.identity import hooks
from app.identity.auth import current_generation, generation_key, revoked_session_key
from app.identity.errors import InvalidRefreshToken
from app.identity.runtime import IdentityRuntime
from app.identity.standing import may_hold_session
from app.identity.tokens import issue_access_token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    principal: Principal


def _principal_data(principal: Principal) -> dict[str, Any]:
    return {"kind": principal.kind.value, "id": principal.id, "roles": sorted(principal.roles)}


def _principal_from(data: dict[str, Any]) -> Principal:
    return Principal(PrincipalKind(data["kind"]), id=data["id"], roles=frozenset(data["roles"]))


async def _new_refresh(runtime: IdentityRuntime, family: str, data: dict[str, Any]) -> str:
    token = "rt_" + secrets.token_urlsafe(32)
    ttl = runtime.settings.refresh_token_ttl_seconds
    await runtime.store.put(f"rt:{token_hash(token)}", {**data, "family": family}, ttl)
    return token


def _expiry(runtime: IdentityRuntime) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=runtime.settings.access_token_ttl_seconds)


async def _player_session(
    runtime: IdentityRuntime, principal: Principal, kind: Literal["start", "refresh"],
    family: str,
) -> str | None:  # fmt: skip
    """Tell the session listeners (play sessions) and read the restriction the new access
    token carries; nothing for staff and services."""
    if principal.kind is not PrincipalKind.PLAYER or not hooks.has_session_hooks():
        return None
    change = hooks.SessionChange(kind, principal.id, family, _expiry(runtime))
    async with runtime.db.transaction() as session:
        await hooks.session_changed(session, runtime.settings, change)
        return await hooks.restriction_of(session, str(principal.id))


async def _session_ended(runtime: IdentityRuntime, change: hooks.SessionChange) -> None:
    if hooks.has_session_hooks():
        async with runtime.db.transaction() as session:
            await hooks.session_changed(session, runtime.settings, change)


async def start_session(
    runtime: IdentityRuntime, principal: Principal, methods: tuple[str, ...]
) -> TokenPair:
    """A new family: an access token and its first refresh token."""
    family = secrets.token_urlsafe(16)
    generation = await current_generation(runtime, principal.key)
    restriction = await _player_session(runtime, principal, "start", family)
    auth_time = int(time.time())
    data = {"principal": _principal_data(principal), "generation": generation,
            "methods": list(methods), "created": auth_time}  # fmt: skip
    await runtime.store.put(f"rf:{family}", data, runtime.settings.refresh_token_ttl_seconds)
    refresh = await _new_refresh(runtime, family, data)
    access, expires_in = await issue_access_token(
        principal, runtime.keyring, runtime.settings,
        session_id=family, methods=methods, generation=generation, auth_time=auth_time,
        restriction=restriction,
    )  # fmt: skip
    return TokenPair(access, refresh, expires_in, family, principal)


async def revoke_family(runtime: IdentityRuntime, family: str) -> None:
    settings = runtime.settings
    await runtime.store.delete(f"rf:{family}")
    runtime.revocations.evict(revoked_session_key(family))
    await runtime.store.put(
        revoked_session_key(family), {"revoked": int(time.time())},
        settings.access_token_ttl_seconds + settings.token_leeway_seconds,
    )  # fmt: skip
    await _session_ended(runtime, hooks.SessionChange("end", None, family))


async def refresh(runtime: IdentityRuntime, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is consumed atomically; a second use revokes the family."""
    digest = token_hash(refresh_token)
    ttl = runtime.settings.refresh_token_ttl_seconds
    current = await runtime.store.get(f"rt:{digest}")
    if current is not None:
        # Marked used BEFORE it is consumed: of two concurrent uses, the one that loses the
        # take below always finds the mark, so a reuse revokes the family even in a race.
        await runtime.store.put(f"ru:{digest}", {"family": current["family"]}, ttl)
    data = await runtime.store.take(f"rt:{digest}")
    if data is None:
        used = await runtime.store.get(f"ru:{digest}")
        if used is not None:
            await revoke_family(runtime, used["family"])
            raise InvalidRefreshToken("the refresh token was already used; the session is revoked")
        raise InvalidRefreshToken()
    family = data["family"]
    live = await runtime.store.get(f"rf:{family}")
    principal = _principal_from(data["principal"])
    revoked = await runtime.store.get(revoked_session_key(family))
    if live is None or revoked is not None:
        raise InvalidRefreshToken("the session has ended")
    if data["generation"] < await current_generation(runtime, principal.key):
        raise InvalidRefreshToken("the session has ended")
    if not await may_hold_session(runtime.db, principal):
        # Blocked, closed or deleted since sign-in: the family ends here too.
        await revoke_family(runtime, family)
        raise InvalidRefreshToken("the account can no longer sign in")
    await runtime.store.put(f"rf:{family}", live, ttl)
    new_refresh = await _new_refresh(runtime, family, live)
    if await runtime.store.get(revoked_session_key(family)) is not None:
        # A concurrent reuse revoked the family while this call was between its checks and
        # the put above (which would otherwise bring the family back): it ends here too.
        await runtime.store.delete(f"rf:{family}", f"rt:{token_hash(new_refresh)}")
        raise InvalidRefreshToken("the refresh token was already used; the session is revoked")
    methods = tuple(data.get("methods", ()))
    restriction = await _player_session(runtime, principal, "refresh", family)
    access, expires_in = await issue_access_token(
        principal, runtime.keyring, runtime.settings,
        session_id=family, methods=methods, generation=data["generation"],
        auth_time=int(live.get("created", 0)) or None, restriction=restriction,
    )  # fmt: skip
    return TokenPair(access, new_refresh, expires_in, family, principal)


async def end_everywhere(runtime: IdentityRuntime, subject: str) -> None:
    """Every session and access token of ``subject`` stops working."""
    generation = await current_generation(runtime, subject)
    runtime.revocations.evict(generation_key(subject))
    await runtime.store.put(
        generation_key(subject), {"n": generation + 1}, runtime.settings.refresh_token_ttl_seconds
    )
    kind, _, ident = subject.partition(":")
    if kind == PrincipalKind.PLAYER.value:
        await _session_ended(runtime, hooks.SessionChange("end_all", ident, None))


async def end_account_sessions(runtime: IdentityRuntime, subject: str, reason: str) -> None:
    """THE entry point for other domains (account status changes, erasure, responsible
    gambling's self-exclusion): every session of ``subject`` ends at once on every replica.

    Access tokens are refused by every gate within ``revocation_cache_seconds`` (shared via
    the session store), refresh tokens fail, and open subscriptions close within
    ``ws_session_check_seconds``. Safe to call twice.
    """
    await end_everywhere(runtime, subject)
    log.info("ended every session of %s: %s", subject, reason)
