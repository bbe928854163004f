"""Set-based execution of a walletBatch: one LOAD for every operation, the plans in
Python in order, one APPLY for every accepted operation (app/ledger/batch_repository.py).

The rules are the single operations' own: each operation's plan (``Prepared.plan``, the
function the single call runs) works on an ``Operation`` built by the kernel's ``begin``
over the player's rows as the batch's earlier operations left them (wallets, the
extensions' rows, and the holds and rounds: a settle after a bet of the same round in the
same batch sees the bet's hold and round from the batch's own state), and ``conclude``
gives its stored answer and audit row. A plan that refuses (a DomainError, or a stored
business error such as InsufficientFunds) works on a copy of the player's state, which
is then dropped: the next operation sees the rows as if it had not run. Refused
operations write nothing but what a single call writes (a stored error: its key's answer
and audit row; a DomainError: nothing, its key given back). A ``kernel.Chain`` (playRound)
is one item: every change its accepted steps made is undone (``_Run.undo``) when a later
step refuses, as the one-by-one path's savepoint rolls the item back.

Covered: reserveBet, settleBet, cancelBet, rollbackBet, rollbackRound and playRound, with
extensions that have batched parts (the resolver sends the batch here only when every item is one of
them). Otherwise ``Fallback`` is raised before or instead of writing (the transaction
rolls back; the caller runs the batch one by one): two accepted operations naming one
transaction id (a tombstone then its bet, say), an extension
whose writes cannot be batched or that acts after a settle (a loyalty tier reward), a
race only the unique indexes saw (a round or a transaction id created since LOAD's
snapshot: APPLY's insert meets the unique key, or wrote fewer rows than planned), or an
overflowing counter.
"""

from __future__ import annotations

import contextvars
import operator
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import orjson

from app.core import json_codec
from app.core.errors import DomainError, NotFound
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import batch_repository, hooks, kernel, observers
from app.ledger.batch_repository import BatchClaims, BatchLoaded, BatchRows, BatchWrites
from app.ledger.errors import HoldNotPending, IdempotencyKeyReused, RequestInProgress
from app.ledger.models import HoldPurpose, HoldStatus, RoundStatus
from app.ledger.operation import Operation, Wallet, request_hash, wallets_by_kind
from app.ledger.repository import LoadArgs, Loaded

Answer = kernel.Outcome | DomainError
Item = kernel.Prepared | kernel.Chain | DomainError
Step = kernel.Prepared | DomainError
Key = tuple[str, str]  # (operation, idempotency key)
Row = dict[str, Any]
ROUND_FIGURES = ("status", "stake_real", "stake_bonus", "win_real", "win_bonus")


class Fallback(Exception):
    """This batch must run one operation at a time (nothing was written)."""


class Abort(Exception):
    """An atomic batch's first refusal: the transaction rolls back."""

    def __init__(self, index: int, answer: Answer) -> None:
        self.index = index
        self.answer = answer


@dataclass
class _Player:
    """One player's rows as the batch's accepted operations left them."""

    loaded: Loaded
    wallets: dict[str, Wallet]
    text: str  # the player's id as the rows and documents spell it
    changed: set[int] = field(default_factory=set)  # wallet ids any operation changed
    last_writes: dict[str, Any] = field(default_factory=dict)  # extension -> its writes


def _steps(item: kernel.Prepared | kernel.Chain) -> Sequence[Step]:
    return item.steps if isinstance(item, kernel.Chain) else (item,)


class _Undo:
    """Changes to the batch's state that a refused chain takes back, newest first. Logged
    only while a chain runs (``active``): a lone operation refuses before it changes any.
    Not logging, ``put``/``add``/``append``/``pop`` are the containers' own operations
    (C calls: no Python frame for the ~16 changes an operation makes)."""

    put: Callable[[dict[Any, Any], Any, Any], None]
    add: Callable[[set[Any], Any], None]
    append: Callable[[list[Any], Any], None]
    pop: Callable[[list[Any]], Any]

    def __init__(self) -> None:
        self.log: list[Callable[[], None]] = []
        self.active = True
        self.logging(False)

    def logging(self, on: bool) -> None:
        if on == self.active:
            return
        self.active = on
        if on:
            self.put, self.add = self._put, self._add
            self.append, self.pop = self._append, self._pop
        else:
            self.put, self.add = operator.setitem, set.add
            self.append, self.pop = list.append, list.pop

    def call(self, undo: Callable[[], None]) -> None:
        if self.active:
            self.log.append(undo)

    def _put(self, d: dict[Any, Any], key: Any, value: Any) -> None:
        if key in d:
            self.log.append(partial(d.__setitem__, key, d[key]))
        else:
            self.log.append(partial(d.pop, key))
        d[key] = value

    def _add(self, s: set[Any], value: Any) -> None:
        if value not in s:
            s.add(value)
            self.log.append(partial(s.discard, value))

    def _append(self, items: list[Any], value: Any) -> None:
        items.append(value)
        self.log.append(items.pop)

    def _pop(self, items: list[Any]) -> Any:
        value = items.pop()
        self.log.append(partial(items.append, value))
        return value

    def begin(self, logged: bool) -> None:
        """A new item: what earlier items changed stays."""
        self.logging(logged)
        self.log.clear()

    def back(self) -> None:
        while self.log:
            self.log.pop()()


@dataclass
class _Rows:
    """The holds and rounds LOAD read, as the batch's accepted operations left them, and
    which of them APPLY writes (inserted: the batch's own; updated: LOAD's)."""

    holds: dict[int, Row]
    rounds: dict[int, Row]
    by_ref: dict[str, Row]
    by_round: defaultdict[int, list[int]]
    by_transaction: dict[str, int]  # this client's bets: transaction id -> hold id
    new_holds: dict[int, tuple[uuid.UUID, str | None, float | None]] = field(default_factory=dict)
    new_rounds: dict[int, uuid.UUID] = field(default_factory=dict)
    changed_holds: set[int] = field(default_factory=set)
    changed_rounds: set[int] = field(default_factory=set)
    derived: dict[int, str] = field(default_factory=dict)  # round id -> the JSON APPLY writes

    @classmethod
    def of(cls, loaded: BatchLoaded) -> _Rows:
        holds = {h["id"]: h for h in loaded.holds}
        rounds = {r["id"]: r for r in loaded.rounds}
        by_round: defaultdict[int, list[int]] = defaultdict(list)
        for h in loaded.holds:
            if h["game_round_id"] is not None:
                by_round[h["game_round_id"]].append(h["id"])
        by_transaction = {h["transaction_id"]: h["id"] for h in loaded.holds
                          if h.pop("own") and h["purpose"] == HoldPurpose.BET
                          and h["transaction_id"] is not None}  # fmt: skip
        return cls(holds, rounds, {r["round_ref"]: r for r in rounds.values()}, by_round,
                   by_transaction)  # fmt: skip

    def named(self, args: LoadArgs) -> tuple[list[Row], list[Row]]:
        """The holds and rounds the single LOAD would lock for ``args``, as they are now."""
        if not args.hold_ids and args.round_ref is None and args.bet_transaction_id is None:
            return [], []
        round_ids: set[int] = set()
        hold_ids: set[int] = set()
        for hid in args.hold_ids:
            h = self.holds.get(hid)
            if h is not None:
                hold_ids.add(hid)
                if h["purpose"] == HoldPurpose.BET and h["game_round_id"] is not None:
                    round_ids.add(h["game_round_id"])
        if args.round_ref is not None and (rnd := self.by_ref.get(args.round_ref)) is not None:
            round_ids.add(rnd["id"])
        for rid in round_ids:
            hold_ids.update(self.by_round.get(rid, ()))
        if args.bet_transaction_id is not None:  # its round, not the round's other bets
            found = self.by_transaction.get(args.bet_transaction_id)
            if found is not None:
                hold_ids.add(found)
        round_ids.update(g for i in hold_ids if (g := self.holds[i]["game_round_id"]) is not None)
        holds = [self.holds[i] for i in sorted(hold_ids)]
        return holds, [self.rounds[i] for i in sorted(round_ids) if i in self.rounds]


@dataclass
class _Run:
    settings: Settings
    caller: Principal
    statements: hooks.BatchStatements
    loaded: BatchLoaded
    stored: dict[Key, tuple[str, str | None]]
    hashes: dict[int, str]  # id(step) -> its request hash
    rows: _Rows
    hold_ids: list[int]
    round_ids: list[int]
    players: dict[uuid.UUID, _Player] = field(default_factory=dict)
    answered: dict[Key, tuple[str, str]] = field(default_factory=dict)  # hash, text
    writes: BatchWrites = field(default_factory=BatchWrites)
    transactions: set[str] = field(default_factory=set)
    undo: _Undo = field(default_factory=_Undo)
    ran: list[tuple[str, Answer]] = field(default_factory=list)  # for the observers
    merges: dict[str, Any] = field(init=False)  # extension name -> its batch_merge or None

    def __post_init__(self) -> None:
        self.merges = {e.name: getattr(e, "batch_merge", None) for e in self.statements.extensions}

    def player(self, player_id: uuid.UUID) -> _Player:
        found = self.players.get(player_id)
        if found is None:
            row = self.loaded.players.get(player_id)
            wallets = self.loaded.wallets.get(player_id)
            if row is None or not wallets:
                raise NotFound("player not found")
            loaded = Loaded(True, row["player_status"], row["confirm_status"], wallets, [], [],
                            None, None)  # fmt: skip
            for ext in self.statements.extensions:
                loaded.extensions[ext.name] = ext.loaded(row)
            found = self.players[player_id] = _Player(
                loaded, wallets_by_kind(wallets), str(player_id)
            )
        return found


async def run(
    conn: asyncpg.Connection, settings: Settings, caller: Principal,
    items: Sequence[Item], *, atomic: bool,
    contexts: Sequence[contextvars.Context] | None = None,
) -> list[Answer]:  # fmt: skip
    """Every item's answer, in order (a DomainError item is that item's refusal).
    ``contexts``: each item's caller's (the group commit's requests), so its plan, and
    its audit row, see that request's id; by default the batch's own."""
    statements = hooks.batch_statements()
    if statements is None:
        raise Fallback("an extension cannot run batched")
    started = time.perf_counter()
    ready = [p for item in items if not isinstance(item, DomainError) for p in _steps(item)
             if isinstance(p, kernel.Prepared)]  # fmt: skip
    for p in ready:
        if p.spec.requires:
            hooks.require(*p.spec.requires)
    hashes = {id(p): request_hash(p.spec.name, p.spec.request) for p in ready}
    r: _Run | None = None
    if ready:
        loaded, stored = await _load(conn, statements, caller, ready, hashes)
        r = _Run(settings, caller, statements, loaded, stored, hashes, _Rows.of(loaded),
                 list(reversed(loaded.hold_ids)), list(reversed(loaded.round_ids)))  # fmt: skip
    answers: list[Answer] = []
    for index, item in enumerate(items):
        if isinstance(item, DomainError):
            answer: Answer = item
        else:
            assert r is not None
            if contexts is None:
                answer = _plan_item(r, item)
            else:
                answer = contexts[index].run(_plan_item, r, item)
        answers.append(answer)
        if atomic and _refused(answer):
            raise Abort(index, answer)
    if r is not None:
        await _apply(conn, r)
        _observe(r.ran, time.perf_counter() - started)
    return answers


async def _load(
    conn: asyncpg.Connection, statements: hooks.BatchStatements, caller: Principal,
    ready: Sequence[kernel.Prepared], hashes: dict[int, str],
) -> tuple[BatchLoaded, dict[Key, tuple[str, str | None]]]:  # fmt: skip
    first: dict[Key, str] = {}
    for p in ready:
        first.setdefault((p.spec.name, p.spec.idempotency_key), hashes[id(p)])
    keys = sorted(first)
    claims = BatchClaims(caller.key, [o for o, _ in keys], [k for _, k in keys],
                         [first[k] for k in keys])  # fmt: skip
    players = sorted({p.spec.player_id for p in ready})
    loads = [p.spec.load for p in ready]
    bets = {a.bet_round for a in loads if a.bet_round is not None}
    rows = BatchRows(
        transaction_ids=sorted({t for a in loads if (t := a.new_transaction_id) is not None}),
        holds=sum(a.allocate_hold for a in loads),
        hold_ids=sorted({i for a in loads for i in a.hold_ids}),
        round_refs=sorted(bets | {a.round_ref for a in loads if a.round_ref is not None}),
        bet_round_refs=sorted(bets),
        bet_transaction_ids=sorted({t for a in loads if (t := a.bet_transaction_id) is not None}),
    )  # fmt: skip
    loaded = await batch_repository.load(conn, statements.load, claims, players, rows)
    foreign = [k for k in keys if k not in loaded.claimed]
    stored = await batch_repository.stored_many(conn, caller.key, foreign) if foreign else {}
    return loaded, stored


def _plan_item(r: _Run, item: kernel.Prepared | kernel.Chain) -> Answer:
    """The item's answer: its one operation's, or its chain's (see ``kernel.Chain``)."""
    steps = _steps(item)
    r.undo.begin(len(steps) > 1)
    last = steps[-1]
    answer: Answer | None = None
    for step in steps:
        if step is last:
            # The last step refuses before it changes anything, and nothing runs after it:
            # what it changes is never taken back, so it is not logged (half a playRound's).
            r.undo.logging(False)
        answer = step if isinstance(step, DomainError) else _plan(r, step)
        if isinstance(answer, DomainError):
            r.undo.back()
            return answer
        if answer.status != "OK":
            return answer
    assert answer is not None
    return answer


def _plan(r: _Run, item: kernel.Prepared) -> Answer:
    spec, h = item.spec, r.hashes[id(item)]
    key = (spec.name, spec.idempotency_key)
    answer: Answer
    if key not in r.loaded.claimed:
        answer = _replay(r.stored.get(key), h)
    elif key in r.answered:
        answer = _replay(r.answered[key], h)
    else:
        try:
            answer = _run_plan(r, item, key, h)
        except DomainError as exc:
            answer = exc
    r.ran.append((spec.name, answer))
    if item.after is not None and isinstance(answer, kernel.Outcome):
        completed = item.after(answer.body)
        if any(ext.acts_after(completed) for ext in r.statements.extensions):
            # The single call runs the extension's hook (I/O) here, before the next operation.
            raise Fallback(f"an extension acts after this {spec.name}")
    return answer


def _replay(found: tuple[str, str | None] | None, request_hash_: str) -> Answer:
    """``kernel.replay``'s answers for a key claimed before this operation."""
    if found is None:
        return RequestInProgress("the request with this key is still in progress; retry")
    stored_hash, response = found
    if stored_hash != request_hash_:
        return IdempotencyKeyReused("this idempotency key was used with different input")
    if response is None:
        return RequestInProgress("the request with this key is still in progress; retry")
    document = cast(dict[str, Any], json_codec.decode(response))  # parsed once, for the result
    return kernel.Outcome(response, str(document["status"]), replayed=True, document=document)


def _run_plan(r: _Run, item: kernel.Prepared, key: Key, h: str) -> Answer:
    spec = item.spec
    player = r.player(spec.player_id)
    args: LoadArgs = spec.load
    txid = args.new_transaction_id
    base = player.loaded
    # The plan works on the player's wallets in place (their figures saved, to put back if
    # it refuses) and on a copy of the extensions' state (kept only if it is accepted).
    saved = [(w, w.balance, w.held, w.turnover) for w in player.wallets.values()]
    for w in player.wallets.values():
        w.changed = False
    extensions = {e.name: e.batch_copy(base.extensions.get(e.name))
                  for e in r.statements.extensions}  # fmt: skip
    holds, rounds = r.rows.named(args)
    loaded = Loaded(base.claimed, base.player_status, base.confirm_status, base.wallets, holds,
                    rounds, r.loaded.seen.get(txid) if txid else None,
                    r.hold_ids[-1] if args.allocate_hold and r.hold_ids else None,
                    extensions)  # fmt: skip
    op = kernel.begin(spec, r.caller, loaded, player.wallets, r.settings,
                      r.statements.extensions, player_text=player.text)  # fmt: skip
    try:
        body = item.plan(op)
        if body["status"] == "OK":
            _check_round(r, op, player.text)
    except DomainError:
        _restore(saved)
        raise
    # From here on every change is logged: a chain refused by a later step takes it back.
    if r.undo.active:
        r.undo.call(partial(_restore, saved))
    if args.allocate_hold:
        r.undo.pop(r.hold_ids)  # a refused plan raised above and left its id for the next one
    text = kernel.conclude(spec, op, body)
    r.undo.put(r.answered, key, (h, text))
    assert op.writes.audit is not None
    action, outcome, _ip, request_id, details = op.writes.audit
    r.undo.append(r.writes.audits, (action, spec.player_id, outcome, details, request_id))
    if body["status"] == "OK":
        _accept(r, player, op)
    else:
        _restore(saved)  # a stored refusal writes its answer only
    return kernel.Outcome(text, body["status"], document=body)


def _restore(saved: list[tuple[Wallet, int, int, int]]) -> None:
    for w, balance, held, turnover in saved:
        w.balance, w.held, w.turnover = balance, held, turnover


def _check_round(r: _Run, op: Operation, player: str) -> None:
    """What the single bet's APPLY finds out (its round upsert writes no row): a bet into
    a round that is closed, another player's or in another currency is refused."""
    w = op.writes
    if w.new_hold is not None and w.round_ref is None:
        raise Fallback(f"{op.name} holds money outside a game round")
    if w.round_ref is None:
        return
    rnd = r.rows.by_ref.get(w.round_ref)
    if rnd is None:
        if not r.round_ids:
            raise Fallback("no round id left for this bet's round")
    elif (rnd["status"] != RoundStatus.OPEN or rnd["player_id"] != player
          or rnd["currency"] != w.round_currency):  # fmt: skip
        raise HoldNotPending("the game round is closed or belongs to another player")


def _accept(r: _Run, player: _Player, op: Operation) -> None:
    w, undo = op.writes, r.undo
    gtx = w.game_transaction
    if gtx and gtx[0] in r.transactions:
        raise Fallback("two operations of the batch name one transaction id")
    round_id = _accept_rows(r, op, player.text)
    if gtx:
        undo.add(r.transactions, gtx[0])
        hold_id = w.new_hold.id if w.new_hold is not None else None
        undo.append(r.writes.game_transactions, (gtx[0], gtx[1], round_id, hold_id))
    if undo.active:
        undo.call(partial(setattr, player.loaded, "extensions", player.loaded.extensions))
    player.loaded.extensions = op.loaded.extensions
    for wallet_id in w.wallets:
        undo.add(player.changed, wallet_id)
    for name, writes in w.extensions.items():
        merge = r.merges[name]
        merged = writes if merge is None else merge(
            op.player_id, player.last_writes.get(name), writes, op.loaded.extensions.get(name)
        )  # fmt: skip
        undo.put(player.last_writes, name, merged)
    undo.append(r.writes.operations, w)


def _accept_rows(r: _Run, op: Operation, player: str) -> int | None:
    """Puts the operation's hold and round writes into the batch's rows; returns the round
    its game transaction names."""
    w, rows, undo = op.writes, r.rows, r.undo
    round_id: int | None = None
    if w.round_ref is not None:  # a bet: get or create its round
        rnd = rows.by_ref.get(w.round_ref)
        if rnd is None:
            rid = undo.pop(r.round_ids)
            rnd = {"id": rid, "player_id": player, "round_ref": w.round_ref,
                   "currency": w.round_currency, "status": RoundStatus.OPEN, "stake_real": 0,
                   "stake_bonus": 0, "win_real": 0, "win_bonus": 0, "derived": {}}  # fmt: skip
            undo.put(rows.rounds, rid, rnd)
            undo.put(rows.by_ref, w.round_ref, rnd)
            undo.put(rows.new_rounds, rid, op.player_id)
        elif rnd["id"] not in rows.new_rounds:
            undo.add(rows.changed_rounds, rnd["id"])  # its updated_at, as the single upsert
        round_id = rnd["id"]
    if (h := w.new_hold) is not None:
        undo.put(rows.holds, h.id, {
            "id": h.id, "player_id": player, "purpose": h.purpose,
            "game_round_id": round_id, "transaction_id": h.transaction_id,
            "currency": h.currency, "real_wallet_id": h.real_wallet_id,
            "bonus_wallet_id": h.bonus_wallet_id, "real_amount": h.real_amount,
            "bonus_amount": h.bonus_amount, "status": HoldStatus.PENDING, "expired": False,
        })  # fmt: skip
        if round_id is not None:
            undo.append(rows.by_round[round_id], h.id)
        if h.purpose == HoldPurpose.BET and h.transaction_id is not None:
            undo.put(rows.by_transaction, h.transaction_id, h.id)
        undo.put(rows.new_holds, h.id, (op.player_id, w.reference, h.expires_in_seconds))
    for hold_id, status in w.hold_updates:
        undo.put(rows.holds[hold_id], "status", status)
        if hold_id not in rows.new_holds:
            undo.add(rows.changed_holds, hold_id)
    if (u := w.round_update) is not None:
        rnd = rows.rounds[u.id]
        for name in ROUND_FIGURES:
            undo.put(rnd, name, getattr(u, name))
        if u.derived is not None:
            undo.put(rnd, "derived", orjson.loads(u.derived))
            undo.put(rows.derived, u.id, u.derived)
        if u.id not in rows.new_rounds:
            undo.add(rows.changed_rounds, u.id)
        round_id = u.id
    return round_id


async def _apply(conn: asyncpg.Connection, r: _Run) -> None:
    b = r.writes
    for key in sorted(r.loaded.claimed):
        if key in r.answered:
            b.answers.append((*key, *r.answered[key]))
        else:
            b.unclaimed.append(key)
    for player in r.players.values():
        for w in player.wallets.values():
            if w.id in player.changed:
                b.wallets[w.id] = (w.balance, w.held, w.turnover)
    _rows_writes(r.rows, b)
    for ext in r.statements.extensions:
        writes = [p.last_writes[ext.name] for p in r.players.values() if ext.name in p.last_writes]
        args = ext.batch_apply_args(writes)
        if args is None:
            raise Fallback(f"the {ext.name} extension's writes cannot be batched")
        b.extension_args.extend(args)
    if not (b.answers or b.unclaimed):
        return
    try:
        applied = await batch_repository.apply(conn, r.statements.apply, r.caller.key, b)
    except asyncpg.NumericValueOutOfRangeError as exc:
        raise Fallback("a counter would overflow: the single path says which") from exc
    except asyncpg.UniqueViolationError as exc:
        # A round or a transaction id created since LOAD's snapshot (APPLY inserts them
        # without ON CONFLICT): the single path gives the operation concerned its refusal.
        raise Fallback(f"APPLY met {exc.constraint_name}: run one by one") from exc
    expected = (len(b.wallets), len(b.new_rounds), len(b.round_updates), len(b.new_holds),
                len(b.hold_updates), len(b.game_transactions))  # fmt: skip
    got = (applied.wallets, applied.rounds_inserted, applied.rounds_updated,
           applied.holds_inserted, applied.holds_updated, applied.game_transactions)  # fmt: skip
    if got != expected:
        raise Fallback(f"APPLY wrote {got}, planned {expected}")


def _rows_writes(rows: _Rows, b: BatchWrites) -> None:
    """The final state of every round and hold the batch created or changed."""
    for rid in sorted(rows.new_rounds):
        g = rows.rounds[rid]
        b.new_rounds.append((rid, g["round_ref"], rows.new_rounds[rid], g["currency"],
                             *(g[n] for n in ROUND_FIGURES), rows.derived.get(rid)))  # fmt: skip
    for rid in sorted(rows.changed_rounds):
        g = rows.rounds[rid]
        b.round_updates.append((rid, *(g[n] for n in ROUND_FIGURES), rows.derived.get(rid)))
    for hid in sorted(rows.new_holds):
        h, (player_id, reference, expires) = rows.holds[hid], rows.new_holds[hid]
        b.new_holds.append((hid, player_id, h["purpose"], h["game_round_id"],
                            h["transaction_id"], reference, h["currency"], h["real_wallet_id"],
                            h["bonus_wallet_id"], h["real_amount"], h["bonus_amount"], expires,
                            h["status"]))  # fmt: skip
    b.hold_updates.extend((hid, rows.holds[hid]["status"]) for hid in sorted(rows.changed_holds))


def _refused(answer: Answer) -> bool:
    return isinstance(answer, DomainError) or answer.status != "OK"


def _observe(ran: list[tuple[str, Answer]], seconds: float) -> None:
    each = seconds / max(len(ran), 1)
    for name, answer in ran:
        if isinstance(answer, DomainError):
            observers.notify(name, answer.code, False, each)
        else:
            observers.notify(name, answer.status, answer.replayed, each)
