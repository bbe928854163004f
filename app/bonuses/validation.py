"""Checks of a campaign before it is saved: every problem is reported, nothing is saved."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pycountry

from app.bonuses.models import (
    AwardLimit,
    BonusCampaign,
    CampaignKind,
    CampaignTrigger,
    WageringBase,
)
from app.core.errors import FieldProblem
from app.core.money import parse_amount
from app.core.settings import Settings
from app.players.models import ConfirmStatus

_PERCENT = re.compile(r"^-?[0-9]{1,9}(?:\.[0-9]{1,2})?$")
_PROMO = re.compile(r"^[A-Z0-9_-]{3,32}$")
MAX_PERCENT_BP = 100_000  # 1000 %: anything above is a typo, not a promotion
MAX_MULTIPLIER_X100 = 20_000  # 200x
_KIND_TRIGGERS = {
    CampaignKind.DEPOSIT_MATCH: {CampaignTrigger.FIRST_DEPOSIT, CampaignTrigger.DEPOSIT,
                                 CampaignTrigger.MANUAL},
    CampaignKind.CASHBACK: {CampaignTrigger.CASHBACK_PERIOD, CampaignTrigger.MANUAL},
    CampaignKind.LOYALTY_TIER: {CampaignTrigger.LOYALTY_TIER_REACHED, CampaignTrigger.MANUAL},
}  # fmt: skip


@dataclass
class CampaignData:
    """A campaign as entered: amounts and percentages still decimal strings."""

    name: str
    kind: CampaignKind
    trigger: CampaignTrigger
    currency: str
    percent: str | None = None
    fixed_amount: str | None = None
    max_amount: str | None = None
    min_deposit: str | None = None
    free_spins: int | None = None
    spin_stake: str | None = None
    games: list[str] = field(default_factory=list)
    promo_code: str | None = None
    promo_expires_at: datetime | None = None
    turnover_threshold: str | None = None
    loyalty_tier: str | None = None
    period_days: int | None = None
    countries: list[str] = field(default_factory=list)
    segment_ids: list[str] = field(default_factory=list)
    kyc_states: list[str] = field(default_factory=list)
    award_limit: AwardLimit = AwardLimit.ONCE_PER_PLAYER
    wagering_multiplier: str = "0"
    wagering_base: WageringBase = WageringBase.BONUS
    contributions: dict[str, str] = field(default_factory=dict)  # category -> percent
    max_bet: str | None = None
    expiry_days: int = 30
    max_conversion: str | None = None
    forfeit_on_withdrawal: bool = False


def percent_bp(text: str) -> int | None:
    """'12.5' -> 1250 basis points; None if it is not a plain decimal."""
    if not isinstance(text, str) or not _PERCENT.match(text):
        return None
    return int(Decimal(text) * 100)


class _Checker:
    def __init__(self, data: CampaignData, settings: Settings, now: datetime) -> None:
        self.d = data
        self.settings = settings
        self.now = now
        self.problems: list[FieldProblem] = []

    def fail(self, name: str, message: str) -> None:
        self.problems.append(FieldProblem(name, message))

    def money(self, name: str, text: str | None, *, required: bool = False) -> int | None:
        if text is None:
            if required:
                self.fail(name, f"is required for {self.d.kind} campaigns")
            return None
        try:
            return parse_amount(text, self.d.currency, field=name)
        except Exception as exc:  # ValidationFailed: collect, keep checking the rest
            self.fail(name, getattr(exc, "problems", [FieldProblem(name, str(exc))])[0].message)
            return None

    def percent(self, name: str, text: str | None, *, maximum: int) -> int | None:
        if text is None:
            return None
        bp = percent_bp(text)
        if bp is None:
            self.fail(name, "must be a percentage such as 50 or 12.5")
        elif bp < 0:
            self.fail(name, "must not be negative")
        elif bp > maximum:
            self.fail(name, f"must be at most {maximum // 100} %")
        else:
            return bp
        return None

    def count(self, name: str, value: int | None, low: int, high: int) -> int | None:
        if value is not None and not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}")
            return None
        return value


def check_campaign(
    data: CampaignData, settings: Settings, created_by: str, now: datetime | None = None
) -> tuple[BonusCampaign | None, list[FieldProblem]]:
    """The row to insert, or the list of problems (segments are checked by the service)."""
    c = _Checker(data, settings, now or datetime.now(UTC))
    d = data
    if not d.name or len(d.name) > 120 or not d.name.isprintable():
        c.fail("name", "must be 1 to 120 printable characters")
    if d.currency not in settings.supported_currencies:
        c.fail("currency", f"unsupported currency {d.currency!r}")
        return None, c.problems
    allowed = _KIND_TRIGGERS.get(d.kind)
    if allowed is not None and d.trigger not in allowed:
        c.fail("trigger", f"{d.kind} campaigns cannot use trigger {d.trigger}")
    if d.trigger is CampaignTrigger.CASHBACK_PERIOD and d.kind is not CampaignKind.CASHBACK:
        c.fail("trigger", "CASHBACK_PERIOD is only for CASHBACK campaigns")

    limit = MAX_PERCENT_BP if d.kind is CampaignKind.DEPOSIT_MATCH else 10_000
    pct = c.percent("percent", d.percent, maximum=limit)
    if d.kind in (CampaignKind.DEPOSIT_MATCH, CampaignKind.CASHBACK):
        if d.percent is None:
            c.fail("percent", f"is required for {d.kind} campaigns")
        elif pct == 0:
            c.fail("percent", "must be greater than zero")
    fixed = c.money("fixedAmount", d.fixed_amount,
                    required=d.kind in (CampaignKind.FIXED, CampaignKind.LOYALTY_TIER))  # fmt: skip
    cap = c.money("maxAmount", d.max_amount)
    minimum = c.money("minDeposit", d.min_deposit)
    if cap is not None and minimum is not None and cap < minimum:
        c.fail("maxAmount", "the cap is below the minimum deposit")
    spins = c.count("freeSpins", d.free_spins, 1, 10_000)
    stake = c.money("spinStake", d.spin_stake, required=d.kind is CampaignKind.FREE_SPINS)
    if d.kind is CampaignKind.FREE_SPINS:
        if d.free_spins is None:
            c.fail("freeSpins", "is required for FREE_SPINS campaigns")
        if not d.games:
            c.fail("games", "name at least one game")
    for game in d.games:
        if not game or len(game) > 64 or not game.isprintable():
            c.fail("games", f"invalid game id {game!r}")
    promo = d.promo_code.upper() if d.promo_code else None
    if promo is not None and not _PROMO.match(promo):
        c.fail("promoCode", "must be 3 to 32 letters, digits, '-' or '_'")
    if d.promo_expires_at is not None:
        if d.promo_expires_at.tzinfo is None:
            c.fail("promoExpiresAt", "must carry a time zone")
        elif d.promo_expires_at <= c.now:
            c.fail("promoExpiresAt", "the promo code has already expired")
    if promo is not None and d.trigger is not CampaignTrigger.DEPOSIT:
        c.fail("promoCode", "promo codes apply to DEPOSIT campaigns only")
    turnover = c.money("turnoverThreshold", d.turnover_threshold,
                       required=d.trigger is CampaignTrigger.TURNOVER_REACHED)  # fmt: skip
    tiers = [name for name, _ in settings.loyalty_tiers]
    needs_tier = d.kind is CampaignKind.LOYALTY_TIER
    if needs_tier and d.loyalty_tier is None:
        c.fail("loyaltyTier", "is required for LOYALTY_TIER campaigns")
    if d.loyalty_tier is not None and d.loyalty_tier not in tiers:
        c.fail("loyaltyTier", f"unknown tier {d.loyalty_tier!r} (known: {', '.join(tiers)})")
    period = c.count("periodDays", d.period_days, 1, 366)
    if d.period_days is None and (
        d.kind is CampaignKind.CASHBACK or d.award_limit is AwardLimit.ONCE_PER_PERIOD
    ):
        period = 1 if d.kind is CampaignKind.CASHBACK else None
        if period is None:
            c.fail("periodDays", "is required for ONCE_PER_PERIOD campaigns")
    for code in d.countries:
        if not isinstance(code, str) or pycountry.countries.get(alpha_2=code) is None:
            c.fail("countries", f"unknown country {code!r}")
    for state in d.kyc_states:
        if state not in ConfirmStatus.__members__:
            c.fail("kycStates", f"unknown KYC state {state!r}")
    multiplier = percent_bp(d.wagering_multiplier)
    if multiplier is None or multiplier < 0 or multiplier > MAX_MULTIPLIER_X100:
        c.fail("wageringMultiplier", "must be a number of times between 0 and 200")
        multiplier = 0
    contributions: dict[str, int] = {}
    for category, text in d.contributions.items():
        if category not in settings.bonus_game_categories:
            c.fail("contributions", f"unknown game category {category!r}")
            continue
        bp = c.percent("contributions", text, maximum=10_000)
        if bp is not None:
            contributions[category] = bp
    if not d.contributions:
        contributions = {settings.bonus_default_game_category: 10_000}
    max_bet = c.money("maxBet", d.max_bet)
    expiry = c.count("expiryDays", d.expiry_days, 1, 365)
    conversion = c.money("maxConversion", d.max_conversion)
    if c.problems:
        return None, c.problems
    return BonusCampaign(
        name=d.name, kind=d.kind, trigger=d.trigger, currency=d.currency, percent_bp=pct,
        fixed_amount=fixed, max_amount=cap, min_deposit=minimum, free_spins=spins,
        spin_stake=stake, games=list(d.games), promo_code=promo,
        promo_expires_at=d.promo_expires_at, turnover_threshold=turnover,
        loyalty_tier=d.loyalty_tier, period_days=period, countries=list(d.countries),
        segment_ids=list(d.segment_ids), kyc_states=list(d.kyc_states),
        award_limit=d.award_limit, wagering_multiplier_x100=multiplier,
        wagering_base=d.wagering_base, contributions=contributions, max_bet=max_bet,
        expiry_days=expiry or 30, max_conversion=conversion,
        forfeit_on_withdrawal=d.forfeit_on_withdrawal, created_by=created_by,
    ), []  # fmt: skip
