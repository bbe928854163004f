"""Inputs of the bonus engine. Money and percentages are decimal strings."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.bonuses.models import AwardLimit, CampaignKind, CampaignTrigger, WageringBase
from app.bonuses.validation import CampaignData
from schema.enums import (
    AwardLimitEnum,
    BonusStatusEnum,
    CampaignKindEnum,
    CampaignTriggerEnum,
    WageringBaseEnum,
)
from schema.input_guard import free_text
from schema.inputs.ledger import KEY


@strawberry.input
class GameContributionInput:
    category: str
    percent: str = strawberry.field(description="0 to 100")


@strawberry.input
class CreateBonusCampaignInput:
    name: str = free_text()
    kind: CampaignKindEnum
    trigger: CampaignTriggerEnum
    currency: str
    percent: str | None = strawberry.field(
        default=None, description="DEPOSIT_MATCH (up to 1000) / CASHBACK (up to 100) percent."
    )
    fixed_amount: str | None = None
    max_amount: str | None = strawberry.field(default=None, description="Cap of the award.")
    min_deposit: str | None = None
    free_spins: int | None = None
    spin_stake: str | None = None
    games: list[str] = strawberry.field(default_factory=list)
    promo_code: str | None = free_text(default=None)
    promo_expires_at: datetime | None = None
    turnover_threshold: str | None = None
    loyalty_tier: str | None = None
    period_days: int | None = None
    countries: list[str] = strawberry.field(default_factory=list)
    segment_ids: list[str] = strawberry.field(default_factory=list)
    kyc_states: list[str] = strawberry.field(default_factory=list)
    award_limit: AwardLimitEnum = AwardLimitEnum.ONCE_PER_PLAYER
    wagering_multiplier: str = "0"
    wagering_base: WageringBaseEnum = WageringBaseEnum.BONUS
    contributions: list[GameContributionInput] = strawberry.field(default_factory=list)
    max_bet: str | None = None
    expiry_days: int = 30
    max_conversion: str | None = None
    forfeit_on_withdrawal: bool = False

    def to_data(self) -> CampaignData:
        return CampaignData(
            name=self.name, kind=CampaignKind(self.kind.value),
            trigger=CampaignTrigger(self.trigger.value), currency=self.currency,
            percent=self.percent, fixed_amount=self.fixed_amount, max_amount=self.max_amount,
            min_deposit=self.min_deposit, free_spins=self.free_spins,
            spin_stake=self.spin_stake, games=self.games, promo_code=self.promo_code,
            promo_expires_at=self.promo_expires_at, turnover_threshold=self.turnover_threshold,
            loyalty_tier=self.loyalty_tier, period_days=self.period_days,
            countries=self.countries, segment_ids=self.segment_ids, kyc_states=self.kyc_states,
            award_limit=AwardLimit(self.award_limit.value),
            wagering_multiplier=self.wagering_multiplier,
            wagering_base=WageringBase(self.wagering_base.value),
            contributions={c.category: c.percent for c in self.contributions},
            max_bet=self.max_bet, expiry_days=self.expiry_days,
            max_conversion=self.max_conversion, forfeit_on_withdrawal=self.forfeit_on_withdrawal,
        )  # fmt: skip


@strawberry.input
class GrantBonusInput:
    campaign_id: strawberry.ID
    player_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=KEY)
    amount: str | None = strawberry.field(
        default=None, description="Overrides the campaign's amount (required for % kinds)."
    )


@strawberry.input
class EndBonusInput:
    player_id: strawberry.ID
    bonus_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=KEY)
    reason: str | None = free_text(default=None)


@strawberry.input
class FreeSpinsWinInput:
    player_id: strawberry.ID
    bonus_id: strawberry.ID = strawberry.field(description="The FREE_SPINS bonus played.")
    amount: str
    currency: str
    idempotency_key: str = strawberry.field(description=KEY)


@strawberry.input
class PlayerBonusFilter:
    player_id: strawberry.ID | None = None
    status: BonusStatusEnum | None = None
    campaign_id: strawberry.ID | None = None
