"""Bonus types: campaigns, player bonuses with wagering progress, loyalty, typed errors."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.bonuses.models import (
    BonusCampaign as CampaignRow,
)
from app.bonuses.models import (
    BonusStatus,
)
from app.bonuses.models import (
    PlayerBonus as BonusRow,
)
from app.core.money import format_amount
from app.core.settings import Settings
from schema.enums import (
    AwardLimitEnum,
    BonusKindEnum,
    BonusStatusEnum,
    CampaignKindEnum,
    CampaignStatusEnum,
    CampaignTriggerEnum,
    WageringBaseEnum,
)
from schema.errors import UserError
from schema.scalars import Money
from schema.types import ledger as ledger_types


def _pct(bp: int | None) -> str | None:
    return None if bp is None else format_amount(bp, "EUR")  # basis points -> "12.50"


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money.of(minor, currency)


@strawberry.type
class GameContribution:
    category: str
    percent: str


@strawberry.type(description="A bonus campaign: award rule, trigger, eligibility, wagering.")
class BonusCampaign:
    id: strawberry.ID
    name: str
    kind: CampaignKindEnum
    trigger: CampaignTriggerEnum
    status: CampaignStatusEnum
    currency: str
    percent: str | None
    fixed_amount: Money | None
    max_amount: Money | None
    min_deposit: Money | None
    free_spins: int | None
    spin_stake: Money | None
    games: list[str]
    promo_code: str | None
    promo_expires_at: datetime | None
    turnover_threshold: Money | None
    loyalty_tier: str | None
    period_days: int | None
    countries: list[str]
    segment_ids: list[str]
    kyc_states: list[str]
    award_limit: AwardLimitEnum
    wagering_multiplier: str
    wagering_base: WageringBaseEnum
    contributions: list[GameContribution]
    max_bet: Money | None
    expiry_days: int
    max_conversion: Money | None
    forfeit_on_withdrawal: bool
    created_by: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: CampaignRow) -> BonusCampaign:
        assert row.id is not None and row.created_at is not None
        cur = row.currency
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, kind=CampaignKindEnum(row.kind),
            trigger=CampaignTriggerEnum(row.trigger), status=CampaignStatusEnum(row.status),
            currency=cur, percent=_pct(row.percent_bp),
            fixed_amount=_money(row.fixed_amount, cur), max_amount=_money(row.max_amount, cur),
            min_deposit=_money(row.min_deposit, cur), free_spins=row.free_spins,
            spin_stake=_money(row.spin_stake, cur), games=row.games, promo_code=row.promo_code,
            promo_expires_at=row.promo_expires_at,
            turnover_threshold=_money(row.turnover_threshold, cur),
            loyalty_tier=row.loyalty_tier, period_days=row.period_days, countries=row.countries,
            segment_ids=row.segment_ids, kyc_states=row.kyc_states,
            award_limit=AwardLimitEnum(row.award_limit),
            wagering_multiplier=_pct(row.wagering_multiplier_x100) or "0.00",
            wagering_base=WageringBaseEnum(row.wagering_base),
            contributions=[GameContribution(category=k, percent=_pct(v) or "0.00")
                           for k, v in sorted(row.contributions.items())],
            max_bet=_money(row.max_bet, cur), expiry_days=row.expiry_days,
            max_conversion=_money(row.max_conversion, cur),
            forfeit_on_withdrawal=row.forfeit_on_withdrawal, created_by=row.created_by,
            created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="How far a bonus's wagering requirement is met.")
class WageringProgress:
    required: Money
    wagered: Money
    remaining: Money
    percent: str = strawberry.field(description="0.00 to 100.00")
    fulfilled: bool


@strawberry.type(description="A bonus a player holds (or held).")
class PlayerBonus:
    id: strawberry.ID
    campaign_id: strawberry.ID
    player_id: strawberry.ID
    kind: BonusKindEnum
    status: BonusStatusEnum
    amount: Money
    wagering: WageringProgress
    max_bet: Money | None
    max_conversion: Money | None
    released: Money = strawberry.field(description="Moved to REAL when fulfilled.")
    returned: Money = strawberry.field(description="Returned to the house.")
    expires_at: datetime
    finished_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: BonusRow) -> PlayerBonus:
        assert row.id is not None and row.created_at is not None
        cur = row.currency
        req, done = row.wagering_required, min(row.wagered, row.wagering_required)
        percent = 10_000 if req == 0 else done * 10_000 // req
        return cls(
            id=strawberry.ID(str(row.id)), campaign_id=strawberry.ID(str(row.campaign_id)),
            player_id=strawberry.ID(str(row.player_id)), kind=BonusKindEnum(row.kind),
            status=BonusStatusEnum(row.status), amount=Money.of(row.amount, cur),
            wagering=WageringProgress(
                required=Money.of(req, cur), wagered=Money.of(row.wagered, cur),
                remaining=Money.of(req - done, cur), percent=_pct(percent) or "0.00",
                fulfilled=row.status == BonusStatus.FULFILLED,
            ),
            max_bet=_money(row.max_bet, cur), max_conversion=_money(row.max_conversion, cur),
            released=Money.of(row.released, cur), returned=Money.of(row.forfeited, cur),
            expires_at=row.expires_at, finished_at=row.finished_at, created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="Loyalty standing: points from wagering and the tier they reach.")
class Loyalty:
    points: str = strawberry.field(description="64-bit, as a string.")
    tier: str
    next_tier: str | None
    next_tier_points: str | None
    progress: str = strawberry.field(description="Percent of the way to the next tier.")
    benefits: list[str]

    @classmethod
    def build(cls, points: int, settings: Settings) -> Loyalty:
        tiers = settings.loyalty_tiers
        current = tiers[0]
        following = None
        for i, (name, threshold) in enumerate(tiers):
            if points >= threshold:
                current = (name, threshold)
                following = tiers[i + 1] if i + 1 < len(tiers) else None
        if following is None:
            progress = 10_000
        else:
            span = following[1] - current[1]
            progress = (points - current[1]) * 10_000 // span if span > 0 else 10_000
        return cls(
            points=str(points), tier=current[0],
            next_tier=following[0] if following else None,
            next_tier_points=str(following[1]) if following else None,
            progress=_pct(progress) or "0.00",
            benefits=list(settings.loyalty_tier_benefits.get(current[0], ())),
        )  # fmt: skip


def _error_type(name: str, description: str) -> type:
    cls = type(name, (UserError,), {"__annotations__": {}})
    return strawberry.type(cls, name=name, description=description)


CampaignNotActive = _error_type("CampaignNotActive", "The campaign is paused.")
NotEligible = _error_type("BonusNotEligible", "The player is not eligible; nothing awarded.")
AlreadyAwarded = _error_type(
    "BonusAlreadyAwarded", "This occurrence of the campaign was already awarded."
)
BonusNotActive = _error_type("BonusNotActive", "No such active bonus for this player.")
MaxBetExceeded = ledger_types.MaxBetExceeded
