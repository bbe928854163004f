"""Second-factor failures counted per account across sign-in challenges.

Each password sign-in opens a new challenge with its own few tries, so a per-challenge
limit alone lets anyone who knows the password guess codes without end. Past
``mfa_max_failures_per_account`` failures (within ``mfa_failure_window_seconds``) the
account's second factor is locked for ``mfa_lockout_base_seconds``, doubling with each
further failure up to ``mfa_lockout_max_seconds``; every lock writes an audit row and a
``security.mfa_locked`` event (outbox: bus, webhooks, alerting)."""

from __future__ import annotations

import logging

from app.audit import service as audit
from app.events import outbox
from app.identity.errors import TooManyAttempts
from app.identity.runtime import IdentityRuntime

log = logging.getLogger(__name__)
LOCKED_EVENT = "security.mfa_locked"


def _failures_key(subject: str) -> str:
    return f"mfafail:{subject}"


def _lock_key(subject: str) -> str:
    return f"mfalock:{subject}"


async def ensure_unlocked(runtime: IdentityRuntime, subject: str) -> None:
    """``TooManyAttempts`` while the subject's second factor is locked."""
    if await runtime.store.get(_lock_key(subject)) is not None:
        raise TooManyAttempts(max(await runtime.store.ttl(_lock_key(subject)), 1))


def lock_seconds(failures: int, limit: int, base: int, cap: int) -> int:
    """0 below the limit; then base, 2*base, 4*base... per failure past it, at most cap."""
    if failures < limit:
        return 0
    return min(base * (1 << min(failures - limit, 32)), cap)


async def record_failure(runtime: IdentityRuntime, subject: str, actor: audit.Actor) -> int:
    """Count one failure; lock (audit row + alert event) when the limit is reached. Returns
    the lock's length in seconds (0 = not locked)."""
    settings = runtime.settings
    failures = await runtime.store.incr(_failures_key(subject), settings.mfa_failure_window_seconds)
    seconds = lock_seconds(
        failures,
        settings.mfa_max_failures_per_account,
        settings.mfa_lockout_base_seconds,
        settings.mfa_lockout_max_seconds,
    )
    if not seconds:
        return 0
    await runtime.store.put(_lock_key(subject), {"failures": failures}, seconds)
    details = {"failures": failures, "lockedSeconds": seconds}
    async with runtime.db.transaction() as session:
        await audit.record(session, actor, "auth.mfa_locked", subject, audit.DENIED, details)
        await outbox.record(session, LOCKED_EVENT, subject, {"subject": subject, **details})
    log.warning("second factor of %s locked for %ss after %s failures", subject, seconds, failures)
    return seconds


async def clear_failures(runtime: IdentityRuntime, subject: str) -> None:
    await runtime.store.delete(_failures_key(subject))
