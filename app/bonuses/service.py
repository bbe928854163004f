"""Bonus rules: campaigns, awards, ending bonuses, free-spin wins.

Awards, cancellations and forfeits are ledger operations built like the ledger's own
(the ledger's public kernel, app/ledger/kernel.py, with the bonus ledger extension's
parts): LOAD (idempotency claim + the player's wallets and active bonuses locked in id
order), rules in Python, APPLY (balances, transfers against the
house BONUS_LIABILITY account, bonus rows, outbox events) - one transaction, never
committed here. An award also inserts its ``player_bonuses`` row between the two; the
unique (campaign, player, occurrence) constraint is the backstop that makes one trigger
occurrence pay at most once even if the idempotency record is gone.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import engine
from app.bonuses import repository as repo
from app.bonuses.errors import (
    AlreadyAwarded,
    BonusNotActive,
    CampaignNotActive,
    NotEligible,
)
from app.bonuses.models import (
    AwardLimit,
    BonusCampaign,
    BonusKind,
    BonusStatus,
    CampaignKind,
    CampaignStatus,
    CampaignTrigger,
    PlayerBonus,
    WageringBase,
)
from app.bonuses.validation import CampaignData, check_campaign
from app.core.currencies import FREE_SPINS_UNIT
from app.core.errors import FieldProblem, NotFound, ValidationFailed
from app.core.money import format_amount, parse_amount
from app.core.principal import Principal
from app.core.settings import Settings
from app.events import outbox
from app.ledger import kernel
from app.ledger.errors import AccountBlocked
from app.ledger.kernel import OperationSpec, Outcome
from app.ledger.models import TransferKind
from app.ledger.operation import DEBIT_BLOCKED, Operation
from app.ledger.validation import check_idempotency_key, check_text
from app.wallets.models import WalletKind

SYSTEM = Principal.system("bonus")


# --- campaigns ----------------------------------------------------------------------------


def _campaign_event(row: BonusCampaign, type: str) -> dict[str, Any]:
    return {"campaignId": str(row.id), "name": row.name, "kind": row.kind,
            "trigger": row.trigger, "status": row.status}  # fmt: skip


async def create_campaign(
    session: AsyncSession, settings: Settings, caller: Principal, data: CampaignData
) -> BonusCampaign:
    row, problems = check_campaign(data, settings, caller.key)
    unknown = await repo.unknown_segments(session, data.segment_ids)
    problems += [FieldProblem("segmentIds", f"unknown segment {s!r}") for s in unknown]
    if problems or row is None:
        raise ValidationFailed(problems)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await outbox.record(session, "bonus.campaign_created", None, _campaign_event(row, "created"))
    return row


async def set_campaign_status(
    session: AsyncSession, campaign_id: int, status: CampaignStatus
) -> BonusCampaign:
    row = await session.get(BonusCampaign, campaign_id, with_for_update=True)
    if row is None:
        raise NotFound("no such bonus campaign")
    if row.status != status:
        row.status = status
        row.updated_at = datetime.now(UTC)
        await session.flush()
        await outbox.record(
            session, f"bonus.campaign_{'paused' if status == 'PAUSED' else 'resumed'}", None,
            _campaign_event(row, status),
        )  # fmt: skip
    return row


# --- awards -------------------------------------------------------------------------------


def occurrence_key(campaign: BonusCampaign, occurrence: str, today: datetime) -> str:
    """The key the unique constraint holds per (campaign, player): it decides how often
    one player can receive the campaign."""
    if campaign.trigger == CampaignTrigger.FIRST_DEPOSIT:
        return "first-deposit"
    if campaign.trigger == CampaignTrigger.CASHBACK_PERIOD:
        return occurrence[:96]  # one per period by construction
    if campaign.award_limit == AwardLimit.ONCE_PER_PLAYER:
        return "once"
    if campaign.award_limit == AwardLimit.ONCE_PER_PERIOD:
        return f"period:{today.date().toordinal() // (campaign.period_days or 1)}"
    return occurrence[:96]


def award_amount(campaign: BonusCampaign, base: int, amount: int | None) -> int:
    """Minor units (spins for FREE_SPINS) a campaign pays on ``base`` (deposit/net loss)."""
    kind = campaign.kind
    if kind == CampaignKind.FREE_SPINS and amount is None:
        return campaign.free_spins or 0
    if amount is None:
        if kind in (CampaignKind.DEPOSIT_MATCH, CampaignKind.CASHBACK):
            if kind == CampaignKind.DEPOSIT_MATCH and base < (campaign.min_deposit or 0):
                raise NotEligible("the deposit is below the campaign's minimum")
            amount = base * (campaign.percent_bp or 0) // engine.FULL_BP
        else:
            amount = campaign.fixed_amount or 0
    if campaign.max_amount is not None:
        amount = min(amount, campaign.max_amount)
    if amount <= 0:
        raise NotEligible("the campaign pays nothing on this occurrence")
    return amount


async def _check_eligible(conn: Any, campaign: BonusCampaign, player_id: uuid.UUID) -> None:
    facts = await repo.player_facts(conn, player_id)
    if facts is None:
        raise NotFound("player not found")
    if facts.status in DEBIT_BLOCKED:
        raise AccountBlocked(f"player is {facts.status}: no bonuses")
    if campaign.kind != CampaignKind.FREE_SPINS and facts.currency != campaign.currency:
        raise NotEligible(f"the campaign pays {campaign.currency}, the player holds "
                          f"{facts.currency}")  # fmt: skip
    if campaign.countries and facts.country not in campaign.countries:
        raise NotEligible("the player's country is not eligible")
    if campaign.kyc_states and facts.confirm_status not in campaign.kyc_states:
        raise NotEligible("the player's verification status is not eligible")
    if campaign.segment_ids and not await repo.in_segments(conn, player_id, campaign.segment_ids):
        raise NotEligible("the player is in none of the campaign's segments")


async def award(
    session: AsyncSession,
    settings: Settings,
    caller: Principal,
    campaign: BonusCampaign,
    player_id: uuid.UUID,
    occurrence: str,
    *,
    base: int = 0,
    deposit: int = 0,
    amount: int | None = None,
    idempotency_key: str | None = None,
    kind: BonusKind | None = None,
    operation: str = "awardBonus",
) -> Outcome:
    """Grant ``campaign`` to a player for one trigger occurrence (in the caller's
    transaction). Replays the stored outcome if this occurrence was already awarded."""
    if campaign.status != CampaignStatus.ACTIVE:
        raise CampaignNotActive(f"campaign {campaign.id} is {campaign.status}")
    bonus_kind = kind or BonusKind(campaign.kind)
    # Each free-spin win is its own occurrence, whatever limits the spins themselves.
    occ = (
        occurrence[:96]
        if bonus_kind == BonusKind.FREE_SPINS_WIN
        else occurrence_key(campaign, occurrence, datetime.now(UTC))
    )
    await _check_eligible(await kernel.connection(session), campaign, player_id)
    minor = award_amount(campaign, base, amount)
    spins = campaign.kind == CampaignKind.FREE_SPINS and bonus_kind == BonusKind.FREE_SPINS
    currency = FREE_SPINS_UNIT if spins else campaign.currency
    basis = minor + (deposit if campaign.wagering_base == WageringBase.BONUS_AND_DEPOSIT else 0)
    required = 0 if spins else basis * campaign.wagering_multiplier_x100 // 100
    key = idempotency_key or f"{campaign.id}:{player_id}:{occ}"
    state: dict[str, Any] = {}

    def plan(op: Operation) -> dict[str, Any]:
        op.require_debit_allowed()
        if spins:
            op.move(WalletKind.FREESPINS, minor, engine.LIABILITY, TransferKind.FREESPINS_GRANT)
            state.update(status=BonusStatus.ACTIVE, released=0)
        elif required == 0:  # nothing to wager: straight to REAL, up to the max conversion
            cap = campaign.max_conversion
            paid = minor if cap is None else min(minor, cap)
            op.require_currency(op.wallet(WalletKind.REAL), currency)
            op.move(WalletKind.REAL, paid, engine.LIABILITY, TransferKind.BONUS_AWARD)
            state.update(status=BonusStatus.FULFILLED, released=paid)
        else:
            op.require_currency(op.wallet(WalletKind.BONUS), currency)
            op.move(WalletKind.BONUS, minor, engine.LIABILITY, TransferKind.BONUS_AWARD)
            state.update(status=BonusStatus.ACTIVE, released=0)
        return op.finish()

    async def insert_bonus(conn: Any, op: Operation, body: dict[str, Any]) -> None:
        row = await conn.fetchrow(
            repo.INSERT_BONUS_SQL, campaign.id, player_id, occ, bonus_kind.value,
            state["status"].value, currency, minor, deposit, required,
            json.dumps(campaign.contributions), campaign.max_bet, campaign.max_conversion,
            campaign.forfeit_on_withdrawal, state["released"], caller.key,
            campaign.expiry_days,
        )  # fmt: skip
        if row is None:
            raise AlreadyAwarded("this occurrence of the campaign was already awarded")
        body["bonusId"] = str(row["id"])
        op.event("bonus.awarded", {
            "bonusId": str(row["id"]), "campaignId": str(campaign.id), "kind": bonus_kind.value,
            "occurrence": occ, "amount": format_amount(minor, currency), "currency": currency,
            "wageringRequired": format_amount(required, currency),
            "status": state["status"].value, "expiresAt": row["expires_at"].isoformat(),
        })  # fmt: skip

    spec = OperationSpec(
        operation, key,
        {"campaignId": campaign.id, "playerId": str(player_id), "occurrence": occ,
         "amount": minor, "deposit": deposit},
        player_id, requires=(engine.NAME,),
    )  # fmt: skip
    return await kernel.run_operation(session, settings, caller, spec, plan,
                                      before_apply=insert_bonus)  # fmt: skip


async def grant(
    session: AsyncSession, settings: Settings, caller: Principal, *, campaign_id: int,
    player_id: uuid.UUID, amount: str | None, idempotency_key: str,
) -> Outcome:  # fmt: skip
    """A staff grant of any campaign (the MANUAL trigger, or outside its trigger)."""
    check_idempotency_key(idempotency_key)
    campaign = await session.get(BonusCampaign, campaign_id)
    if campaign is None:
        raise NotFound("no such bonus campaign")
    minor = None if amount is None else parse_amount(amount, campaign.currency)
    if minor is None and campaign.kind in (CampaignKind.DEPOSIT_MATCH, CampaignKind.CASHBACK):
        raise ValidationFailed.single("amount", f"is required to grant a {campaign.kind} bonus")
    return await award(
        session, settings, caller, campaign, player_id, f"manual:{idempotency_key}",
        amount=minor, idempotency_key=idempotency_key, operation="grantBonus",
    )  # fmt: skip


async def end_bonus(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    bonus_id: int, status: BonusStatus, reason: str | None, idempotency_key: str,
) -> Outcome:  # fmt: skip
    """Cancel (staff) or forfeit (the player) an active bonus: its money goes back."""
    check_idempotency_key(idempotency_key)
    check_text("reason", reason, required=False, max_len=200)
    name = "cancelBonus" if status == BonusStatus.CANCELLED else "forfeitBonus"

    def plan(op: Operation) -> dict[str, Any]:
        bonus = next((b for b in engine.active(op) if b["id"] == bonus_id), None)
        if bonus is None:
            raise BonusNotActive(f"bonus {bonus_id} is not an active bonus of this player")
        engine.close(op, bonus, status, reason)
        op.extra.update(bonusId=str(bonus_id))
        return op.finish()

    spec = OperationSpec(
        name, idempotency_key,
        {"playerId": str(player_id), "bonusId": bonus_id, "reason": reason},
        player_id, requires=(engine.NAME,),
    )  # fmt: skip
    return await kernel.run_operation(session, settings, caller, spec, plan)


async def credit_free_spins_win(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    bonus_id: int, amount: str, currency: str, idempotency_key: str,
) -> Outcome:  # fmt: skip
    """The winnings of free spins: bonus money with the spins campaign's own wagering."""
    check_idempotency_key(idempotency_key)
    spins = await session.get(PlayerBonus, bonus_id)
    if spins is None or spins.player_id != player_id or spins.kind != BonusKind.FREE_SPINS:
        raise NotFound("no free-spins bonus with this id for this player")
    campaign = await session.get(BonusCampaign, spins.campaign_id)
    assert campaign is not None
    if currency != campaign.currency:
        raise ValidationFailed.single("currency", f"the campaign pays {campaign.currency}")
    minor = parse_amount(amount, currency)
    return await award(
        session, settings, caller, campaign, player_id, f"fswin:{idempotency_key}"[:96],
        amount=minor, idempotency_key=idempotency_key, kind=BonusKind.FREE_SPINS_WIN,
        operation="creditFreeSpinsWin",
    )  # fmt: skip


def describe(body: dict[str, Any]) -> int | None:
    """The bonus id an award/end outcome document names."""
    raw = body.get("bonusId")
    return int(raw) if raw else None


def points_text(points: int) -> str:
    return str(points)


def money_text(minor: int, currency: str) -> str:
    return format_amount(minor, currency)
