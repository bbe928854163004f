"""Bets: reserve, settle, cancel, roll back a bet, roll back a settled round.

Each operation is a frozen request, a pure plan over it and the locked rows, and a
service function that checks the input and runs the plan through the kernel.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.core.errors import DomainError, ValidationFailed
from app.core.money import format_amount
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import inputs, kernel
from app.ledger.errors import (
    CurrencyMismatch,
    DuplicateTransaction,
    HoldNotPending,
    InsufficientFunds,
    ReservationNotFound,
    RoundNotFound,
)
from app.ledger.hooks import Completed, Debit, Settlement, extensions_of
from app.ledger.models import (
    GameTransactionKind,
    HoldPurpose,
    HoldStatus,
    HouseAccountKind,
    RoundStatus,
    TransferKind,
)
from app.ledger.operation import Operation, canonical_json
from app.ledger.repository import LoadArgs
from app.ledger.validation import MAX_KEY_LENGTH, check_idempotency_key, check_text
from app.ledger.write_repository import NewHold, RoundUpdate
from app.wallets.models import WalletKind

Body = dict[str, Any]


def amount_text(minor: int, currency: str) -> str:
    return format_amount(minor, currency)


# --- reserve --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReserveBet:
    player_id: uuid.UUID
    amount: int
    currency: str
    game_round_id: str
    transaction_id: str
    funding_order: tuple[str, ...]  # wallet kinds, first funds first
    hold_timeout_seconds: float


def plan_reserve_bet(req: ReserveBet, op: Operation) -> Body:
    op.require_debit_allowed()
    real, bonus = op.wallet(WalletKind.REAL), op.wallet(WalletKind.BONUS)
    op.require_currency(real, req.currency)
    for ext in extensions_of(op):
        ext.before_debit(op, Debit("reserveBet", HoldPurpose.BET, req.amount, req.currency))
    if op.loaded.seen_transaction is not None:
        raise DuplicateTransaction(
            "this bet was rolled back before it arrived"
            if op.loaded.seen_transaction == GameTransactionKind.TOMBSTONE
            else "this transaction id was already used"
        )
    available = sum(op.wallet(kind).available for kind in req.funding_order)
    if available < req.amount:
        return op.stored_error(InsufficientFunds, "not enough funds for this bet")
    parts: dict[str, int] = {}
    rest = req.amount
    for kind in req.funding_order:
        parts[kind] = min(op.wallet(kind).available, rest)
        rest -= parts[kind]
    for kind, part in parts.items():
        op.hold(kind, part)
        if part:
            op.holds.append({"walletKind": kind, "amount": format_amount(part, req.currency),
                             "currency": req.currency})  # fmt: skip
    hold_id = op.loaded.new_hold_id
    assert hold_id is not None
    op.writes.round_ref = req.game_round_id
    op.writes.round_currency = req.currency
    op.writes.new_hold = NewHold(
        id=hold_id,
        purpose=HoldPurpose.BET,
        transaction_id=req.transaction_id,
        currency=req.currency,
        real_wallet_id=real.id,
        bonus_wallet_id=bonus.id,
        real_amount=parts.get(WalletKind.REAL, 0),
        bonus_amount=parts.get(WalletKind.BONUS, 0),
        expires_in_seconds=req.hold_timeout_seconds,
    )
    op.writes.game_transaction = (req.transaction_id, GameTransactionKind.BET)
    op.extra.update(reservationId=str(hold_id), gameRoundId=req.game_round_id)
    op.event("bet.reserved", {
        "reservationId": str(hold_id), "gameRoundId": req.game_round_id,
        "transactionId": req.transaction_id, "amount": amount_text(req.amount, req.currency),
        "currency": req.currency, "holds": op.holds,
    })  # fmt: skip
    return op.finish()


async def reserve_bet(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    amount: str, currency: str, game_round_id: str, transaction_id: str, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    prepared = prepare_reserve_bet(
        settings, player_id=player_id, amount=amount, currency=currency,
        game_round_id=game_round_id, transaction_id=transaction_id,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    return await kernel.run_operation(session, settings, caller, prepared.spec, prepared.plan)


def prepare_reserve_bet(
    settings: Settings, *, player_id: uuid.UUID, amount: str, currency: str,
    game_round_id: str, transaction_id: str, idempotency_key: str,
) -> kernel.Prepared:  # fmt: skip
    """The checked input of a reserveBet (raises ValidationFailed / AmountTooLarge): its
    idempotency identity, what LOAD locks and the plan; walletBatch runs it set-based."""
    check_idempotency_key(idempotency_key)
    check_text("gameRoundId", game_round_id)
    check_text("transactionId", transaction_id)
    minor = inputs.amount(amount, currency, settings)
    req = ReserveBet(
        player_id, minor, currency, game_round_id, transaction_id,
        tuple(settings.bet_funding_order), float(settings.hold_timeout_seconds),
    )  # fmt: skip
    spec = kernel.OperationSpec(
        "reserveBet", idempotency_key,
        {"playerId": str(player_id), "amount": minor, "currency": currency,
         "gameRoundId": game_round_id, "transactionId": transaction_id},
        player_id, load=LoadArgs(new_transaction_id=transaction_id, allocate_hold=True,
                                 bet_round=game_round_id),
    )  # fmt: skip
    return kernel.Prepared(spec, partial(plan_reserve_bet, req))


# --- settle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettleBet:
    player_id: uuid.UUID
    reservation_id: int | None
    game_round_id: str | None
    win: int
    currency: str
    transaction_id: str
    category: str
    game_id: str | None = None
    game_provider: str | None = None


def _settle_target(req: SettleBet, op: Operation) -> tuple[dict[str, Any], dict[str, Any] | None]:
    rounds = {r["id"]: r for r in op.loaded.rounds}
    target = None
    if req.reservation_id is not None:
        target = inputs.find_hold(op, req.reservation_id, HoldPurpose.BET)
        rnd = rounds.get(target["game_round_id"])
    else:
        rnd = next((r for r in rounds.values() if r["round_ref"] == req.game_round_id), None)
    if rnd is None or rnd["player_id"] != op.ids[0]:
        raise RoundNotFound(f"no game round {req.game_round_id!r} for this player")
    return rnd, target


def plan_settle_bet(req: SettleBet, op: Operation) -> Body:
    rnd, target = _settle_target(req, op)
    if op.loaded.seen_transaction is not None:
        raise DuplicateTransaction("this transaction id was already used")
    if rnd["currency"] != req.currency:
        raise CurrencyMismatch(f"the round is in {rnd['currency']}, not {req.currency}")
    if rnd["status"] != RoundStatus.OPEN:
        raise HoldNotPending(f"the game round is {rnd['status']}")
    if target is not None:
        inputs.require_pending(target)
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
    win_bonus = req.win * stake_bonus // (stake_real + stake_bonus)
    win_real = req.win - win_bonus
    game = HouseAccountKind.GAME
    for kind, stake, won in ((WalletKind.REAL, stake_real, win_real),
                             (WalletKind.BONUS, stake_bonus, win_bonus)):  # fmt: skip
        op.hold(kind, -stake)
        op.move(kind, -stake, game, TransferKind.BET)
        op.count_turnover(kind, stake)
        op.move(kind, won, game, TransferKind.WIN)
    settlement = Settlement(
        stake_real + stake_bonus, req.currency, req.category, stake_real, win_real
    )
    for ext in extensions_of(op):
        ext.settled(op, settlement)
    op.writes.hold_updates = [(h["id"], HoldStatus.POSTED) for h in pending]
    op.writes.round_update = RoundUpdate(
        rnd["id"], RoundStatus.SETTLED, stake_real, stake_bonus, win_real, win_bonus,
        canonical_json(op.derived),
    )  # fmt: skip
    op.writes.game_transaction = (req.transaction_id, GameTransactionKind.WIN)
    op.extra.update(gameRoundId=rnd["round_ref"])
    op.event("bet.settled", {
        "gameRoundId": rnd["round_ref"], "transactionId": req.transaction_id,
        "reservationIds": [str(h["id"]) for h in pending],
        "stake": amount_text(stake_real + stake_bonus, req.currency),
        "win": amount_text(req.win, req.currency), "currency": req.currency,
        "gameId": req.game_id, "gameProvider": req.game_provider, "gameCategory": req.category,
    })  # fmt: skip
    return op.finish()


async def settle_bet(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    reservation_id: int | None, game_round_id: str | None, win_amount: str, currency: str,
    transaction_id: str, idempotency_key: str, game_category: str | None = None,
    game_id: str | None = None, game_provider: str | None = None,
) -> kernel.Outcome:  # fmt: skip
    prepared = prepare_settle_bet(
        settings, player_id=player_id, reservation_id=reservation_id,
        game_round_id=game_round_id, win_amount=win_amount, currency=currency,
        transaction_id=transaction_id, idempotency_key=idempotency_key,
        game_category=game_category, game_id=game_id, game_provider=game_provider,
    )  # fmt: skip
    outcome = await kernel.run_operation(session, settings, caller, prepared.spec, prepared.plan)
    assert prepared.after is not None
    await kernel.after_operation(session, settings, prepared.after(outcome.body))
    return outcome


def prepare_settle_bet(
    settings: Settings, *, player_id: uuid.UUID, reservation_id: int | None,
    game_round_id: str | None, win_amount: str, currency: str, transaction_id: str,
    idempotency_key: str, game_category: str | None = None, game_id: str | None = None,
    game_provider: str | None = None,
) -> kernel.Prepared:  # fmt: skip
    """The checked input of a settleBet (single call and set-based walletBatch alike)."""
    check_idempotency_key(idempotency_key)
    inputs.check_settle_input(settings, reservation_id, game_round_id, game_category, game_id,
                        game_provider)  # fmt: skip
    check_text("transactionId", transaction_id)
    win = inputs.amount(win_amount, currency, settings, field="winAmount", allow_zero=True)
    category = game_category or settings.bonus_default_game_category
    req = SettleBet(player_id, reservation_id, game_round_id, win, currency, transaction_id,
                    category, game_id, game_provider)  # fmt: skip
    request: dict[str, Any] = {
        "playerId": str(player_id), "reservationId": reservation_id,
        "gameRoundId": game_round_id, "winAmount": win, "currency": currency,
        "transactionId": transaction_id,
    }  # fmt: skip
    # Optional descriptors join the request (and so the idempotency hash) only when given,
    # so keys stored before they existed still replay.
    for name, value in (("gameCategory", game_category), ("gameId", game_id),
                        ("gameProvider", game_provider)):  # fmt: skip
        if value is not None:
            request[name] = value
    load = LoadArgs(
        hold_ids=(reservation_id,) if reservation_id is not None else (),
        round_ref=game_round_id, new_transaction_id=transaction_id,
    )  # fmt: skip
    spec = kernel.OperationSpec("settleBet", idempotency_key, request, player_id, load=load)
    return kernel.Prepared(spec, partial(plan_settle_bet, req),
                           after=partial(_settled, player_id, win, currency))  # fmt: skip


def _settled(player_id: uuid.UUID, win: int, currency: str, body: Body) -> Completed:
    return Completed("settleBet", player_id, body, win, currency)


# --- bet and win of one round in one call ------------------------------------------------

PLAY_ROUND_SUFFIXES = (":bet", ":win")


async def play_round(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    game_round_id: str, stake: str, win_amount: str, currency: str, transaction_id: str,
    idempotency_key: str, game_category: str | None = None, game_id: str | None = None,
    game_provider: str | None = None,
) -> kernel.Outcome:  # fmt: skip
    """``reserveBet`` then ``settleBet`` of one round, in the caller's transaction, as
    instant-game providers send it. The two steps keep their own idempotency records
    (``KEY:bet``, ``KEY:win``) and transaction ids (``ID:bet``, ``ID:win``), so a retry
    replays both and every rule of the single calls holds. Answers the settle's outcome,
    or the bet's when the stake is refused (then nothing is settled)."""
    check_play_round_key(idempotency_key)
    bet = await reserve_bet(
        session, settings, caller, player_id=player_id, amount=stake, currency=currency,
        game_round_id=game_round_id, transaction_id=f"{transaction_id}:bet",
        idempotency_key=f"{idempotency_key}:bet",
    )  # fmt: skip
    if bet.status != "OK":
        return bet
    return await settle_bet(
        session, settings, caller, player_id=player_id, reservation_id=None,
        game_round_id=game_round_id, win_amount=win_amount, currency=currency,
        transaction_id=f"{transaction_id}:win", idempotency_key=f"{idempotency_key}:win",
        game_category=game_category, game_id=game_id, game_provider=game_provider,
    )  # fmt: skip


def check_play_round_key(idempotency_key: str) -> None:
    room = MAX_KEY_LENGTH - max(map(len, PLAY_ROUND_SUFFIXES))
    if len(idempotency_key) > room:
        raise ValidationFailed.single("idempotencyKey", f"must be 1 to {room} characters")


def prepare_play_round(
    settings: Settings, *, player_id: uuid.UUID, game_round_id: str, stake: str,
    win_amount: str, currency: str, transaction_id: str, idempotency_key: str,
    game_category: str | None = None, game_id: str | None = None,
    game_provider: str | None = None,
) -> kernel.Chain:  # fmt: skip
    """``play_round`` as the set-based walletBatch runs it: the bet, then the win. The win's
    input is checked here too, but (as in ``play_round``, which checks it only after the
    bet) its refusal answers only when the bet is accepted."""
    check_play_round_key(idempotency_key)
    bet = prepare_reserve_bet(
        settings, player_id=player_id, amount=stake, currency=currency,
        game_round_id=game_round_id, transaction_id=f"{transaction_id}:bet",
        idempotency_key=f"{idempotency_key}:bet",
    )  # fmt: skip
    win: kernel.Prepared | DomainError
    try:
        win = prepare_settle_bet(
            settings, player_id=player_id, reservation_id=None, game_round_id=game_round_id,
            win_amount=win_amount, currency=currency, transaction_id=f"{transaction_id}:win",
            idempotency_key=f"{idempotency_key}:win", game_category=game_category,
            game_id=game_id, game_provider=game_provider,
        )  # fmt: skip
    except DomainError as exc:
        win = exc
    return kernel.Chain((bet, win))


# --- cancel, roll back ----------------------------------------------------------------------


@dataclass(frozen=True)
class CancelBet:
    player_id: uuid.UUID
    reservation_id: int


def plan_cancel_bet(req: CancelBet, op: Operation) -> Body:
    hold = inputs.find_hold(op, req.reservation_id, HoldPurpose.BET)
    inputs.require_pending(hold)
    inputs.release(op, hold)
    for ext in extensions_of(op):
        ext.bet_voided(op, hold)
    op.writes.hold_updates = [(hold["id"], HoldStatus.VOIDED)]
    op.extra.update(reservationId=str(hold["id"]))
    op.event("bet.cancelled", {"reservationId": str(hold["id"]), "reason": "CANCELLED"})
    return op.finish()


async def cancel_bet(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    reservation_id: int, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    prepared = prepare_cancel_bet(player_id=player_id, reservation_id=reservation_id,
                                  idempotency_key=idempotency_key)  # fmt: skip
    return await kernel.run_operation(session, settings, caller, prepared.spec, prepared.plan)


def prepare_cancel_bet(
    *, player_id: uuid.UUID, reservation_id: int, idempotency_key: str
) -> kernel.Prepared:
    check_idempotency_key(idempotency_key)
    spec = kernel.OperationSpec(
        "cancelBet", idempotency_key,
        {"playerId": str(player_id), "reservationId": reservation_id},
        player_id, load=LoadArgs(hold_ids=(reservation_id,)),
    )  # fmt: skip
    return kernel.Prepared(spec, partial(plan_cancel_bet, CancelBet(player_id, reservation_id)))


@dataclass(frozen=True)
class RollbackBet:
    player_id: uuid.UUID
    transaction_id: str


def plan_rollback_bet(req: RollbackBet, op: Operation) -> Body:
    tx = req.transaction_id
    hold = next((h for h in op.loaded.holds if h["transaction_id"] == tx), None)
    op.extra.update(transactionId=tx)
    if hold is None:
        seen = op.loaded.seen_transaction
        if seen is None:
            op.writes.game_transaction = (tx, GameTransactionKind.TOMBSTONE)
            op.event("bet.rolled_back", {"transactionId": tx, "tombstone": True})
        elif seen != GameTransactionKind.TOMBSTONE:
            raise DuplicateTransaction("this transaction id is not a bet")
        return op.finish()
    if hold["player_id"] != op.ids[0]:
        raise ReservationNotFound("no bet with this transaction id for this player")
    if hold["status"] == HoldStatus.POSTED:
        raise HoldNotPending("the bet's round is settled; roll back the round instead")
    if hold["status"] == HoldStatus.PENDING:
        inputs.release(op, hold)
        for ext in extensions_of(op):
            ext.bet_voided(op, hold)
        op.writes.hold_updates = [(hold["id"], HoldStatus.ROLLED_BACK)]
        op.event("bet.rolled_back", {"transactionId": tx, "reservationId": str(hold["id"]),
                                     "currency": hold["currency"]})  # fmt: skip
    op.extra.update(reservationId=str(hold["id"]))
    return op.finish()


async def rollback_bet(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    transaction_id: str, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    """The provider takes back a bet: void it if pending; tombstone it if never seen."""
    prepared = prepare_rollback_bet(player_id=player_id, transaction_id=transaction_id,
                                    idempotency_key=idempotency_key)  # fmt: skip
    return await kernel.run_operation(session, settings, caller, prepared.spec, prepared.plan)


def prepare_rollback_bet(
    *, player_id: uuid.UUID, transaction_id: str, idempotency_key: str
) -> kernel.Prepared:
    check_idempotency_key(idempotency_key)
    check_text("transactionId", transaction_id)
    spec = kernel.OperationSpec(
        "rollbackBet", idempotency_key,
        {"playerId": str(player_id), "transactionId": transaction_id}, player_id,
        load=LoadArgs(bet_transaction_id=transaction_id, new_transaction_id=transaction_id),
    )  # fmt: skip
    return kernel.Prepared(spec, partial(plan_rollback_bet, RollbackBet(player_id, transaction_id)))


@dataclass(frozen=True)
class RollbackRound:
    player_id: uuid.UUID
    game_round_id: str
    transaction_id: str


def plan_rollback_round(req: RollbackRound, op: Operation) -> Body:
    rnd = next((r for r in op.loaded.rounds if r["round_ref"] == req.game_round_id), None)
    if rnd is None or rnd["player_id"] != op.ids[0]:
        raise RoundNotFound(f"no game round {req.game_round_id!r} for this player")
    op.extra.update(gameRoundId=req.game_round_id)
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
    for ext in extensions_of(op):
        ext.round_rolled_back(op, rnd["derived"] or {})
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
    op.writes.game_transaction = (req.transaction_id, GameTransactionKind.ROUND_ROLLBACK)
    cur = rnd["currency"]
    # The reversed amounts ride along so consumers (analytics) can undo the round's figures.
    op.event("bet.rolled_back", {
        "gameRoundId": req.game_round_id, "transactionId": req.transaction_id,
        "stake": amount_text(rnd["stake_real"] + rnd["stake_bonus"], cur),
        "win": amount_text(rnd["win_real"] + rnd["win_bonus"], cur), "currency": cur,
    })  # fmt: skip
    return op.finish()


async def rollback_round(
    session: kernel.Unit, settings: Settings, caller: Principal, *, player_id: uuid.UUID,
    game_round_id: str, transaction_id: str, idempotency_key: str,
) -> kernel.Outcome:  # fmt: skip
    """Provider refund of a settled round: stakes back, wins taken back, turnover reversed."""
    prepared = prepare_rollback_round(player_id=player_id, game_round_id=game_round_id,
                                      transaction_id=transaction_id,
                                      idempotency_key=idempotency_key)  # fmt: skip
    return await kernel.run_operation(session, settings, caller, prepared.spec, prepared.plan)


def prepare_rollback_round(
    *, player_id: uuid.UUID, game_round_id: str, transaction_id: str, idempotency_key: str
) -> kernel.Prepared:
    check_idempotency_key(idempotency_key)
    check_text("gameRoundId", game_round_id)
    check_text("transactionId", transaction_id)
    spec = kernel.OperationSpec(
        "rollbackRound", idempotency_key,
        {"playerId": str(player_id), "gameRoundId": game_round_id,
         "transactionId": transaction_id},
        player_id, load=LoadArgs(round_ref=game_round_id, new_transaction_id=transaction_id),
    )  # fmt: skip
    req = RollbackRound(player_id, game_round_id, transaction_id)
    return kernel.Prepared(spec, partial(plan_rollback_round, req))
