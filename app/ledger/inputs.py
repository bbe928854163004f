"""Input checks and small rules shared by the operation families."""

from __future__ import annotations

import re
from typing import Any

from app.core.errors import ValidationFailed
from app.core.money import parse_amount
from app.core.settings import Settings
from app.ledger.errors import HoldNotPending, ReservationNotFound
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
    return parse_amount(text, currency, field=field, allow_zero=allow_zero)


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
    for h in op.loaded.holds:
        if h["id"] == hold_id and h["purpose"] == purpose and h["player_id"] == str(op.player_id):
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
