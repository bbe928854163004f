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

import asyncpg
from sqlalchemy import text
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
                first = await _deposit_count(session, player_id) == 1
            if not first:
                continue
        await try_award(session, settings, campaign, player_id, f"deposit:{body['operationId']}",
                        base=amount, deposit=amount)  # fmt: skip


async def _deposit_count(session: AsyncSession, player_id: uuid.UUID) -> int:
    result = await session.execute(
        text("SELECT count(*) FROM (SELECT 1 FROM ledger_transfers "
             "WHERE player_id = :p AND kind = 'DEPOSIT' LIMIT 2) d"),
        {"p": player_id},
    )  # fmt: skip
    return int(result.scalar_one())


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


_BIRTHDAYS = """
SELECT p.id, 0 FROM players p
WHERE extract(month FROM p.birth_date) = :m AND extract(day FROM p.birth_date) = :d
  AND p.status = 'ACTIVE'
  AND NOT EXISTS (SELECT 1 FROM player_bonuses b WHERE b.campaign_id = :c
                  AND b.player_id = p.id AND b.occurrence_key = :occ)
LIMIT :n
"""


async def birthdays(db: Database, settings: Settings, today: date | None = None) -> int:
    """Birthday campaigns for players born on this day (occurrence: the year)."""
    day = today or datetime.now(UTC).date()
    async with db.read_session() as session:
        campaigns = await repo.active_campaigns(session, trigger=CampaignTrigger.BIRTHDAY)
    awarded = 0
    for campaign in campaigns:
        occ = service.occurrence_key(campaign, f"birthday:{day.year}", datetime.now(UTC))
        async with db.read_session() as session:
            rows = (await session.execute(text(_BIRTHDAYS), {
                "m": day.month, "d": day.day, "c": campaign.id, "occ": occ, "n": 1000,
            })).all()  # fmt: skip
        awarded += await _award_each(db, settings, campaign, [tuple(r) for r in rows],
                                     f"birthday:{day.year}")  # fmt: skip
    return awarded


# Turnover of the money wallets (stakes of settled bets, rolled-back rounds netted out).
_TURNOVER = """
SELECT w.player_id, sum(w.turnover)::bigint FROM wallets w
WHERE w.currency = :cur AND w.kind IN ('REAL', 'BONUS')
  AND NOT EXISTS (SELECT 1 FROM player_bonuses b WHERE b.campaign_id = :c
                  AND b.player_id = w.player_id AND b.occurrence_key = :occ)
GROUP BY w.player_id HAVING sum(w.turnover) >= :threshold
LIMIT :n
"""


async def turnover(db: Database, settings: Settings) -> int:
    async with db.read_session() as session:
        campaigns = await repo.active_campaigns(session, trigger=CampaignTrigger.TURNOVER_REACHED)
    awarded = 0
    for campaign in campaigns:
        occ = service.occurrence_key(campaign, "turnover", datetime.now(UTC))
        async with db.read_session() as session:
            rows = (await session.execute(text(_TURNOVER), {
                "cur": campaign.currency, "c": campaign.id, "occ": occ,
                "threshold": campaign.turnover_threshold or 0, "n": 1000,
            })).all()  # fmt: skip
        awarded += await _award_each(db, settings, campaign, [tuple(r) for r in rows],
                                     "turnover")  # fmt: skip
    return awarded


_CURSOR = """
INSERT INTO bonus_trigger_cursors (name, last_event_id) VALUES (:name, 0)
ON CONFLICT DO NOTHING
"""
_LOCK_CURSOR = """
SELECT last_event_id FROM bonus_trigger_cursors WHERE name = :name FOR UPDATE SKIP LOCKED
"""
_EVENTS = """
SELECT id, event_id, subject, data, time < now() - make_interval(secs => :lag) AS settled
FROM outbox_events
WHERE type = :type AND id > :after ORDER BY id LIMIT :n
"""
# Outbox ids are taken at INSERT but become visible at COMMIT, so a slower transaction's
# lower id can appear after a higher one was read. The cursor therefore only passes events
# older than this lag (no transaction here runs that long); newer ones are read again next
# round, which is harmless: each award's occurrence key (``vip:<event id>``) is unique.
CURSOR_LAG_SECONDS = 300.0


async def vip_activations(db: Database, settings: Settings, batch: int = 200) -> int:
    """Read ``vip.activated`` events from the outbox past this trigger's cursor. The
    cursor row is locked SKIP LOCKED: one replica at a time, the others skip the round."""
    async with db.transaction() as session:
        await session.execute(text(_CURSOR), {"name": "vip.activated"})
    awarded = 0
    async with db.transaction() as session:
        after = (await session.execute(text(_LOCK_CURSOR), {"name": "vip.activated"})).scalar()
        if after is None:
            return 0
        events = (await session.execute(text(_EVENTS), {
            "type": "vip.activated", "after": after, "n": batch, "lag": CURSOR_LAG_SECONDS,
        })).all()  # fmt: skip
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
            await session.execute(
                text("UPDATE bonus_trigger_cursors SET last_event_id = :id WHERE name = :name"),
                {"id": max(settled), "name": "vip.activated"},
            )
    return awarded


# Net loss on REAL money: stakes lost minus wins, refunds and reversals netted out.
_NET_LOSSES = """
SELECT t.player_id, -sum(t.amount)::bigint AS loss
FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id
WHERE w.kind = 'REAL' AND t.currency = :cur
  AND t.kind IN ('BET', 'WIN', 'BET_REFUND', 'WIN_REVERSAL')
  AND t.created_at >= :since AND t.created_at < :until
  AND NOT EXISTS (SELECT 1 FROM player_bonuses b WHERE b.campaign_id = :c
                  AND b.player_id = t.player_id AND b.occurrence_key = :occ)
GROUP BY t.player_id HAVING sum(t.amount) < 0
ORDER BY t.player_id
"""


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
            rows = (await session.execute(text(_NET_LOSSES), {
                "cur": campaign.currency, "since": since, "until": until, "c": campaign.id,
                "occ": service.occurrence_key(campaign, occ, since),
            })).all()  # fmt: skip
        awarded += await _award_each(db, settings, campaign, [tuple(r) for r in rows], occ)
    return awarded
