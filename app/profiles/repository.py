"""Every SQL statement of the profiles package (ORM and Core; off the money path)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.players.models import Player
from app.profiles.models import PlayerProfile, PlayerTag, SettingsChange


async def lock_player(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    """The player row, locked and re-read (a concurrent change must not be lost). NO KEY
    UPDATE: a money operation's foreign-key checks on the row do not wait for it."""
    return await session.get(
        Player, player_id, with_for_update={"key_share": True}, populate_existing=True
    )


async def get_profile(session: AsyncSession, player_id: uuid.UUID) -> PlayerProfile | None:
    return await session.get(PlayerProfile, player_id)


async def lock_profile(session: AsyncSession, player_id: uuid.UUID) -> PlayerProfile | None:
    return await session.get(PlayerProfile, player_id, with_for_update=True)


async def replace_tags(session: AsyncSession, player_id: uuid.UUID, tags: list[str]) -> None:
    """Delete the player's tags and add ``tags`` (written at the caller's next flush)."""
    await session.execute(delete(PlayerTag).where(col(PlayerTag.player_id) == player_id))
    session.add_all(PlayerTag(player_id=player_id, tag=t) for t in tags)


async def tags_of(session: AsyncSession, player_id: uuid.UUID) -> list[str]:
    stmt = (
        select(col(PlayerTag.tag))
        .where(col(PlayerTag.player_id) == player_id)
        .order_by(col(PlayerTag.tag))
    )
    return list((await session.execute(stmt)).scalars())


async def history_page(
    session: AsyncSession, player_id: uuid.UUID, limit: int, before_id: int | None
) -> tuple[list[SettingsChange], bool, int]:
    """Newest first, keyset on id; and the total number of changes."""
    stmt = select(SettingsChange).where(col(SettingsChange.player_id) == player_id)
    if before_id is not None:
        stmt = stmt.where(col(SettingsChange.id) < before_id)
    stmt = stmt.order_by(col(SettingsChange.id).desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    total = (
        await session.execute(
            select(func.count())
            .select_from(SettingsChange)
            .where(col(SettingsChange.player_id) == player_id)
        )
    ).scalar_one()
    return rows[:limit], len(rows) > limit, int(total)


_ADD_TAGS = """
WITH wanted AS (
    SELECT * FROM unnest(CAST(:players AS uuid[]), CAST(:tags AS text[])) AS w(player_id, tag)
),
old AS (
    SELECT player_id, array_agg(tag ORDER BY tag) AS tags FROM player_tags
    WHERE player_id = ANY(CAST(:players AS uuid[])) GROUP BY player_id
),
added AS (
    INSERT INTO player_tags (player_id, tag) SELECT player_id, tag FROM wanted
    ON CONFLICT DO NOTHING RETURNING player_id, tag
)
SELECT a.player_id, coalesce(o.tags, '{}') AS old, array_agg(a.tag ORDER BY a.tag) AS added
FROM added a LEFT JOIN old o USING (player_id)
GROUP BY a.player_id, o.tags ORDER BY a.player_id
"""


async def add_tags(
    session: AsyncSession, pairs: list[tuple[uuid.UUID, str]]
) -> list[tuple[uuid.UUID, list[str], list[str]]]:
    """ONE statement: insert the (player, tag) pairs not there yet; (player, old tags,
    added tags) for every player that got one."""
    rows = await session.execute(
        text(_ADD_TAGS), {"players": [p for p, _ in pairs], "tags": [t for _, t in pairs]}
    )
    return [(player_id, list(old), list(added)) for player_id, old, added in rows]


async def tags_of_many(
    session: AsyncSession, player_ids: list[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    rows = await session.execute(
        text("SELECT player_id, tag FROM player_tags WHERE player_id = ANY(CAST(:p AS uuid[]))"),
        {"p": player_ids},
    )
    found: dict[uuid.UUID, set[str]] = {}
    for player_id, tag in rows:
        found.setdefault(player_id, set()).add(tag)
    return found
