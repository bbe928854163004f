"""Whether personal data may still be written for a player: not after their erasure.
Writers of personal values (profiles, anti-fraud telemetry) ask here, under the player
row lock that erasure takes, so one that waited for an erasure sees it."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# FOR SHARE waits for an erasure under way (it holds FOR NO KEY UPDATE) and is taken
# before the check, whose own statement then reads after that erasure committed.
_LOCK = text("SELECT 1 FROM players WHERE id = :p FOR SHARE")
_ERASED = text("SELECT EXISTS (SELECT 1 FROM gdpr_erasures WHERE player_id = :p)")


async def is_erased(session: AsyncSession, player_id: uuid.UUID, *, lock: bool = True) -> bool:
    """True once the player was erased. ``lock=False`` when the caller already holds the
    player row locked (FOR NO KEY UPDATE or stronger)."""
    if lock:
        await session.execute(_LOCK, {"p": player_id})
    return bool(await session.scalar(_ERASED, {"p": player_id}))
