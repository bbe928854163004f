"""SQL of the bonus engine (the money statements are the ledger's LOAD and APPLY)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses.models import BonusCampaign, LoyaltyAccount, PlayerBonus

INSERT_BONUS_SQL = """
INSERT INTO player_bonuses (campaign_id, player_id, occurrence_key, kind, status, currency,
                            amount, deposit_amount, wagering_required, contributions, max_bet,
                            max_conversion, forfeit_on_withdrawal, released, granted_by,
                            expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15,
        now() + make_interval(days => $16))
ON CONFLICT (campaign_id, player_id, occurrence_key) DO NOTHING
RETURNING id, expires_at
"""

PLAYER_FACTS_SQL = """
SELECT status, country, confirm_status, currency FROM players WHERE id = $1
"""


@dataclass(frozen=True)
class PlayerFacts:
    status: str
    country: str
    confirm_status: str
    currency: str


async def player_facts(conn: Any, player_id: uuid.UUID) -> PlayerFacts | None:
    row = await conn.fetchrow(PLAYER_FACTS_SQL, player_id)
    return None if row is None else PlayerFacts(**dict(row))


async def in_segments(conn: Any, player_id: uuid.UUID, segment_ids: list[str]) -> bool:
    """Member of any of the campaign's segments (app/segments keeps membership current)."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM segment_members "
        "WHERE player_id = $1 AND segment_id::text = ANY($2::text[]))",
        player_id,
        segment_ids,
    )
    return bool(found)


async def unknown_segments(session: AsyncSession, segment_ids: list[str]) -> list[str]:
    if not segment_ids:
        return []
    rows = await session.execute(
        text("SELECT id::text FROM segments WHERE id::text = ANY(:ids)"), {"ids": segment_ids}
    )
    known = set(rows.scalars())
    return [s for s in segment_ids if s not in known]


async def deposit_campaigns(
    session: AsyncSession, currency: str, promo_code: str | None
) -> list[BonusCampaign]:
    stmt = select(BonusCampaign).where(
        BonusCampaign.status == "ACTIVE",
        BonusCampaign.currency == currency,
        (BonusCampaign.trigger == "FIRST_DEPOSIT")
        | (
            (BonusCampaign.trigger == "DEPOSIT")
            & (
                BonusCampaign.promo_code.is_(None)  # type: ignore[union-attr]
                | (BonusCampaign.promo_code == (promo_code or "").upper())
            )
            & (
                BonusCampaign.promo_expires_at.is_(None)  # type: ignore[union-attr]
                | (BonusCampaign.promo_expires_at > func.now())
            )
        ),
    )
    return list((await session.execute(stmt.order_by(BonusCampaign.id))).scalars())


async def active_campaigns(session: AsyncSession, **where: Any) -> list[BonusCampaign]:
    conditions = [BonusCampaign.status == "ACTIVE"] + [
        getattr(BonusCampaign, k) == v for k, v in where.items()
    ]
    stmt = select(BonusCampaign).where(and_(*conditions)).order_by(BonusCampaign.id)
    return list((await session.execute(stmt)).scalars())


async def list_campaigns(session: AsyncSession, status: str | None) -> list[BonusCampaign]:
    stmt = select(BonusCampaign).order_by(BonusCampaign.id.desc())  # type: ignore[union-attr]
    if status:
        stmt = stmt.where(BonusCampaign.status == status)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class BonusFilter:
    player_id: uuid.UUID | None = None
    status: str | None = None
    campaign_id: int | None = None


async def bonus_page(
    session: AsyncSession, flt: BonusFilter, limit: int, before_id: int | None
) -> tuple[list[PlayerBonus], bool, int]:
    conditions: list[Any] = []
    if flt.player_id is not None:
        conditions.append(PlayerBonus.player_id == flt.player_id)
    if flt.status:
        conditions.append(PlayerBonus.status == flt.status)
    if flt.campaign_id is not None:
        conditions.append(PlayerBonus.campaign_id == flt.campaign_id)
    page = conditions + ([PlayerBonus.id < before_id] if before_id is not None else [])
    stmt = (
        select(PlayerBonus)
        .where(and_(True, *page))
        .order_by(PlayerBonus.id.desc())  # type: ignore[union-attr]
        .limit(limit + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    total = (
        await session.execute(
            select(func.count()).select_from(PlayerBonus).where(and_(True, *conditions))
        )
    ).scalar_one()
    return rows[:limit], len(rows) > limit, int(total)


async def bonuses_for_players(
    session: AsyncSession, player_ids: Sequence[uuid.UUID]
) -> list[PlayerBonus]:
    stmt = (
        select(PlayerBonus)
        .where(PlayerBonus.player_id.in_(player_ids))  # type: ignore[attr-defined]
        .order_by(PlayerBonus.id)
    )
    return list((await session.execute(stmt)).scalars())


async def loyalty(session: AsyncSession, player_id: uuid.UUID) -> LoyaltyAccount | None:
    return await session.get(LoyaltyAccount, player_id)


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
