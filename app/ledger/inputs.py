"""Input checks and small rules shared by the operation families."""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

from app.core.currencies import CURRENCY_EXPONENTS, exponent
from app.core.errors import ValidationFailed
from app.core.money import MAX_MINOR_UNITS, format_amount, parse_minor_units
from app.core.settings import Settings
from app.ledger.errors import AmountTooLarge, HoldNotPending, ReservationNotFound
from app.ledger.models import HoldPurpose, HoldStatus
from app.ledger.operation import Operation
from app.ledger.validation import check_text
from app.wallets.models import WalletKind

# Game and provider ids as the game engine names them (profiling, segments).
GAME_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def amount(text: str, currency: str, settings: Settings, *, field: str = "amount",
           allow_zero: bool = False) -> int:  # fmt: skip
    if currency not in settings.supported_currencies:
        raise ValidationFailed.single("currency", f"unsupported currency {currency!r}")
    minor = parse_minor_units(text, currency, field=field, allow_zero=allow_zero)
    return within_maximum(minor, currency, settings, field=field)


def within_maximum(minor: int, currency: str, settings: Settings | None, *, field: str) -> int:
    """``minor`` if one operation may move it; else AmountTooLarge (nothing is written)."""
    limit = MAX_MINOR_UNITS
    if settings is not None and currency in CURRENCY_EXPONENTS:
        major = settings.max_operation_amount_by_currency.get(
            currency, settings.max_operation_amount
        )
        limit = _minor_limit(major, currency)
    if minor > limit:
        shown = format_amount(limit, currency) if currency in CURRENCY_EXPONENTS else str(limit)
        raise AmountTooLarge(f"{field} is above the maximum of {shown} {currency} per operation")
    return minor


@functools.lru_cache(maxsize=256)
def _minor_limit(major: Decimal, currency: str) -> int:
    """A configured maximum in minor units (the same few per process: cached)."""
    return min(MAX_MINOR_UNITS, int(major.scaleb(exponent(currency))))


def spins(count: int) -> int:
    if not isinstance(count, int) or not 1 <= count <= 1_000_000:
        raise ValidationFailed.single("spins", "must be between 1 and 1000000")
    return count


def check_settle_input(
    settings: Settings, reservation_id: int | None, game_round_id: str | None,
    game_category: str | None, game_id: str | None, game_provider: str | None,
) -> None:  # fmt: skip
    """The settle request's descriptors and round selector, before any statement."""
    if game_category is not None and game_category not in settings.bonus_game_categories:
        raise ValidationFailed.single("gameCategory", f"unknown game category {game_category!r}")
    for name, value in (("gameId", game_id), ("gameProvider", game_provider)):
        if value is not None and not GAME_TAG.match(value):
            raise ValidationFailed.single(name, "1-64 letters, digits, '_', '.', ':' or '-'")
    if (reservation_id is None) == (game_round_id is None):
        raise ValidationFailed.single(
            "reservationId", "give exactly one of reservationId, gameRoundId"
        )
    if game_round_id is not None:
        check_text("gameRoundId", game_round_id)


def find_hold(op: Operation, hold_id: int, purpose: HoldPurpose) -> dict[str, Any]:
    player = op.ids[0]
    for h in op.loaded.holds:
        if h["id"] == hold_id and h["purpose"] == purpose and h["player_id"] == player:
            return h
    raise ReservationNotFound(f"no {purpose.lower()} reservation {hold_id} for this player")


def require_pending(hold: dict[str, Any]) -> None:
    if hold["status"] != HoldStatus.PENDING:
        raise HoldNotPending(f"reservation {hold['id']} is {hold['status']}")
    if hold["expired"]:
        raise HoldNotPending(f"reservation {hold['id']} has expired")


def release(op: Operation, hold: dict[str, Any]) -> None:
    """Give a hold's money back to available (void)."""
    op.hold(WalletKind.REAL, -hold["real_amount"])
    if hold["purpose"] == HoldPurpose.BET:
        op.hold(WalletKind.BONUS, -hold["bonus_amount"])
