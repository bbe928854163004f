"""Every SQL statement of the imports: player and static-segment look-ups, import rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.imports.models import MarketingImport
from app.players.models import Player
from app.segments.models import Segment, SegmentKind


async def players_by_id(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await session.execute(select(col(Player.id)).where(col(Player.id).in_(ids)))
    return set(rows.scalars())


async def players_by_email(session: AsyncSession, emails: list[str]) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(col(Player.email), col(Player.id)).where(col(Player.email).in_(emails))
    )
    return {email: player_id for email, player_id in rows}


async def players_by_login(session: AsyncSession, logins: list[str]) -> dict[str, uuid.UUID]:
    lowered = func.lower(col(Player.login))
    rows = await session.execute(select(lowered, col(Player.id)).where(lowered.in_(logins)))
    return {login: player_id for login, player_id in rows}


async def static_segments(session: AsyncSession, names: list[str]) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(col(Segment.name), col(Segment.id)).where(
            col(Segment.name).in_(names), col(Segment.kind) == SegmentKind.STATIC.value
        )
    )
    return {name: segment_id for name, segment_id in rows}


async def claim(
    session: AsyncSession, import_id: str, digest: str, actor: str, report: dict[str, Any]
) -> bool:
    """Record the import; False when it was recorded before (a concurrent confirmation
    waits here until the first commits, then sees it)."""
    inserted = await session.execute(
        pg_insert(MarketingImport)
        .values(id=import_id, file_sha256=digest, created_by=actor, report=report)
        .on_conflict_do_nothing()
        .returning(col(MarketingImport.id))
    )
    return inserted.first() is not None


async def get(session: AsyncSession, import_id: str) -> MarketingImport | None:
    return await session.get(MarketingImport, import_id)
