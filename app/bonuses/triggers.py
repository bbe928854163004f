"""Where awards come from: deposits and loyalty tier changes (inside the triggering
transaction), and jobs for birthdays, turnover, VIP activations and cashback periods.

Every award runs in a savepoint: a refused or duplicate award (blocked player, already
awarded, ineligible) never undoes the deposit or settlement that triggered it.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import repository as repo
from app.bonuses import service
from app.bonuses.models import BonusCampaign, CampaignKind, CampaignTrigger
from app.core.db import Database
from app.core.errors import DomainError
from app.core.settings import Settings

log = logging.getLogger(__name__)


async def try_award(
    session: AsyncSession, settings: Settings, campaign: BonusCampaign, player_id: uuid.UUID,
    occurrence: str, **kwargs: Any,
) -> bool:  # fmt: skip
    """Award in a savepoint; False (and nothing written) if refused or already given."""
    try:
        async with session.begin_nested():
            await service.award(
                session, settings, service.SYSTEM, campaign, player_id, occurrence, **kwargs
            )
    except (DomainError, asyncpg.UniqueViolationError) as exc:
        log.info("campaign %s not awarded to %s: %s", campaign.id, player_id, exc)
        return False
    return True


async def after_deposit(
    session: AsyncSession, settings: Settings, player_id: uuid.UUID, body: dict[str, Any],
    amount: int, currency: str, promo_code: str | None,
) -> None:  # fmt: skip
    """Deposit triggers, in the deposit's transaction (one indexed read when no campaign
    applies). The player's wallets are locked by the deposit, so "first deposit" is
    decided on committed data: concurrent deposits queue on that lock."""
    campaigns = await repo.deposit_campaigns(session, currency, promo_code)
    if not campaigns:
        return
    first: bool | None = None
    for campaign in campaigns:
        if campaign.trigger == CampaignTrigger.FIRST_DEPOSIT:
            if first is None:
                first = await repo.deposit_count(session, player_id) == 1
            if not first:
                continue
        await try_award(session, settings, campaign, player_id, f"deposit:{body['operationId']}",
                        base=amount, deposit=amount)  # fmt: skip


async def after_tier_change(
    session: AsyncSession, settings: Settings, player_id: uuid.UUID, tier: str
) -> None:
    campaigns = await repo.active_campaigns(
        session, kind=CampaignKind.LOYALTY_TIER, trigger=CampaignTrigger.LOYALTY_TIER_REACHED,
        loyalty_tier=tier,
    )  # fmt: skip
    for campaign in campaigns:
        await try_award(session, settings, campaign, player_id, f"tier:{tier}")


# --- jobs ---------------------------------------------------------------------------------


async def _award_each(
    db: Database, settings: Settings, campaign: BonusCampaign,
    rows: list[tuple[uuid.UUID, int]], occurrence: str,
) -> int:  # fmt: skip
    """One transaction per player, so one refusal or lock wait holds up nobody else."""
    awarded = 0
    for player_id, base in rows:
        async with db.transaction() as session:
            awarded += await try_award(session, settings, campaign, player_id, occurrence,
                                       base=base)  # fmt: skip
    return awarded


async def birthdays(db: Database, settings: Settings, today: date | None = None) -> int:
    """Birthday campaigns for players born on this day (occurrence: the year)."""
    day = today or datetime.now(UTC).date()
    async with db.read_session() as session:
        campaigns = await repo.active_campaigns(session, trigger=CampaignTrigger.BIRTHDAY)
    awarded = 0
    for campaign in campaigns:
        occ = service.occurrence_key(campaign, f"birthday:{day.year}", datetime.now(UTC))
        async with db.read_session() as session:
            rows = await repo.player_amounts(session, repo.BIRTHDAYS_SQL, {
                "m": day.month, "d": day.day, "c": campaign.id, "occ": occ, "n": 1000,
            })  # fmt: skip
        awarded += await _award_each(db, settings, campaign, rows, f"birthday:{day.year}")
    return awarded


async def turnover(db: Database, settings: Settings) -> int:
    async with db.read_session() as session:
        campaigns = await repo.active_campaigns(session, trigger=CampaignTrigger.TURNOVER_REACHED)
    awarded = 0
    for campaign in campaigns:
        occ = service.occurrence_key(campaign, "turnover", datetime.now(UTC))
        async with db.read_session() as session:
            rows = await repo.player_amounts(session, repo.TURNOVER_SQL, {
                "cur": campaign.currency, "c": campaign.id, "occ": occ,
                "threshold": campaign.turnover_threshold or 0, "n": 1000,
            })  # fmt: skip
        awarded += await _award_each(db, settings, campaign, rows, "turnover")
    return awarded


# Outbox ids are taken at INSERT but become visible at COMMIT, so a slower transaction's
# lower id can appear after a higher one was read. The cursor therefore only passes events
# older than this lag (no transaction here runs that long); newer ones are read again next
# round, which is harmless: each award's occurrence key (``vip:<event id>``) is unique.
CURSOR_LAG_SECONDS = 300.0


async def vip_activations(db: Database, settings: Settings, batch: int = 200) -> int:
    """Read ``vip.activated`` events from the outbox past this trigger's cursor. The
    cursor row is locked SKIP LOCKED: one replica at a time, the others skip the round."""
    async with db.transaction() as session:
        await repo.ensure_cursor(session, "vip.activated")
    awarded = 0
    async with db.transaction() as session:
        after = await repo.lock_cursor(session, "vip.activated")
        if after is None:
            return 0
        events = await repo.events_after(session, "vip.activated", after, batch, CURSOR_LAG_SECONDS)
        if not events:
            return 0
        campaigns = await repo.active_campaigns(session, trigger=CampaignTrigger.VIP_ACTIVATION)
        for event in events:
            data = event.data if isinstance(event.data, dict) else json.loads(event.data)
            raw = data.get("playerId") or event.subject
            try:
                player_id = uuid.UUID(str(raw))
            except ValueError:
                continue
            for campaign in campaigns:
                awarded += await try_award(session, settings, campaign, player_id,
                                           f"vip:{event.event_id}")  # fmt: skip
        settled = [e.id for e in events if e.settled]
        if settled:
            await repo.advance_cursor(session, "vip.activated", max(settled))
    return awarded


async def cashback(
    db: Database, settings: Settings, period: date | None, *, ended_on: date | None = None
) -> int:
    """Cashback of every CASHBACK campaign for the period starting on ``period`` (UTC,
    the campaign's ``period_days`` long). With ``ended_on`` instead (the periodic task),
    each campaign pays the period that ended that day, if its periods (aligned on day
    ordinals) end then. Safe to run twice: one award per (campaign, player, period)."""
    async with db.read_session() as session:
        campaigns = await repo.active_campaigns(
            session, kind=CampaignKind.CASHBACK, trigger=CampaignTrigger.CASHBACK_PERIOD
        )
    awarded = 0
    for campaign in campaigns:
        if ended_on is not None:
            period = ended_on - timedelta(days=campaign.period_days or 1)
            if period.toordinal() % (campaign.period_days or 1):
                continue
        assert period is not None
        since = datetime(period.year, period.month, period.day, tzinfo=UTC)
        until = since + timedelta(days=campaign.period_days or 1)
        occ = f"cashback:{period.isoformat()}"
        async with db.read_session() as session:
            rows = await repo.player_amounts(session, repo.NET_LOSSES_SQL, {
                "cur": campaign.currency, "since": since, "until": until, "c": campaign.id,
                "occ": service.occurrence_key(campaign, occ, since),
            })  # fmt: skip
        awarded += await _award_each(db, settings, campaign, rows, occ)
    return awarded
