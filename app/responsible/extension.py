"""Gambling limits as a ledger extension (app/ledger/hooks.py): the player's limit rows
are read by LOAD (after the wallets), checked and counted at the hook points, and their
counters written back by APPLY; no extra round trip.

Exact under concurrency without locking the limit rows. The player's wallet locks (LOAD
takes all of them, before anything else) serialise every write of ``gambling_limits``:
the money path writes counters only between its LOAD and its commit, and the limit
service (set, lower, raise, remove) locks the player's wallets before it touches a limit
(repository.lock_limits). LOAD reads the limits with ``pms_rg_limits`` (migration 0021),
a VOLATILE function, which in READ COMMITTED takes a fresh snapshot once the wallets are
locked: it sees what every earlier holder of those locks committed, and nobody can write
the rows until this operation commits. That is what ``FOR UPDATE`` gave, minus five row
locks (each a heap write and a WAL record) per statement. The existence check in front of
it uses the statement's snapshot, so an operation already waiting on the wallet locks when
a player's first limit is saved does not count against that limit; the same was true of
``FOR UPDATE``, which never sees rows inserted after the statement began.

Counters: DEPOSIT counts deposits, WAGER stakes, LOSS real-money stakes minus real-money
wins (it may go below zero: winnings leave room). A voided pending bet gives back its
stake; a refunded settled round gives back exactly what its settlement counted (kept in
the round's ``derived``); each only into the window it was counted in (a window that has
closed since keeps it: the current one gets no room the player never used). A refusal
raises ``LimitExceeded``: the whole operation rolls back, the idempotency key included,
so a retry after the window resets can succeed.
"""

from __future__ import annotations

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
    -- After the wallets are locked: a fresh read of the limits (pms_rg_limits, migration
    -- 0021), no row locks. A player without limits costs this statement's one index probe.
    SELECT * FROM pms_rg_limits($5)
    WHERE (SELECT c FROM n) > 0 AND EXISTS (SELECT 1 FROM gambling_limits WHERE player_id = $5)
)""",
    columns=""",
       (SELECT ids FROM rgl) AS rg_ids, (SELECT kinds FROM rgl) AS rg_kinds,
       (SELECT periods FROM rgl) AS rg_periods, (SELECT currencies FROM rgl) AS rg_currencies,
       (SELECT amounts FROM rgl) AS rg_amounts, (SELECT used FROM rgl) AS rg_used,
       (SELECT window_starts FROM rgl) AS rg_window_starts,
       (SELECT last_activity FROM rgl) AS rg_last_activity,
       (SELECT session_start FROM rgl) AS rg_session_start,
       now() AS rg_now""",
)

# The same read for every player of a set-based walletBatch (app/ledger/batch_repository.py).
BATCH_LOAD_PARTS = LoadParts(
    columns=""",
       rgl.ids AS rg_ids, rgl.kinds AS rg_kinds, rgl.periods AS rg_periods,
       rgl.currencies AS rg_currencies, rgl.amounts AS rg_amounts, rgl.used AS rg_used,
       rgl.window_starts AS rg_window_starts, rgl.last_activity AS rg_last_activity,
       rgl.session_start AS rg_session_start, now() AS rg_now""",
    joins="""
LEFT JOIN LATERAL (
    SELECT * FROM pms_rg_limits(q.id)
    WHERE (SELECT c FROM n) > 0 AND EXISTS (SELECT 1 FROM gambling_limits WHERE player_id = q.id)
) rgl ON true""",
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
    rolled: bool = False  # moved into the window of now (once per operation)
    changed: bool = False  # APPLY writes only changed counters (hot rows: fewer updates)


@dataclass
class LimitState:
    counters: list[Counter]
    now: datetime
    session_start: datetime | None = None  # of the live sign-in session, if any


def _parse(row: Mapping[str, Any]) -> LimitState | None:
    ids = row["rg_ids"]
    if not ids:
        return None
    columns = (ids, row["rg_kinds"], row["rg_periods"], row["rg_currencies"],
               row["rg_amounts"], row["rg_used"], row["rg_window_starts"],
               row["rg_last_activity"])  # fmt: skip
    counters = [Counter(*c) for c in zip(*columns, strict=True)]
    return LimitState(counters, row["rg_now"], row["rg_session_start"])


def _state(op: Operation) -> LimitState | None:
    state: LimitState | None = op.loaded.extensions.get(NAME)
    return state


def _mode(op: Operation) -> str:
    return op.settings.rg_limit_window if op.settings is not None else "calendar"


def _roll(op: Operation, state: LimitState, c: Counter) -> None:
    """Move ``c`` into the window of now (a fresh window counts from zero)."""
    if c.rolled:
        return
    start, resets_at, fresh = windows.current(c.period, _mode(op), c.window_start, state.now)
    if fresh:
        c.used = 0
    c.window_start, c.resets_at, c.rolled = start, resets_at, True


def _count(
    op: Operation,
    kind: str,
    amount: int,
    currency: str,
    *,
    check: bool,
    counted_at: datetime | None = None,
) -> None:
    """Add ``amount`` to every ``kind`` counter; with ``check``, refuse when one would pass
    its limit (before anything is added, so a refusal writes nothing). A give-back names
    when the amount was counted (``counted_at``): a counter whose window began later
    skips it, since what was counted belongs to a window that has closed, and returning
    it would open room in the current one the player never used."""
    state = _state(op)
    if state is None or amount == 0:
        return
    counters = [c for c in state.counters if c.kind == kind and c.currency == currency]
    for c in counters:
        _roll(op, state, c)
    if counted_at is not None:
        counters = [c for c in counters if c.window_start is None or counted_at >= c.window_start]
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
    batch_load_parts = BATCH_LOAD_PARTS
    batch_apply_parts = APPLY_PARTS  # counters by id: every player's rows in one array

    def batch_apply_args(self, writes: Sequence[Any]) -> Sequence[Any]:
        columns: list[list[Any]] = [[], [], [], []]
        for w in writes:
            for column, values in zip(columns, self.apply_args(w), strict=True):
                column.extend(values)
        return columns

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
        state = _state(op)
        if state is None:
            return
        # The stake was counted when it was held; the win comes off the loss now.
        _count(op, LimitKind.LOSS, -settlement.win_real, settlement.currency, check=False)
        op.derived["rgLoss"] = settlement.stake_real - settlement.win_real
        op.derived["rgWager"] = settlement.stake
        op.derived["rgAt"] = state.now.isoformat()  # a refund gives back in this window only

    def round_rolled_back(self, op: Operation, derived: Mapping[str, Any]) -> None:
        if "rgLoss" not in derived:
            return
        currency = op.wallet(WalletKind.REAL).currency
        at = _parse_time(derived.get("rgAt"))
        _count(op, LimitKind.LOSS, -int(derived["rgLoss"]), currency, check=False, counted_at=at)
        _count(op, LimitKind.WAGER, -int(derived["rgWager"]), currency, check=False, counted_at=at)

    def bet_voided(self, op: Operation, hold: Mapping[str, Any]) -> None:
        stake = int(hold["real_amount"]) + int(hold["bonus_amount"] or 0)
        at = _parse_time(hold.get("created_at"))
        currency = hold["currency"]
        _count(op, LimitKind.WAGER, -stake, currency, check=False, counted_at=at)
        _count(op, LimitKind.LOSS, -int(hold["real_amount"]), currency, check=False, counted_at=at)


def _parse_time(value: Any) -> datetime | None:
    """A time from a LOAD row's JSON (an ISO text) or a driver value; None when absent
    (rounds settled before ``rgAt`` was recorded give back as before)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
