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
# For a caller that may change the player row later (a status change): the lock that
# change takes, taken now. FOR SHARE then NO KEY UPDATE is an upgrade, and two
# transactions upgrading one row deadlock (each waits for the other's SHARE).
_LOCK_FOR_WRITE = text("SELECT 1 FROM players WHERE id = :p FOR NO KEY UPDATE")
_ERASED = text("SELECT EXISTS (SELECT 1 FROM gdpr_erasures WHERE player_id = :p)")
_LOCK_MANY = text("SELECT 1 FROM players WHERE id = ANY(:ps) ORDER BY id FOR SHARE")
_LOCK_MANY_FOR_WRITE = text(
    "SELECT 1 FROM players WHERE id = ANY(:ps) ORDER BY id FOR NO KEY UPDATE"
)
_ERASED_AMONG = text("SELECT player_id FROM gdpr_erasures WHERE player_id = ANY(:ps)")


async def is_erased(
    session: AsyncSession, player_id: uuid.UUID, *, lock: bool = True, for_write: bool = False
) -> bool:
    """True once the player was erased. ``lock=False`` when the caller already holds the
    player row locked (FOR NO KEY UPDATE or stronger); ``for_write=True`` takes that lock
    here instead of FOR SHARE, when the player row may be written in this transaction."""
    if lock:
        await session.execute(_LOCK_FOR_WRITE if for_write else _LOCK, {"p": player_id})
    return bool(await session.scalar(_ERASED, {"p": player_id}))


async def erased_among(
    session: AsyncSession, player_ids: list[uuid.UUID], *, lock: bool = True,
    for_write: bool = False,
) -> set[uuid.UUID]:  # fmt: skip
    """The erased ones of many players (``is_erased`` of a batch: one lock statement, in id
    order as every batch writer takes them, and one look-up; ``for_write`` as there)."""
    if not player_ids:
        return set()
    ids = sorted(player_ids)
    if lock:
        await session.execute(_LOCK_MANY_FOR_WRITE if for_write else _LOCK_MANY, {"ps": ids})
    return set((await session.execute(_ERASED_AMONG, {"ps": ids})).scalars())
