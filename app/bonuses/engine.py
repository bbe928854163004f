"""Bonus rules applied inside a ledger operation, on rows LOAD already locked.

Called through the bonus ledger extension (app/bonuses/extension.py: reserve, settle,
roll back, withdraw) and from the bonus operations: plain Python, no I/O. The locked rows
are the extension's ``BonusRows``; writes go to its ``BonusWrites`` and ride in the
operation's one APPLY statement.

Which BONUS-wallet money belongs to which bonus: the wallet is one pool, so a bonus being
closed (fulfilled, expired, forfeited, cancelled) owns what is available in the pool less
the granted amounts of the player's other active bonuses in that currency (never below
zero). Wins and losses on bonus money therefore land on the oldest bonus, the one that
wagering also fills first.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.bonuses.errors import MaxBetExceeded
from app.bonuses.models import BonusStatus
from app.core.currencies import FREE_SPINS_UNIT, exponent
from app.core.money import format_amount
from app.core.settings import Settings
from app.ledger.models import HouseAccountKind, TransferKind
from app.ledger.operation import Operation
from app.wallets.models import WalletKind

LIABILITY = HouseAccountKind.BONUS_LIABILITY
FULL_BP = 10_000
NAME = "bonuses"  # the extension's key in op.loaded.extensions / op.writes.extensions


@dataclass
class BonusRows:
    """What LOAD locked for the bonus rules: ACTIVE bonuses by id, the loyalty account."""

    bonuses: list[dict[str, Any]] = field(default_factory=list)
    loyalty: dict[str, Any] | None = None


@dataclass
class BonusWrites:
    # bonus id -> (wagered, status, released+, forfeited+)
    bonus_updates: dict[int, tuple[int, str, int, int]] = field(default_factory=dict)
    loyalty: tuple[int, str] | None = None  # (points+, tier)


@dataclass
class BatchBonusWrites:
    """One player's bonus writes over a set-based walletBatch's operations."""

    player_id: uuid.UUID
    bonus_updates: dict[int, tuple[int, str, int, int]] = field(default_factory=dict)
    loyalty: tuple[int, str] | None = None  # (points+ of the whole batch, last tier)


def merge_writes(player_id: uuid.UUID, previous: BatchBonusWrites | None, w: BonusWrites,
                 state: BonusRows) -> BatchBonusWrites:  # fmt: skip
    """``w`` after ``previous``: a bonus's last wagered figure and status, its released and
    forfeited amounts summed; loyalty points summed, the last tier. ``state`` (the rows
    the player's next operation sees) gets the loyalty account as it now stands: the
    rules change the bonuses' own rows in place, but not the account."""
    updates = dict(previous.bonus_updates) if previous is not None else {}
    for bonus_id, (wagered, status, released, forfeited) in w.bonus_updates.items():
        before = updates.get(bonus_id, (0, "", 0, 0))
        updates[bonus_id] = (wagered, status, before[2] + released, before[3] + forfeited)
    loyalty = previous.loyalty if previous is not None else None
    if w.loyalty is not None:
        points, tier = w.loyalty
        loyalty = (points + (loyalty[0] if loyalty else 0), tier)
        account = dict(state.loyalty or {})
        account.update(points=int(account.get("points", 0)) + points, tier=tier)
        state.loyalty = account
    return BatchBonusWrites(player_id, updates, loyalty)


def rows(op: Operation) -> BonusRows:
    found = op.loaded.extensions.get(NAME)
    return found if isinstance(found, BonusRows) else BonusRows()


def writes(op: Operation) -> BonusWrites:
    found = op.writes.extensions.setdefault(NAME, BonusWrites())
    assert isinstance(found, BonusWrites)
    return found


def wallet_kind(currency: str) -> str:
    return WalletKind.FREESPINS if currency == FREE_SPINS_UNIT else WalletKind.BONUS


def active(op: Operation, currency: str | None = None) -> list[dict[str, Any]]:
    return [
        b for b in rows(op).bonuses
        if b["status"] == BonusStatus.ACTIVE and (currency is None or b["currency"] == currency)
    ]  # fmt: skip


def funds_of(op: Operation, bonus: dict[str, Any]) -> int:
    """The pool money owned by ``bonus`` (see the module docstring)."""
    pool = op.wallet(wallet_kind(bonus["currency"]))
    others = sum(b["amount"] for b in active(op, bonus["currency"]) if b["id"] != bonus["id"])
    return max(0, pool.available - int(others))


def _record(op: Operation, bonus: dict[str, Any], released: int = 0, forfeited: int = 0) -> None:
    before = writes(op).bonus_updates.get(bonus["id"], (0, "", 0, 0))
    writes(op).bonus_updates[bonus["id"]] = (
        bonus["wagered"], bonus["status"], before[2] + released, before[3] + forfeited,
    )  # fmt: skip


def _money(minor: int, currency: str) -> str:
    return format_amount(minor, currency)


def close(
    op: Operation, bonus: dict[str, Any], status: BonusStatus, reason: str | None = None
) -> int:
    """End ``bonus`` without converting it: its money goes back to the house."""
    amount = funds_of(op, bonus)
    bonus["status"] = status
    op.move(wallet_kind(bonus["currency"]), -amount, LIABILITY, TransferKind.BONUS_FORFEIT)
    _record(op, bonus, forfeited=amount)
    op.event(f"bonus.{status.lower()}", {
        "bonusId": str(bonus["id"]), "campaignId": str(bonus["campaign_id"]),
        "returned": _money(amount, bonus["currency"]), "currency": bonus["currency"],
        "reason": reason,
    })  # fmt: skip
    return amount


def release(op: Operation, bonus: dict[str, Any]) -> int:
    """Wagering met: move the bonus's money to REAL up to the max conversion; the excess
    goes back to the house. Returns what reached REAL."""
    funds = funds_of(op, bonus)
    cap = bonus["max_conversion"]
    converted = funds if cap is None else min(funds, cap)
    bonus["status"] = BonusStatus.FULFILLED
    op.move(WalletKind.BONUS, -funds, LIABILITY, TransferKind.BONUS_CONVERSION)
    op.move(WalletKind.REAL, converted, LIABILITY, TransferKind.BONUS_CONVERSION)
    _record(op, bonus, released=converted, forfeited=funds - converted)
    cur = bonus["currency"]
    op.event("bonus.fulfilled", {
        "bonusId": str(bonus["id"]), "campaignId": str(bonus["campaign_id"]),
        "released": _money(converted, cur), "returned": _money(funds - converted, cur),
        "currency": cur,
    })  # fmt: skip
    return converted


def check_max_bet(op: Operation, stake: int, currency: str) -> None:
    """Refuse a stake above the max bet of any active bonus in that currency."""
    for b in active(op, currency):
        if b["max_bet"] is not None and b["wagering_required"] > 0 and stake > b["max_bet"]:
            raise MaxBetExceeded(
                f"the maximum bet while wagering bonus {b['id']} is "
                f"{_money(b['max_bet'], currency)} {currency}"
            )


def contribute(op: Operation, stake: int, currency: str, category: str) -> list[dict[str, Any]]:
    """Count a settled stake towards the active bonuses, oldest first; a stake larger than
    what the oldest still needs flows on to the next. Bonuses that reach their requirement
    are released at once. Returns the progress lines for the result document."""
    progress: list[dict[str, Any]] = []
    rest = stake
    for b in active(op, currency):
        if rest <= 0:
            break
        weight = int(b["contributions"].get(category, 0))
        need = b["wagering_required"] - b["wagered"]
        if weight <= 0 or need <= 0:
            continue
        counted = rest * weight // FULL_BP
        taken = min(counted, need)
        if taken <= 0:
            continue
        b["wagered"] += taken
        wagering = op.derived.setdefault("wagering", {})
        wagering[str(b["id"])] = wagering.get(str(b["id"]), 0) + taken
        # The part of the stake this bonus used up (rounded up); the rest flows on.
        rest = 0 if taken == counted else rest - -(-taken * FULL_BP // weight)
        _record(op, b)
        progress.append({"bonusId": str(b["id"]), "wagered": _money(b["wagered"], currency),
                         "required": _money(b["wagering_required"], currency)})  # fmt: skip
        if b["wagered"] >= b["wagering_required"]:
            release(op, b)
    return progress


def reverse_derived(op: Operation, derived: Mapping[str, Any], settings: Settings) -> None:
    """A refunded (rolled-back) round takes back what its settlement counted: wagering on
    bonuses still ACTIVE (a released bonus stays released; its money already moved) and the
    loyalty points it earned. Without this a refunded round would still count."""
    taken = {int(k): int(v) for k, v in derived.get("wagering", {}).items()}
    for b in rows(op).bonuses:
        if b["id"] in taken and b["status"] == BonusStatus.ACTIVE:
            b["wagered"] = max(0, b["wagered"] - taken[b["id"]])
            _record(op, b)
    points = int(derived.get("points", 0))
    loyalty = rows(op).loyalty
    if points > 0 and loyalty:
        before = int(loyalty.get("points", 0))
        back = min(points, before)
        writes(op).loyalty = (-back, tier_for(before - back, settings))


def forfeit_on_withdrawal(op: Operation, currency: str) -> None:
    for b in active(op, currency):
        if b["forfeit_on_withdrawal"] and b["wagering_required"] > 0:
            close(op, b, BonusStatus.FORFEITED, "withdrawal while wagering")


# --- loyalty ----------------------------------------------------------------------------


def tier_for(points: int, settings: Settings) -> str:
    tier = settings.loyalty_tiers[0][0]
    for name, threshold in settings.loyalty_tiers:
        if points >= threshold:
            tier = name
    return tier


def loyalty_points(stake: int, currency: str, category: str, settings: Settings) -> int:
    rate = settings.loyalty_points_per_unit.get(currency, settings.loyalty_default_points_per_unit)
    percent = settings.loyalty_category_percent.get(category, 100)
    return int(stake * rate * percent // (100 * 10 ** exponent(currency)))


def accrue_loyalty(
    op: Operation, stake: int, currency: str, category: str, settings: Settings
) -> None:
    points = loyalty_points(stake, currency, category, settings)
    if points <= 0:
        return
    before = int((rows(op).loyalty or {}).get("points", 0))
    old_tier = (rows(op).loyalty or {}).get("tier") or tier_for(before, settings)
    new_tier = tier_for(before + points, settings)
    writes(op).loyalty = (points, new_tier)
    op.derived["points"] = points
    op.extra["loyaltyPoints"] = points
    if new_tier != old_tier:
        op.extra["loyaltyTierChanged"] = new_tier
        op.event("loyalty.tier_changed", {"from": old_tier, "to": new_tier,
                                          "points": str(before + points)})  # fmt: skip
