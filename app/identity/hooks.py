"""Sign-in hooks: other packages ask for a second factor on a player's next sign-in (fraud),
follow a player's sessions and name the restriction their tokens carry (responsible
gambling) without identity importing them; the composition root registers them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings

# (session, player id) -> must this sign-in pass a second factor?
StepUpCheck = Callable[[AsyncSession, str], Awaitable[bool]]

_step_up_checks: list[StepUpCheck] = []


def register_step_up_check(check: StepUpCheck) -> None:
    """Idempotent: a check registered twice runs once."""
    if check not in _step_up_checks:
        _step_up_checks.append(check)


async def step_up_required(session: AsyncSession, player_id: str) -> bool:
    for check in _step_up_checks:
        if await check(session, player_id):
            return True
    return False


# --- player sessions -------------------------------------------------------------------
# Responsible gambling keeps play sessions (login to logout / token expiry) and puts its
# restriction (a break, a self-exclusion) into the access token; identity does not import
# it: the composition root registers these.


@dataclass(frozen=True)
class SessionChange:
    """A player's sign-in session started, was refreshed, or ended (``session_id`` None:
    every session of the player ended at once)."""

    kind: Literal["start", "refresh", "end", "end_all"]
    player_id: str | None
    session_id: str | None
    expires_at: datetime | None = None


SessionListener = Callable[[AsyncSession, Settings, SessionChange], Awaitable[None]]
# (session, player id) -> the gambling restriction the access token carries, or None.
RestrictionCheck = Callable[[AsyncSession, str], Awaitable[str | None]]

_session_listeners: list[SessionListener] = []
_restriction_checks: list[RestrictionCheck] = []


def register_session_listener(listener: SessionListener) -> None:
    if listener not in _session_listeners:
        _session_listeners.append(listener)


def register_restriction_check(check: RestrictionCheck) -> None:
    if check not in _restriction_checks:
        _restriction_checks.append(check)


def has_session_hooks() -> bool:
    return bool(_session_listeners or _restriction_checks)


async def session_changed(session: AsyncSession, settings: Settings, change: SessionChange) -> None:
    for listener in _session_listeners:
        await listener(session, settings, change)


async def restriction_of(session: AsyncSession, player_id: str) -> str | None:
    for check in _restriction_checks:
        found = await check(session, player_id)
        if found is not None:
            return found
    return None
