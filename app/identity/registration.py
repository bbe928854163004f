"""Registration's guards: a per-ip rate limit, and equal work for refused and accepted
sign-ups, so neither speed nor volume turns ``AlreadyExists`` (which front ends need)
into a fast enumeration of taken emails and logins."""

from __future__ import annotations

import secrets

from app.core.passwords import hash_password
from app.core.settings import Settings
from app.identity.errors import TooManyAttempts
from app.identity.runtime import IdentityRuntime


async def count_attempt(runtime: IdentityRuntime, ip: str | None) -> None:
    """One registration attempt from ``ip``; ``TooManyAttempts`` past the hourly limit
    (``registrations_per_ip_per_hour``). Counted before any work is done."""
    key = f"reg:ip:{ip or '-'}"
    if await runtime.store.incr(key, 3600) > runtime.settings.registrations_per_ip_per_hour:
        raise TooManyAttempts(max(await runtime.store.ttl(key), 1))


async def equal_work(settings: Settings) -> None:
    """The argon2 hash a refused registration did not compute (an accepted one and an
    ``AlreadyExists`` hash the password before the insert): the same cost either way."""
    await hash_password(secrets.token_urlsafe(16), settings)
