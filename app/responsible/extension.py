"""Gambling limits as a ledger extension (app/ledger/hooks.py): the player's limit rows
are locked and read by LOAD (after the wallets), checked and counted at the hook points,
and their counters written back by APPLY; no extra round trip.

Counters: DEPOSIT counts deposits, WAGER stakes, LOSS real-money stakes minus real-money
wins (it may go below zero: winnings leave room). A voided pending bet gives back its
stake; a refunded settled round gives back exactly what its settlement counted (kept in
the round's ``derived``). A refusal raises ``LimitExceeded``: the whole operation rolls
back, the idempotency key included, so a retry after the window resets can succeed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.money import format_amount
from app.ledger.hooks import Debit, ExtensionBase, Settlement
from app.ledger.models import HoldPurpose
from app.ledger.operation import Operation
from app.ledger.repository import LoadParts
from app.ledger.write_repository import ApplyParts
from app.responsible import windows
from app.responsible.errors import LimitExceeded, SessionLimitReached
from app.responsible.models import LimitKind
from app.wallets.models import WalletKind

NAME = "gambling-limits"

LOAD_PARTS = LoadParts(
    ctes="""
, rgl AS (
    -- The player's limits (one index probe when there are none), locked after the wallets:
    -- FOR UPDATE also makes READ COMMITTED return the newest committed counters.
    SELECT id, kind, period, currency, amount, used, window_start, last_activity_at
    FROM gambling_limits
    WHERE player_id = $5 AND (SELECT c FROM n) > 0
    ORDER BY id FOR UPDATE
)""",
    columns=""",
       (SELECT jsonb_agg(to_jsonb(rgl) ORDER BY id) FROM rgl)::text AS rg_limits,
       now() AS rg_now,
       -- The live sign-in session's start, read only for a player with a SESSION limit.
       (SELECT ps.started_at FROM play_sessions ps
        WHERE ps.player_id = $5 AND ps.ended_at IS NULL AND ps.expires_at > now()
          AND EXISTS (SELECT 1 FROM rgl WHERE rgl.kind = 'SESSION')
        ORDER BY ps.id DESC LIMIT 1) AS rg_session_start""",
)

APPLY_PARTS = ApplyParts(
    ctes="""
, rglw AS (
    UPDATE gambling_limits g
    SET used = v.used, window_start = v.window_start, last_activity_at = v.last_activity_at,
        updated_at = now()
    FROM unnest($e0::bigint[], $e1::bigint[], $e2::timestamptz[], $e3::timestamptz[])
         AS v(id, used, window_start, last_activity_at)
    WHERE g.id = v.id
)""",
    parameters=4,
)


@dataclass
class Counter:
    id: int
    kind: str
    period: str
    currency: str
    amount: int
    used: int
    window_start: datetime | None
    last_activity_at: datetime | None = None
    resets_at: datetime | None = None
    changed: bool = False  # APPLY writes only changed counters (hot rows: fewer updates)


@dataclass
class LimitState:
    counters: list[Counter]
    now: datetime
    session_start: datetime | None = None  # of the live sign-in session, if any


def _parse(row: Mapping[str, Any]) -> LimitState | None:
    if not row["rg_limits"]:
        return None
    counters = []
    for c in json.loads(row["rg_limits"]):
        counters.append(Counter(c["id"], c["kind"], c["period"], c["currency"], c["amount"],
                                c["used"], _time(c["window_start"]),
                                _time(c["last_activity_at"])))  # fmt: skip
    return LimitState(counters, row["rg_now"], row["rg_session_start"])


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _state(op: Operation) -> LimitState | None:
    state: LimitState | None = op.loaded.extensions.get(NAME)
    return state


def _mode(op: Operation) -> str:
    return op.settings.rg_limit_window if op.settings is not None else "calendar"


def _roll(op: Operation, state: LimitState, c: Counter) -> None:
    """Move ``c`` into the window of now (a fresh window counts from zero)."""
    start, resets_at, fresh = windows.current(c.period, _mode(op), c.window_start, state.now)
    if fresh:
        c.used = 0
    c.window_start, c.resets_at = start, resets_at


def _count(op: Operation, kind: str, amount: int, currency: str, *, check: bool) -> None:
    """Add ``amount`` to every ``kind`` counter; with ``check``, refuse when one would pass
    its limit (before anything is added, so a refusal writes nothing)."""
    state = _state(op)
    if state is None or amount == 0:
        return
    counters = [c for c in state.counters if c.kind == kind and c.currency == currency]
    for c in counters:
        _roll(op, state, c)
    if check and amount > 0:
        for c in counters:
            if c.used + amount > c.amount:
                assert c.resets_at is not None
                remaining = max(c.amount - c.used, 0)
                raise LimitExceeded(c.kind, c.period, c.amount, remaining, currency, c.resets_at)
    for c in counters:
        before = c.used
        c.used = max(c.used + amount, 0) if kind != LimitKind.LOSS else c.used + amount
        c.changed = True
        op.writes.extensions[NAME] = state
        if before < c.amount <= c.used:
            _reached(op, c)


def _reached(op: Operation, c: Counter) -> None:
    op.event("limit.reached", {
        "limitId": str(c.id), "kind": c.kind, "period": c.period,
        "limit": format_amount(c.amount, c.currency), "currency": c.currency,
        "resetsAt": c.resets_at.isoformat() if c.resets_at else None,
    })  # fmt: skip


def _real_part(op: Operation, amount: int) -> int:
    """The part of a stake the REAL wallet funds (the plan's own funding order)."""
    order = op.settings.bet_funding_order if op.settings is not None else ("REAL", "BONUS")
    rest = amount
    for kind in order:
        part = min(op.wallet(kind).available, rest)
        if kind == WalletKind.REAL:
            return part
        rest -= part
    return 0


def _play_session(op: Operation) -> None:
    """SESSION limits. The session is the player's sign-in session (login to logout or
    token expiry; a sign-in within the break continues it); past its minutes, bets are
    refused until the next sign-in after a break of ``rg_session_break_minutes``. Bets
    without a live sign-in here (a game engine's own session) fall back to runs of bets:
    a bet after such a break starts a new session."""
    state = _state(op)
    assert state is not None
    minutes = op.settings.rg_session_break_minutes if op.settings is not None else 30.0
    pause = timedelta(minutes=minutes)
    for c in state.counters:
        if c.kind != LimitKind.SESSION:
            continue
        if state.session_start is not None:
            c.window_start = state.session_start
        elif c.last_activity_at is None or state.now - c.last_activity_at >= pause:
            c.window_start = state.now  # a new session
        assert c.window_start is not None
        if state.now - c.window_start >= timedelta(minutes=c.amount):
            # Signed in: a break starts when they sign out, so at the earliest now.
            last = c.last_activity_at if state.session_start is None else None
            raise SessionLimitReached(c.amount, (last or state.now) + pause)
        c.last_activity_at = state.now
        c.changed = True
        op.writes.extensions[NAME] = state


class GamblingLimitExtension(ExtensionBase):
    name = NAME
    load_parts = LOAD_PARTS
    apply_parts = APPLY_PARTS

    def loaded(self, row: Mapping[str, Any]) -> LimitState | None:
        return _parse(row)

    def apply_args(self, writes: Any | None) -> Sequence[Any]:
        if not isinstance(writes, LimitState):
            return ([], [], [], [])
        cs = [c for c in writes.counters if c.changed]
        return ([c.id for c in cs], [c.used for c in cs], [c.window_start for c in cs],
                [c.last_activity_at for c in cs])  # fmt: skip

    def before_debit(self, op: Operation, debit: Debit) -> None:
        if debit.purpose != HoldPurpose.BET or _state(op) is None:
            return
        _play_session(op)
        real = _real_part(op, debit.amount)
        # Both checks before either count, so a refusal by the second leaves the first alone.
        self._check_both(op, debit.amount, real, debit.currency)
        _count(op, LimitKind.WAGER, debit.amount, debit.currency, check=False)
        _count(op, LimitKind.LOSS, real, debit.currency, check=False)

    @staticmethod
    def _check_both(op: Operation, stake: int, real: int, currency: str) -> None:
        state = _state(op)
        assert state is not None
        for kind, amount in ((LimitKind.WAGER, stake), (LimitKind.LOSS, real)):
            for c in state.counters:
                if c.kind != kind or c.currency != currency or amount <= 0:
                    continue
                _roll(op, state, c)
                if c.used + amount > c.amount:
                    assert c.resets_at is not None
                    raise LimitExceeded(c.kind, c.period, c.amount, max(c.amount - c.used, 0),
                                        currency, c.resets_at)  # fmt: skip

    def depositing(self, op: Operation, amount: int, currency: str) -> None:
        _count(op, LimitKind.DEPOSIT, amount, currency, check=True)

    def settled(self, op: Operation, settlement: Settlement) -> None:
        if _state(op) is None:
            return
        # The stake was counted when it was held; the win comes off the loss now.
        _count(op, LimitKind.LOSS, -settlement.win_real, settlement.currency, check=False)
        op.derived["rgLoss"] = settlement.stake_real - settlement.win_real
        op.derived["rgWager"] = settlement.stake

    def round_rolled_back(self, op: Operation, derived: Mapping[str, Any]) -> None:
        if "rgLoss" not in derived:
            return
        currency = op.wallet(WalletKind.REAL).currency
        _count(op, LimitKind.LOSS, -int(derived["rgLoss"]), currency, check=False)
        _count(op, LimitKind.WAGER, -int(derived["rgWager"]), currency, check=False)

    def bet_voided(self, op: Operation, hold: Mapping[str, Any]) -> None:
        stake = int(hold["real_amount"]) + int(hold["bonus_amount"] or 0)
        _count(op, LimitKind.WAGER, -stake, hold["currency"], check=False)
        _count(op, LimitKind.LOSS, -int(hold["real_amount"]), hold["currency"], check=False)
