"""``simulateBonusCampaign``: replay a campaign's deposit triggers over the ledger's
history and report who would have received what, the total bonus cost and the expected
wagering, writing nothing (a read-only transaction).

Replayed: FIRST_DEPOSIT and DEPOSIT campaigns, over the DEPOSIT transfers in
``[from, to)`` in the campaign's currency, in commit order, with the campaign's minimum
deposit, percentage/fixed amount, cap and award limit (once per player, once per period,
every occurrence). Eligibility (status, country, KYC state, segments) uses the players'
current data; promo codes are not recorded with deposits, so a promo campaign is
simulated as if every deposit carried the code. Other triggers are refused (typed)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import service
from app.bonuses.models import BonusCampaign, CampaignTrigger, WageringBase
from app.bonuses.validation import CampaignData, check_campaign
from app.core.errors import DomainError, ValidationFailed
from app.core.settings import Settings
from app.ledger.operation import DEBIT_BLOCKED

MAX_DAYS = 366
TIMEOUT_MS = 20_000
BATCH = 2000
REPLAYED = (CampaignTrigger.FIRST_DEPOSIT, CampaignTrigger.DEPOSIT)

_DEPOSITS = """
SELECT t.id, t.created_at, t.player_id, t.amount, p.status, p.country, p.confirm_status,
       row_number() OVER (PARTITION BY t.player_id ORDER BY t.id) AS nth,
       EXISTS (SELECT 1 FROM segment_members m WHERE m.player_id = t.player_id
               AND m.segment_id::text = ANY(:segments)) AS in_segment
FROM ledger_transfers t JOIN players p ON p.id = t.player_id
WHERE t.kind = 'DEPOSIT' AND t.currency = :currency AND t.created_at < :until
ORDER BY t.id
"""


@dataclass(frozen=True)
class Award:
    player_id: uuid.UUID
    at: datetime
    deposit: int
    amount: int


@dataclass
class Simulation:
    campaign: BonusCampaign
    awards: list[Award] = field(default_factory=list)
    deposits: int = 0
    count: int = 0
    total: int = 0
    wagering: int = 0
    players: set[uuid.UUID] = field(default_factory=set)


def _window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed.single("from", "a time with its UTC offset")
    if not start < end or end - start > timedelta(days=MAX_DAYS):
        raise ValidationFailed.single("to", f"after from, at most {MAX_DAYS} days later")


async def simulate(
    session: AsyncSession, settings: Settings, data: CampaignData, start: datetime,
    end: datetime, *, keep: int,
) -> Simulation:  # fmt: skip
    campaign, problems = check_campaign(data, settings, "system:simulation")
    if problems or campaign is None:
        raise ValidationFailed(problems)
    if campaign.trigger not in REPLAYED:
        raise ValidationFailed.single("trigger", "simulations replay FIRST_DEPOSIT and DEPOSIT")
    _window(start, end)
    await session.execute(text("SET TRANSACTION READ ONLY"))
    await session.execute(text(f"SET LOCAL statement_timeout = {TIMEOUT_MS}"))
    sim = Simulation(campaign)
    given: set[tuple[uuid.UUID, str]] = set()
    params = {"currency": campaign.currency, "until": end, "segments": campaign.segment_ids}
    result = await session.stream(text(_DEPOSITS).execution_options(yield_per=BATCH), params)
    async for rows in result.partitions(BATCH):
        for row in rows:
            if row.created_at >= start:
                _replay(sim, row, given, keep)
    return sim


def _replay(sim: Simulation, row: Any, given: set[tuple[uuid.UUID, str]], keep: int) -> None:
    c = sim.campaign
    sim.deposits += 1
    if c.trigger == CampaignTrigger.FIRST_DEPOSIT and row.nth != 1:
        return
    if (row.status in DEBIT_BLOCKED or (c.countries and row.country not in c.countries)
            or (c.kyc_states and row.confirm_status not in c.kyc_states)
            or (c.segment_ids and not row.in_segment)):  # fmt: skip
        return
    # The key the award's unique constraint would hold: the same award limit as live.
    occurrence = service.occurrence_key(c, f"deposit:{row.id}", row.created_at.astimezone(UTC))
    key = (row.player_id, occurrence)
    if key in given:
        return
    try:
        amount = service.award_amount(c, int(row.amount), None)
    except DomainError:  # below the minimum, or nothing to pay
        return
    given.add(key)
    sim.count += 1
    sim.total += amount
    basis = amount + (int(row.amount) if c.wagering_base == WageringBase.BONUS_AND_DEPOSIT else 0)
    sim.wagering += basis * c.wagering_multiplier_x100 // 100
    sim.players.add(row.player_id)
    if len(sim.awards) < keep:
        sim.awards.append(Award(row.player_id, row.created_at, int(row.amount), amount))
