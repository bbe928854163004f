"""Every SQL statement of the KYC package (ORM and Core; nothing here is on a hot path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.kyc.models import AWAITING_DECISION, KycCase, KycCaseEvent, KycCaseStatus
from app.players.models import Player


async def lock_player(session: AsyncSession, player_id: uuid.UUID) -> Player | None:
    """The player row, locked and re-read (a concurrent change must not be lost). NO KEY
    UPDATE, the lock the confirmStatus/riskLevel UPDATE takes anyway (the key stays): the
    foreign-key checks (KEY SHARE) of a bet on the player do not wait for a KYC change."""
    return await session.get(
        Player, player_id, with_for_update={"key_share": True}, populate_existing=True
    )


async def lock_case(session: AsyncSession, case_id: uuid.UUID) -> KycCase | None:
    return await session.get(KycCase, case_id, with_for_update=True, populate_existing=True)


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> KycCase | None:
    return await session.get(KycCase, case_id)


async def last_decided_status(
    session: AsyncSession, player_id: uuid.UUID, except_case: uuid.UUID
) -> str | None:
    """The status of the player's newest REJECTED or VERIFIED case other than one."""
    stmt = (
        select(col(KycCase.status))
        .where(
            col(KycCase.player_id) == player_id,
            col(KycCase.id) != except_case,
            col(KycCase.status).in_([KycCaseStatus.REJECTED, KycCaseStatus.VERIFIED]),
        )
        .order_by(col(KycCase.created_at).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def confirm_status(session: AsyncSession, player_id: uuid.UUID) -> str | None:
    stmt = select(col(Player.confirm_status)).where(col(Player.id) == player_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def cases_of_player(session: AsyncSession, player_id: uuid.UUID) -> list[KycCase]:
    stmt = (
        select(KycCase)
        .where(col(KycCase.player_id) == player_id)
        .order_by(col(KycCase.created_at).desc())
    )
    return list((await session.execute(stmt)).scalars())


async def case_history(session: AsyncSession, case_id: uuid.UUID) -> list[KycCaseEvent]:
    stmt = (
        select(KycCaseEvent)
        .where(col(KycCaseEvent.case_id) == case_id)
        .order_by(col(KycCaseEvent.id))
    )
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = tuple(AWAITING_DECISION)
    provider: str | None = None
    risk_level: str | None = None


async def queue_page(
    session: AsyncSession, flt: QueueFilter, limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> tuple[list[KycCase], bool, int]:  # fmt: skip
    """Cases of ``flt.statuses`` (a subset of AWAITING_DECISION), oldest first by
    (created_at, id); the page after ``after``, whether more follow, and the total."""
    conditions: list[Any] = [col(KycCase.status).in_(flt.statuses)]
    if flt.provider is not None:
        conditions.append(col(KycCase.provider) == flt.provider)
    if flt.risk_level is not None:
        conditions.append(col(KycCase.risk_level) == flt.risk_level)
    page = list(conditions)
    if after is not None:
        at, case_id = after
        same_time = and_(col(KycCase.created_at) == at, col(KycCase.id) > case_id)
        page.append(or_(col(KycCase.created_at) > at, same_time))
    stmt = (
        select(KycCase)
        .where(*page)
        .order_by(col(KycCase.created_at), col(KycCase.id))
        .limit(limit + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
    total = (
        await session.execute(select(func.count()).select_from(KycCase).where(*conditions))
    ).scalar_one()
    return rows[:limit], len(rows) > limit, int(total)
