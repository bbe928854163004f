"""Suppression checks other domains contribute (responsible gambling: cooling-off, for
example), registered by the composition root: a player any check names is exported as
suppressed, never as marketable."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

# (session, player ids) -> {player id: reason} for the players the check suppresses.
SuppressionCheck = Callable[[AsyncSession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, str]]]

_checks: dict[str, SuppressionCheck] = {}


def register_suppression(name: str, check: SuppressionCheck) -> None:
    """One check per name (registering again replaces it, so wiring twice is harmless)."""
    _checks[name] = check


async def suppressed(session: AsyncSession, player_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    found: dict[uuid.UUID, str] = {}
    for name in sorted(_checks):
        for player_id, reason in (await _checks[name](session, player_ids)).items():
            found.setdefault(player_id, reason)
    return found
