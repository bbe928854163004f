"""Money operations. Each takes a session (inside the caller's transaction), never
commits, and makes exactly two statements: LOAD (idempotency claim + wallet locks +
reads) and APPLY (all writes). The rules in between are plain Python on locked rows.

The result of an operation is a JSON document (``Outcome.body``) stored with the
idempotency key in the same transaction; a retry with the same key gets that document
back unchanged. Business errors listed in ``errors.STORED_ERRORS`` are such documents
too (the transaction commits with them); every other DomainError raised here rolls back.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import engine as bonus_engine
from app.core.currencies import FREE_SPINS_UNIT
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.core.logging import client_ip_var, request_id_var
from app.core.money import format_amount, parse_amount
from app.core.principal import Principal
from app.core.settings import Settings
from app.kyc.errors import VerificationRequired
from app.ledger import repository
from app.ledger.errors import (
    AccountBlocked,
    CurrencyMismatch,
    DuplicateTransaction,
    HoldNotPending,
    IdempotencyKeyReused,
    InsufficientFunds,
    RequestInProgress,
    ReservationNotFound,
    RoundNotFound,
)
from app.ledger.models import (
    GameTransactionKind,
    HoldPurpose,
    HoldStatus,
    HouseAccountKind,
    RoundStatus,
    TransferKind,
)
from app.ledger.repository import IdempotencyClaim, Loaded, NewHold, RoundUpdate, Writes
from app.ledger.validation import (
    check_idempotency_key,
    check_payment_reference,
    check_text,
)
from app.players.models import ConfirmStatus, PlayerStatus
from app.wallets.models import WalletKind

# Statuses in which a player may not start new debits (credits, settles, voids go on).
DEBIT_BLOCKED = {PlayerStatus.BLOCKED, PlayerStatus.SELF_EXCLUDED, PlayerStatus.CLOSED}

# The house side of a staff adjustment, by wallet kind.
ADJUSTMENT_HOUSE = {
    WalletKind.REAL: HouseAccountKind.CASH_CLEARING,
    WalletKind.BONUS: HouseAccountKind.BONUS_LIABILITY,
    WalletKind.FREESPINS: HouseAccountKind.BONUS_LIABILITY,
    WalletKind.TOURNAMENT: HouseAccountKind.GAME,
}


@dataclass(frozen=True)
class Outcome:
    """What an operation answered: the stored JSON text and its parsed form."""

    text: str

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.text)


# Game and provider ids as the game engine names them (profiling, segments).
GAME_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(operation: str, request: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json([operation, request]).encode()).hexdigest()


@dataclass
class _Wallet:
    id: int
    kind: str
    currency: str
    balance: int
    held: int
    turnover: int = 0
    changed: bool = False

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass
class _Op:
    """The working state of one operation between LOAD and APPLY."""

    name: str
    player_id: uuid.UUID
    loaded: Loaded
    writes: Writes
    wallets: dict[str, _Wallet]
    transfers: list[dict[str, str]] = field(default_factory=list)
    holds: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # What this operation adds to derived state (bonus wagering, loyalty points), kept on
    # the game round so a rollback can take exactly that back.
    derived: dict[str, Any] = field(default_factory=dict)

    def wallet(self, kind: str) -> _Wallet:
        return self.wallets[kind]

    def require_currency(self, wallet: _Wallet, currency: str) -> None:
        if wallet.currency != currency:
            raise CurrencyMismatch(
                f"the {wallet.kind} wallet holds {wallet.currency}, not {currency}"
            )

    def require_debit_allowed(self) -> None:
        if self.loaded.player_status in DEBIT_BLOCKED:
            raise AccountBlocked(f"player is {self.loaded.player_status}: no new debits")

    def move(self, kind: str, amount: int, house: str, transfer_kind: str) -> None:
        """Post ``amount`` (signed, wallet side) between wallet ``kind`` and ``house``."""
        if amount == 0:
            return
        w = self.wallets[kind]
        w.balance += amount
        w.changed = True
        self.writes.transfers.append(
            repository.TransferLine(w.id, house, w.currency, amount, transfer_kind, w.balance)
        )
        self.transfers.append(
            {"kind": transfer_kind, "walletKind": kind, "amount": format_amount(amount, w.currency),
             "currency": w.currency}
        )  # fmt: skip

    def hold(self, kind: str, amount: int) -> None:
        """Change wallet ``kind``'s held amount by ``amount`` (signed)."""
        if amount == 0:
            return
        w = self.wallets[kind]
        w.held += amount
        w.changed = True

    def count_turnover(self, kind: str, amount: int) -> None:
        if amount:
            self.wallets[kind].turnover += amount
            self.wallets[kind].changed = True

    def event(self, type: str, data: dict[str, Any]) -> None:
        payload = {"playerId": str(self.player_id), "operationId": str(self.writes.operation_id)}
        payload.update(data)
        self.writes.events.append((type, canonical_json(payload)))

    def snapshot(self) -> list[dict[str, str]]:
        return [
            {"kind": w.kind, "currency": w.currency,
             "balance": format_amount(w.balance, w.currency),
             "held": format_amount(w.held, w.currency),
             "available": format_amount(w.available, w.currency)}
            for w in sorted(self.wallets.values(), key=lambda w: w.id)
        ]  # fmt: skip

    def finish(self) -> dict[str, Any]:
        """Wallet writes, the balance_changed event and the success document."""
        for w in self.wallets.values():
            if w.changed:
                if w.held < 0 or w.balance < w.held:
                    raise RuntimeError(f"ledger rule broken on wallet {w.id}")  # a bug, not input
                self.writes.wallets[w.id] = (w.balance, w.held, w.turnover)
        wallets = self.snapshot()
        if self.writes.wallets:
            self.writes.events.append(
                ("wallet.balance_changed", canonical_json({
                    "playerId": str(self.player_id),
                    "transactionId": str(self.writes.operation_id),
                    "operation": self.name,
                    "wallets": wallets,
                }))
            )  # fmt: skip
        body = {
            "status": "OK",
            "operation": self.name,
            "operationId": str(self.writes.operation_id),
            "playerId": str(self.player_id),
            "transfers": self.transfers,
            "holds": self.holds,
            "wallets": wallets,
        }
        body.update(self.extra)
        return body

    def stored_error(self, error: type[DomainError], message: str) -> dict[str, Any]:
        """A business error that becomes the key's stored outcome (nothing else written)."""
        self.writes = Writes(self.writes.operation_id, self.player_id, self.writes.actor)
        return {
            "status": error.code,
            "code": error.code,
            "message": message,
            "operation": self.name,
            "playerId": str(self.player_id),
            "wallets": self.snapshot(),
        }


Plan = Callable[[_Op], dict[str, Any]]
# Runs between plan and APPLY on a successful plan (bonus awards insert their row here).
BeforeApply = Callable[[Any, _Op, dict[str, Any]], Awaitable[None]]


async def _run(
    session: AsyncSession,
    caller: Principal,
    operation: str,
    key: str,
    request: dict[str, Any],
    player_id: uuid.UUID,
    plan: Plan,
    *,
    reference: str | None = None,
    before_apply: BeforeApply | None = None,
    **load: Any,
) -> Outcome:
    claim = IdempotencyClaim(caller.key, operation, key, request_hash(operation, request))
    conn = await repository.driver(session)
    loaded = await repository.load(conn, claim, player_id, client=caller.key, **load)
    if not loaded.claimed:
        return await _replay(conn, claim)
    if not loaded.wallets:
        raise NotFound("player not found")
    wallets = {
        w["kind"]: _Wallet(w["id"], w["kind"], w["currency"], w["balance"], w["held"])
        for w in loaded.wallets
    }
    writes = Writes(
        operation_id=uuid.uuid4(),
        player_id=player_id,
        actor=caller.key,
        reference=reference,
        idempotency_key=key,
        client=caller.key,
    )
    op = _Op(operation, player_id, loaded, writes, wallets)
    body = plan(op)
    if before_apply is not None and body["status"] == "OK":
        await before_apply(conn, op, body)
    text = canonical_json(body)
    op.writes.audit = _audit_row(operation, body)
    applied = await repository.apply(conn, op.writes, text, claim)
    # A race LOAD could not see (its snapshot predates the wallet lock) shows here; the
    # unique indexes decided it, and raising rolls the whole operation back.
    w = op.writes
    if w.round_ref is not None and applied.rounds != 1:
        raise HoldNotPending("the game round is closed or belongs to another player")
    if w.new_hold is not None and applied.holds_inserted != 1:
        raise HoldNotPending("the game round is closed")
    if w.game_transaction is not None and applied.game_transactions != 1:
        raise DuplicateTransaction("this transaction id was already used")
    return Outcome(text)


def _audit_row(operation: str, body: dict[str, Any]) -> tuple[str, str, str | None, str, str]:
    """The operation's audit_log row, written by the same APPLY statement (no extra round
    trip): a stored business error (InsufficientFunds) is a failure with its code."""
    ok = body["status"] == "OK"
    details = {"operationId": body.get("operationId")} if ok else {"code": body["status"]}
    return (
        f"ledger.{operation}",
        "success" if ok else "failure",
        client_ip_var.get(),
        request_id_var.get(),
        canonical_json(details),
    )


async def _replay(conn: Any, claim: IdempotencyClaim) -> Outcome:
    found = await repository.stored(conn, claim)
    if found is None:
        raise RequestInProgress("the request with this key is still in progress; retry")
    stored_hash, response = found
    if stored_hash != claim.request_hash:
        raise IdempotencyKeyReused("this idempotency key was used with different input")
    if response is None:
        raise RequestInProgress("the request with this key is still in progress; retry")
    return Outcome(response)


# --- inputs -------------------------------------------------------------------------------


def _amount(text: str, currency: str, settings: Settings, *, field: str = "amount",
            allow_zero: bool = False) -> int:  # fmt: skip
    if currency not in settings.supported_currencies:
        raise ValidationFailed.single("currency", f"unsupported currency {currency!r}")
    return parse_amount(text, currency, field=field, allow_zero=allow_zero)


def _common(key: str) -> None:
    check_idempotency_key(key)


def _find_hold(op: _Op, hold_id: int, purpose: HoldPurpose) -> dict[str, Any]:
    for h in op.loaded.holds:
        if h["id"] == hold_id and h["purpose"] == purpose and h["player_id"] == str(op.player_id):
            return h
    raise ReservationNotFound(f"no {purpose.lower()} reservation {hold_id} for this player")


def _require_pending(hold: dict[str, Any]) -> None:
    if hold["status"] != HoldStatus.PENDING:
        raise HoldNotPending(f"reservation {hold['id']} is {hold['status']}")
    if hold["expired"]:
        raise HoldNotPending(f"reservation {hold['id']} has expired")


def _release(op: _Op, hold: dict[str, Any]) -> None:
    """Give a hold's money back to available (void)."""
    op.hold(WalletKind.REAL, -hold["real_amount"])
    if hold["purpose"] == HoldPurpose.BET:
        op.hold(WalletKind.BONUS, -hold["bonus_amount"])


# --- bets ---------------------------------------------------------------------------------


async def reserve_bet(
    session: AsyncSession,
    settings: Settings,
    caller: Principal,
    *,
    player_id: uuid.UUID,
    amount: str,
    currency: str,
    game_round_id: str,
    transaction_id: str,
    idempotency_key: str,
) -> Outcome:
    _common(idempotency_key)
    check_text("gameRoundId", game_round_id)
    check_text("transactionId", transaction_id)
    minor = _amount(amount, currency, settings)
    order = settings.bet_funding_order

    def plan(op: _Op) -> dict[str, Any]:
        op.require_debit_allowed()
        real, bonus = op.wallet(WalletKind.REAL), op.wallet(WalletKind.BONUS)
        op.require_currency(real, currency)
        bonus_engine.check_max_bet(op, minor, currency)
        if op.loaded.seen_transaction is not None:
            raise DuplicateTransaction(
                "this bet was rolled back before it arrived"
                if op.loaded.seen_transaction == GameTransactionKind.TOMBSTONE
                else "this transaction id was already used"
            )
        available = sum(op.wallet(kind).available for kind in order)
        if available < minor:
            return op.stored_error(InsufficientFunds, "not enough funds for this bet")
        parts: dict[str, int] = {}
        rest = minor
        for kind in order:
            parts[kind] = min(op.wallet(kind).available, rest)
            rest -= parts[kind]
        for kind, part in parts.items():
            op.hold(kind, part)
            if part:
                op.holds.append({"walletKind": kind, "amount": format_amount(part, currency),
                                 "currency": currency})  # fmt: skip
        hold_id = op.loaded.new_hold_id
        assert hold_id is not None
        op.writes.round_ref = game_round_id
        op.writes.round_currency = currency
        op.writes.new_hold = NewHold(
            id=hold_id,
            purpose=HoldPurpose.BET,
            transaction_id=transaction_id,
            currency=currency,
            real_wallet_id=real.id,
            bonus_wallet_id=bonus.id,
            real_amount=parts.get(WalletKind.REAL, 0),
            bonus_amount=parts.get(WalletKind.BONUS, 0),
            expires_in_seconds=float(settings.hold_timeout_seconds),
        )
        op.writes.game_transaction = (transaction_id, GameTransactionKind.BET)
        op.extra.update(reservationId=str(hold_id), gameRoundId=game_round_id)
        op.event("bet.reserved", {
            "reservationId": str(hold_id), "gameRoundId": game_round_id,
            "transactionId": transaction_id, "amount": amount_text(minor, currency),
            "currency": currency, "holds": op.holds,
        })  # fmt: skip
        return op.finish()

    return await _run(
        session, caller, "reserveBet", idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency,
         "gameRoundId": game_round_id, "transactionId": transaction_id},
        player_id, plan,
        new_transaction_id=transaction_id, allocate_hold=True,
    )  # fmt: skip


def amount_text(minor: int, currency: str) -> str:
    return format_amount(minor, currency)


async def settle_bet(
    session: AsyncSession,
    settings: Settings,
    caller: Principal,
    *,
    player_id: uuid.UUID,
    reservation_id: int | None,
    game_round_id: str | None,
    win_amount: str,
    currency: str,
    transaction_id: str,
    idempotency_key: str,
    game_category: str | None = None,
    game_id: str | None = None,
    game_provider: str | None = None,
) -> Outcome:
    _common(idempotency_key)
    if game_category is not None and game_category not in settings.bonus_game_categories:
        raise ValidationFailed.single("gameCategory", f"unknown game category {game_category!r}")
    for name, value in (("gameId", game_id), ("gameProvider", game_provider)):
        if value is not None and not GAME_TAG.match(value):
            raise ValidationFailed.single(name, "1-64 letters, digits, '_', '.', ':' or '-'")
    category = game_category or settings.bonus_default_game_category
    if (reservation_id is None) == (game_round_id is None):
        raise ValidationFailed.single(
            "reservationId", "give exactly one of reservationId, gameRoundId"
        )
    if game_round_id is not None:
        check_text("gameRoundId", game_round_id)
    check_text("transactionId", transaction_id)
    win = _amount(win_amount, currency, settings, field="winAmount", allow_zero=True)

    def plan(op: _Op) -> dict[str, Any]:
        rounds = {r["id"]: r for r in op.loaded.rounds}
        target = None
        if reservation_id is not None:
            target = _find_hold(op, reservation_id, HoldPurpose.BET)
            rnd = rounds.get(target["game_round_id"])
        else:
            rnd = next((r for r in rounds.values() if r["round_ref"] == game_round_id), None)
        if rnd is None or rnd["player_id"] != str(player_id):
            raise RoundNotFound(f"no game round {game_round_id!r} for this player")
        if op.loaded.seen_transaction is not None:
            raise DuplicateTransaction("this transaction id was already used")
        if rnd["currency"] != currency:
            raise CurrencyMismatch(f"the round is in {rnd['currency']}, not {currency}")
        if rnd["status"] != RoundStatus.OPEN:
            raise HoldNotPending(f"the game round is {rnd['status']}")
        if target is not None:
            _require_pending(target)
        pending = [
            h for h in op.loaded.holds
            if h["game_round_id"] == rnd["id"] and h["status"] == HoldStatus.PENDING
            and not h["expired"]
        ]  # fmt: skip
        if not pending:
            raise HoldNotPending("the round has no pending bet (expired, cancelled or settled)")
        stake_real = sum(h["real_amount"] for h in pending)
        stake_bonus = sum(h["bonus_amount"] for h in pending)
        # The win goes back where the stake came from; the rounding remainder to REAL.
        win_bonus = win * stake_bonus // (stake_real + stake_bonus)
        win_real = win - win_bonus
        game = HouseAccountKind.GAME
        for kind, stake, won in ((WalletKind.REAL, stake_real, win_real),
                                 (WalletKind.BONUS, stake_bonus, win_bonus)):  # fmt: skip
            op.hold(kind, -stake)
            op.move(kind, -stake, game, TransferKind.BET)
            op.count_turnover(kind, stake)
            op.move(kind, won, game, TransferKind.WIN)
        stake = stake_real + stake_bonus
        if op.loaded.bonuses:  # wagering: only players holding an active bonus pay for it
            op.extra["bonusProgress"] = bonus_engine.contribute(op, stake, currency, category)
        bonus_engine.accrue_loyalty(op, stake, currency, category, settings)
        op.writes.hold_updates = [(h["id"], HoldStatus.POSTED) for h in pending]
        op.writes.round_update = RoundUpdate(
            rnd["id"],
            RoundStatus.SETTLED,
            stake_real,
            stake_bonus,
            win_real,
            win_bonus,
            canonical_json(op.derived),
        )
        op.writes.game_transaction = (transaction_id, GameTransactionKind.WIN)
        op.extra.update(gameRoundId=rnd["round_ref"])
        op.event("bet.settled", {
            "gameRoundId": rnd["round_ref"], "transactionId": transaction_id,
            "reservationIds": [str(h["id"]) for h in pending],
            "stake": amount_text(stake_real + stake_bonus, currency),
            "win": amount_text(win, currency), "currency": currency,
            "gameId": game_id, "gameProvider": game_provider, "gameCategory": category,
        })  # fmt: skip
        return op.finish()

    request = {"playerId": str(player_id), "reservationId": reservation_id,
               "gameRoundId": game_round_id, "winAmount": win, "currency": currency,
               "transactionId": transaction_id}  # fmt: skip
    # Optional descriptors join the request (and so the idempotency hash) only when given,
    # so keys stored before they existed still replay.
    for name, value in (("gameCategory", game_category), ("gameId", game_id),
                        ("gameProvider", game_provider)):  # fmt: skip
        if value is not None:
            request[name] = value
    outcome = await _run(
        session, caller, "settleBet", idempotency_key, request, player_id, plan,
        hold_ids=[reservation_id] if reservation_id is not None else [],
        round_ref=game_round_id, new_transaction_id=transaction_id,
    )  # fmt: skip
    tier = outcome.body.get("loyaltyTierChanged")
    if tier:  # rare: a tier reward campaign may pay out, in this same transaction
        from app.bonuses import triggers

        await triggers.after_tier_change(session, settings, player_id, tier)
    return outcome


async def cancel_bet(
    session: AsyncSession,
    settings: Settings,
    caller: Principal,
    *,
    player_id: uuid.UUID,
    reservation_id: int,
    idempotency_key: str,
) -> Outcome:
    _common(idempotency_key)

    def plan(op: _Op) -> dict[str, Any]:
        hold = _find_hold(op, reservation_id, HoldPurpose.BET)
        _require_pending(hold)
        _release(op, hold)
        op.writes.hold_updates = [(hold["id"], HoldStatus.VOIDED)]
        op.extra.update(reservationId=str(hold["id"]))
        op.event("bet.cancelled", {"reservationId": str(hold["id"]), "reason": "CANCELLED"})
        return op.finish()

    return await _run(
        session, caller, "cancelBet", idempotency_key,
        {"playerId": str(player_id), "reservationId": reservation_id},
        player_id, plan, hold_ids=[reservation_id],
    )  # fmt: skip


async def rollback_bet(
    session: AsyncSession,
    settings: Settings,
    caller: Principal,
    *,
    player_id: uuid.UUID,
    transaction_id: str,
    idempotency_key: str,
) -> Outcome:
    """The provider takes back a bet: void it if pending; tombstone it if never seen."""
    _common(idempotency_key)
    check_text("transactionId", transaction_id)

    def plan(op: _Op) -> dict[str, Any]:
        hold = next((h for h in op.loaded.holds if h["transaction_id"] == transaction_id), None)
        op.extra.update(transactionId=transaction_id)
        if hold is None:
            seen = op.loaded.seen_transaction
            if seen is None:
                op.writes.game_transaction = (transaction_id, GameTransactionKind.TOMBSTONE)
                op.event("bet.rolled_back", {"transactionId": transaction_id, "tombstone": True})
            elif seen != GameTransactionKind.TOMBSTONE:
                raise DuplicateTransaction("this transaction id is not a bet")
            return op.finish()
        if hold["player_id"] != str(player_id):
            raise ReservationNotFound("no bet with this transaction id for this player")
        if hold["status"] == HoldStatus.POSTED:
            raise HoldNotPending("the bet's round is settled; roll back the round instead")
        if hold["status"] == HoldStatus.PENDING:
            _release(op, hold)
            op.writes.hold_updates = [(hold["id"], HoldStatus.ROLLED_BACK)]
            op.event("bet.rolled_back", {"transactionId": transaction_id,
                                         "reservationId": str(hold["id"])})  # fmt: skip
        op.extra.update(reservationId=str(hold["id"]))
        return op.finish()

    return await _run(
        session, caller, "rollbackBet", idempotency_key,
        {"playerId": str(player_id), "transactionId": transaction_id},
        player_id, plan,
        bet_transaction_id=transaction_id, new_transaction_id=transaction_id,
    )  # fmt: skip


async def rollback_round(
    session: AsyncSession,
    settings: Settings,
    caller: Principal,
    *,
    player_id: uuid.UUID,
    game_round_id: str,
    transaction_id: str,
    idempotency_key: str,
) -> Outcome:
    """Provider refund of a settled round: stakes back, wins taken back, turnover reversed."""
    _common(idempotency_key)
    check_text("gameRoundId", game_round_id)
    check_text("transactionId", transaction_id)

    def plan(op: _Op) -> dict[str, Any]:
        rnd = next((r for r in op.loaded.rounds if r["round_ref"] == game_round_id), None)
        if rnd is None or rnd["player_id"] != str(player_id):
            raise RoundNotFound(f"no game round {game_round_id!r} for this player")
        op.extra.update(gameRoundId=game_round_id)
        if rnd["status"] == RoundStatus.ROLLED_BACK:
            return op.finish()
        if rnd["status"] != RoundStatus.SETTLED:
            raise HoldNotPending("the round is not settled; cancel or roll back its bets")
        if op.loaded.seen_transaction is not None:
            raise DuplicateTransaction("this transaction id was already used")
        game = HouseAccountKind.GAME
        parts = (
            (WalletKind.REAL, rnd["stake_real"], rnd["win_real"]),
            (WalletKind.BONUS, rnd["stake_bonus"], rnd["win_bonus"]),
        )
        bonus_engine.reverse_derived(op, rnd["derived"] or {}, settings)
        for kind, stake, won in parts:
            op.move(kind, stake, game, TransferKind.BET_REFUND)
            op.count_turnover(kind, -stake)
            op.move(kind, -won, game, TransferKind.WIN_REVERSAL)
            if op.wallet(kind).balance < op.wallet(kind).held:
                return op.stored_error(
                    InsufficientFunds, "the round's win was already spent; cannot reverse it"
                )
        op.writes.hold_updates = [
            (h["id"], HoldStatus.ROLLED_BACK) for h in op.loaded.holds
            if h["game_round_id"] == rnd["id"] and h["status"] == HoldStatus.POSTED
        ]  # fmt: skip
        op.writes.round_update = RoundUpdate(
            rnd["id"], RoundStatus.ROLLED_BACK, rnd["stake_real"], rnd["stake_bonus"],
            rnd["win_real"], rnd["win_bonus"],
        )  # fmt: skip
        op.writes.game_transaction = (transaction_id, GameTransactionKind.ROUND_ROLLBACK)
        op.event("bet.rolled_back", {"gameRoundId": game_round_id, "transactionId": transaction_id})
        return op.finish()

    return await _run(
        session, caller, "rollbackRound", idempotency_key,
        {"playerId": str(player_id), "gameRoundId": game_round_id,
         "transactionId": transaction_id},
        player_id, plan, round_ref=game_round_id, new_transaction_id=transaction_id,
    )  # fmt: skip


# --- payments, fees, adjustments ------------------------------------------------------------


async def _single_wallet(
    session: AsyncSession,
    caller: Principal,
    operation: str,
    *,
    player_id: uuid.UUID,
    kind: str,
    minor: int,
    currency: str,
    house: str,
    transfer_kind: str,
    event: str,
    idempotency_key: str,
    reference: str | None,
    debit: bool,
    player_initiated: bool,
    request: dict[str, Any],
) -> Outcome:
    """Credit (``minor`` > 0) or debit (< 0) one wallet against one house account."""

    def plan(op: _Op) -> dict[str, Any]:
        if debit and player_initiated:
            op.require_debit_allowed()
        wallet = op.wallet(kind)
        op.require_currency(wallet, currency)
        if wallet.balance + minor < wallet.held:
            return op.stored_error(InsufficientFunds, f"not enough funds in the {kind} wallet")
        op.move(kind, minor, house, transfer_kind)
        op.event(event, {"walletKind": kind, "amount": format_amount(minor, currency),
                         "currency": currency, "reference": reference})  # fmt: skip
        return op.finish()

    return await _run(
        session, caller, operation, idempotency_key, request, player_id, plan, reference=reference
    )


async def deposit(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, payment_reference: str, idempotency_key: str,
    promo_code: str | None = None,
) -> Outcome:  # fmt: skip
    _common(idempotency_key)
    check_payment_reference("paymentReference", payment_reference, required=True)
    check_text("promoCode", promo_code, required=False, max_len=64)
    minor = _amount(amount, currency, settings)
    outcome = await _single_wallet(
        session, caller, "deposit", player_id=player_id, kind=WalletKind.REAL, minor=minor,
        currency=currency, house=HouseAccountKind.CASH_CLEARING,
        transfer_kind=TransferKind.DEPOSIT, event="wallet.deposited",
        idempotency_key=idempotency_key, reference=payment_reference, debit=False,
        player_initiated=True,
        request={"playerId": str(player_id), "amount": minor, "currency": currency,
                 "paymentReference": payment_reference},
    )  # fmt: skip
    if outcome.body["status"] == "OK":
        from app.bonuses import triggers  # deposit triggers, in this same transaction

        await triggers.after_deposit(session, settings, player_id, outcome.body, minor,
                                     currency, promo_code)  # fmt: skip
    return outcome


async def charge_fee(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, reason: str, idempotency_key: str,
) -> Outcome:  # fmt: skip
    _common(idempotency_key)
    check_text("reason", reason)
    minor = _amount(amount, currency, settings)
    return await _single_wallet(
        session, caller, "chargeFee", player_id=player_id, kind=WalletKind.REAL, minor=-minor,
        currency=currency, house=HouseAccountKind.FEES, transfer_kind=TransferKind.FEE,
        event="wallet.fee_charged", idempotency_key=idempotency_key, reference=reason,
        debit=True, player_initiated=False,
        request={"playerId": str(player_id), "amount": minor, "currency": currency,
                 "reason": reason},
    )  # fmt: skip


async def adjust_balance(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    wallet_kind: WalletKind, amount: str, currency: str, reason: str, idempotency_key: str,
) -> Outcome:  # fmt: skip
    """A staff correction (signed amount, mandatory reason) against the house account
    that funds that kind of wallet."""
    _common(idempotency_key)
    check_text("reason", reason)
    negative = isinstance(amount, str) and amount.startswith("-")
    if wallet_kind is WalletKind.FREESPINS:
        if currency != FREE_SPINS_UNIT:
            raise CurrencyMismatch(f"the FREESPINS wallet counts {FREE_SPINS_UNIT}")
        minor = parse_amount(amount[1:] if negative else amount, currency)
    else:
        minor = _amount(amount[1:] if negative else amount, currency, settings)
    minor = -minor if negative else minor
    return await _single_wallet(
        session, caller, "adjustBalance", player_id=player_id, kind=wallet_kind, minor=minor,
        currency=currency, house=ADJUSTMENT_HOUSE[wallet_kind],
        transfer_kind=TransferKind.ADJUSTMENT, event="wallet.adjusted",
        idempotency_key=idempotency_key, reference=reason, debit=negative,
        player_initiated=False,
        request={"playerId": str(player_id), "walletKind": wallet_kind.value, "amount": minor,
                 "currency": currency, "reason": reason},
    )  # fmt: skip


def _spins(spins: int) -> int:
    if not isinstance(spins, int) or not 1 <= spins <= 1_000_000:
        raise ValidationFailed.single("spins", "must be between 1 and 1000000")
    return spins


async def grant_free_spins(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    spins: int, reference: str | None, idempotency_key: str,
) -> Outcome:  # fmt: skip
    _common(idempotency_key)
    check_text("reference", reference, required=False)
    count = _spins(spins)
    return await _single_wallet(
        session, caller, "grantFreeSpins", player_id=player_id, kind=WalletKind.FREESPINS,
        minor=count, currency=FREE_SPINS_UNIT, house=HouseAccountKind.BONUS_LIABILITY,
        transfer_kind=TransferKind.FREESPINS_GRANT, event="freespins.granted",
        idempotency_key=idempotency_key, reference=reference, debit=False,
        player_initiated=False,
        request={"playerId": str(player_id), "spins": count, "reference": reference},
    )  # fmt: skip


async def consume_free_spins(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    spins: int, reference: str | None, idempotency_key: str,
) -> Outcome:  # fmt: skip
    _common(idempotency_key)
    check_text("reference", reference, required=False)
    count = _spins(spins)
    return await _single_wallet(
        session, caller, "consumeFreeSpins", player_id=player_id, kind=WalletKind.FREESPINS,
        minor=-count, currency=FREE_SPINS_UNIT, house=HouseAccountKind.GAME,
        transfer_kind=TransferKind.FREESPINS_CONSUME, event="freespins.consumed",
        idempotency_key=idempotency_key, reference=reference, debit=True,
        player_initiated=True,
        request={"playerId": str(player_id), "spins": count, "reference": reference},
    )  # fmt: skip


async def tournament_transfer(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, reference: str | None, credit: bool, idempotency_key: str,
) -> Outcome:  # fmt: skip
    _common(idempotency_key)
    check_text("reference", reference, required=False)
    minor = _amount(amount, currency, settings)
    name = "creditTournament" if credit else "debitTournament"
    return await _single_wallet(
        session, caller, name, player_id=player_id, kind=WalletKind.TOURNAMENT,
        minor=minor if credit else -minor, currency=currency, house=HouseAccountKind.GAME,
        transfer_kind=TransferKind.TOURNAMENT_CREDIT if credit else TransferKind.TOURNAMENT_DEBIT,
        event="tournament.credited" if credit else "tournament.debited",
        idempotency_key=idempotency_key, reference=reference, debit=not credit,
        player_initiated=True,
        request={"playerId": str(player_id), "amount": minor, "currency": currency,
                 "reference": reference},
    )  # fmt: skip


# --- withdrawals ----------------------------------------------------------------------------


async def withdraw(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, payment_reference: str | None, idempotency_key: str,
) -> Outcome:  # fmt: skip
    """Hold the money until the payment service confirms or rejects the payout."""
    _common(idempotency_key)
    check_payment_reference("paymentReference", payment_reference, required=False)
    minor = _amount(amount, currency, settings)

    def plan(op: _Op) -> dict[str, Any]:
        op.require_debit_allowed()
        # KYC (SPEC 1): no payout before the player is verified. Raised, not stored, so the
        # same key can be retried once verification is done.
        if op.loaded.confirm_status != ConfirmStatus.VERIFIED:
            raise VerificationRequired(op.loaded.confirm_status or "unknown")
        real = op.wallet(WalletKind.REAL)
        op.require_currency(real, currency)
        if real.available < minor:
            return op.stored_error(InsufficientFunds, "not enough available funds to withdraw")
        bonus_engine.forfeit_on_withdrawal(op, currency)
        op.hold(WalletKind.REAL, minor)
        op.holds.append(
            {"walletKind": "REAL", "amount": format_amount(minor, currency), "currency": currency}
        )
        hold_id = op.loaded.new_hold_id
        assert hold_id is not None
        op.writes.new_hold = NewHold(
            hold_id, HoldPurpose.WITHDRAWAL, None, currency, real.id, None, minor, 0, None
        )
        op.extra.update(reservationId=str(hold_id))
        op.event("wallet.withdrawal_requested", {
            "withdrawalId": str(hold_id), "amount": format_amount(minor, currency),
            "currency": currency, "paymentReference": payment_reference,
        })  # fmt: skip
        return op.finish()

    return await _run(
        session, caller, "withdraw", idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency,
         "paymentReference": payment_reference},
        player_id, plan, reference=payment_reference,
        allocate_hold=True,
    )  # fmt: skip


async def decide_withdrawal(
    session: AsyncSession, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    withdrawal_id: int, confirm: bool, idempotency_key: str,
) -> Outcome:  # fmt: skip
    """Confirm (the money leaves to cash clearing) or reject (it becomes available again)."""
    _common(idempotency_key)
    name = "confirmWithdrawal" if confirm else "rejectWithdrawal"

    def plan(op: _Op) -> dict[str, Any]:
        hold = _find_hold(op, withdrawal_id, HoldPurpose.WITHDRAWAL)
        _require_pending(hold)
        amount = hold["real_amount"]
        op.hold(WalletKind.REAL, -amount)
        if confirm:
            op.move(WalletKind.REAL, -amount, HouseAccountKind.CASH_CLEARING,
                    TransferKind.WITHDRAWAL)  # fmt: skip
        op.writes.hold_updates = [(hold["id"], HoldStatus.POSTED if confirm else HoldStatus.VOIDED)]
        op.extra.update(reservationId=str(hold["id"]))
        currency = hold["currency"]
        op.event("wallet.withdrawal_confirmed" if confirm else "wallet.withdrawal_rejected",
                 {"withdrawalId": str(hold["id"]), "amount": format_amount(amount, currency),
                  "currency": currency})  # fmt: skip
        return op.finish()

    return await _run(
        session, caller, name, idempotency_key,
        {"playerId": str(player_id), "withdrawalId": withdrawal_id},
        player_id, plan, hold_ids=[withdrawal_id],
    )  # fmt: skip
