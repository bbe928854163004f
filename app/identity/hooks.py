"""Sign-in hooks: other packages (fraud) ask for a second factor on a player's next sign-in
without identity importing them; the composition root registers the checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

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
