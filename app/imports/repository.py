"""Every SQL statement of the imports: player and static-segment look-ups, import rows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, Uuid, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.imports.models import MarketingImport, MarketingImportBatch
from app.players.models import Player
from app.segments.models import Segment, SegmentKind

# Look-ups take whole files (100k rows and more): one array parameter, not one
# parameter per value (PostgreSQL's protocol allows 32,767).


def _array(values: list[Any], item: Any) -> Any:
    return any_(bindparam("values", values, type_=ARRAY(item)))


async def players_by_id(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await session.execute(select(col(Player.id)).where(col(Player.id) == _array(ids, Uuid)))
    return set(rows.scalars())


async def lock_players(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Lock the players' rows in id order (the order every batch writer takes them). NO KEY
    UPDATE: it keeps erasure out and is what the batch's writes take anyway, while a bet's
    foreign-key checks (KEY SHARE) on these players do not wait for the batch."""
    stmt = select(col(Player.id)).where(col(Player.id) == _array(ids, Uuid))
    await session.execute(stmt.order_by(col(Player.id)).with_for_update(key_share=True))


async def players_by_email(session: AsyncSession, emails: list[str]) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(col(Player.email), col(Player.id)).where(col(Player.email) == _array(emails, String))
    )
    return {email: player_id for email, player_id in rows}


async def players_by_login(session: AsyncSession, logins: list[str]) -> dict[str, uuid.UUID]:
    lowered = func.lower(col(Player.login))
    rows = await session.execute(
        select(lowered, col(Player.id)).where(lowered == _array(logins, String))
    )
    return {login: player_id for login, player_id in rows}


async def static_segments(session: AsyncSession, names: list[str]) -> dict[str, uuid.UUID]:
    rows = await session.execute(
        select(col(Segment.name), col(Segment.id)).where(
            col(Segment.name).in_(names), col(Segment.kind) == SegmentKind.STATIC.value
        )
    )
    return {name: segment_id for name, segment_id in rows}


async def claim(
    session: AsyncSession, import_id: str, digest: str, actor: str, report: dict[str, Any],
    batch_size: int, plan: dict[str, Any],
) -> MarketingImport:  # fmt: skip
    """Record the import (its report, batch size and plan) or find the one recorded
    before (a concurrent confirmation waits here until the first commits, then sees it)."""
    await session.execute(
        pg_insert(MarketingImport)
        .values(
            id=import_id,
            file_sha256=digest,
            created_by=actor,
            report=report,
            batch_size=batch_size,
            plan=plan,
        )
        .on_conflict_do_nothing()
    )
    found = await get(session, import_id)
    assert found is not None
    return found


async def claim_batch(session: AsyncSession, import_id: str, batch: int, players: int) -> bool:
    """True: this transaction applies ``batch`` (False: it was applied, or a concurrent
    confirmation applies it: this insert waits for that one to commit)."""
    inserted = await session.execute(
        pg_insert(MarketingImportBatch)
        .values(import_id=import_id, batch=batch, players=players)
        .on_conflict_do_nothing()
        .returning(col(MarketingImportBatch.batch))
    )
    return inserted.first() is not None


async def complete(session: AsyncSession, import_id: str) -> bool:
    """Mark the import applied; True for the one call that did."""
    done = await session.execute(
        update(MarketingImport)
        .where(col(MarketingImport.id) == import_id, col(MarketingImport.completed_at).is_(None))
        .values(completed_at=func.now())
        .returning(col(MarketingImport.id))
    )
    return done.first() is not None


async def get(session: AsyncSession, import_id: str) -> MarketingImport | None:
    return await session.get(MarketingImport, import_id, populate_existing=True)
