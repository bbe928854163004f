"""Set-based execution of a walletBatch: one LOAD for every operation, the plans in
Python in order, one APPLY for every accepted operation (app/ledger/batch_repository.py).

The rules are the single operations' own: each operation's plan (``Prepared.plan``, the
function the single call runs) works on an ``Operation`` built by the kernel's ``begin``
over the player's rows as the batch's earlier operations left them, and ``conclude``
gives its stored answer and audit row. A plan that refuses (a DomainError, or a stored
business error such as InsufficientFunds) works on a copy of the player's state, which
is then dropped: the next operation sees the rows as if it had not run. Refused
operations write nothing but what a single call writes (a stored error: its key's answer
and audit row; a DomainError: nothing, its key given back).

Covered: operations whose LOAD needs only the player's wallets, a transaction-id lookup
and a new hold id (reserveBet), with extensions that have batched parts. Anything else
raises ``Fallback`` before or instead of writing (the transaction rolls back; the caller
runs the batch one by one): another LOAD shape, two accepted operations naming one game
round or transaction id, an extension whose writes cannot be batched, or a race only the
unique indexes saw (APPLY wrote fewer rows than planned), or an overflowing counter.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from app.core import json_codec
from app.core.errors import DomainError, NotFound
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import batch_repository, hooks, kernel, observers
from app.ledger.batch_repository import BatchClaims, BatchLoaded, BatchWrites
from app.ledger.errors import IdempotencyKeyReused, RequestInProgress
from app.ledger.operation import Wallet, request_hash, wallets_by_kind
from app.ledger.repository import LoadArgs, Loaded

Answer = kernel.Outcome | DomainError
Key = tuple[str, str]  # (operation, idempotency key)


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
    changed: set[int] = field(default_factory=set)  # wallet ids any operation changed
    last_writes: dict[str, Any] = field(default_factory=dict)  # extension -> its writes


def supported(spec: kernel.OperationSpec) -> bool:
    """Whether batched LOAD reads all this operation's plan needs."""
    load = spec.load
    return not load.hold_ids and load.round_ref is None and load.bet_transaction_id is None


@dataclass
class _Run:
    settings: Settings
    caller: Principal
    statements: hooks.BatchStatements
    loaded: BatchLoaded
    stored: dict[Key, tuple[str, str | None]]
    hashes: list[str]
    players: dict[uuid.UUID, _Player] = field(default_factory=dict)
    answered: dict[Key, tuple[str, str]] = field(default_factory=dict)  # hash, text
    writes: BatchWrites = field(default_factory=BatchWrites)
    rounds: set[str] = field(default_factory=set)
    transactions: set[str] = field(default_factory=set)
    hold_ids: list[int] = field(default_factory=list)

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
            found = self.players[player_id] = _Player(loaded, wallets_by_kind(wallets))
        return found


async def run(
    conn: asyncpg.Connection, settings: Settings, caller: Principal,
    items: Sequence[kernel.Prepared | DomainError], *, atomic: bool,
) -> list[Answer]:  # fmt: skip
    """Every item's answer, in order (a DomainError item is that item's refusal)."""
    statements = hooks.batch_statements()
    if statements is None:
        raise Fallback("an extension cannot run batched")
    started = time.perf_counter()
    ready = [p for p in items if isinstance(p, kernel.Prepared)]
    for p in ready:
        if not supported(p.spec):
            raise Fallback(f"{p.spec.name} is not batched set-based")
        if p.spec.requires:
            hooks.require(*p.spec.requires)
    hashes = [request_hash(p.spec.name, p.spec.request) if isinstance(p, kernel.Prepared)
              else "" for p in items]  # fmt: skip
    r: _Run | None = None
    if ready:
        loaded, stored = await _load(conn, statements, caller, items, hashes)
        r = _Run(settings, caller, statements, loaded, stored, hashes,
                 hold_ids=list(reversed(loaded.hold_ids)))  # fmt: skip
    answers: list[Answer] = []
    for index, item in enumerate(items):
        if isinstance(item, DomainError):
            answer: Answer = item
        else:
            assert r is not None
            answer = _plan(r, index, item)
        answers.append(answer)
        if atomic and _refused(answer):
            raise Abort(index, answer)
    if r is not None:
        await _apply(conn, r)
    _observe(items, answers, time.perf_counter() - started)
    return answers


async def _load(
    conn: asyncpg.Connection, statements: hooks.BatchStatements, caller: Principal,
    items: Sequence[kernel.Prepared | DomainError], hashes: list[str],
) -> tuple[BatchLoaded, dict[Key, tuple[str, str | None]]]:  # fmt: skip
    first: dict[Key, str] = {}
    for item, h in zip(items, hashes, strict=True):
        if isinstance(item, kernel.Prepared):
            first.setdefault((item.spec.name, item.spec.idempotency_key), h)
    keys = sorted(first)
    claims = BatchClaims(caller.key, [o for o, _ in keys], [k for _, k in keys],
                         [first[k] for k in keys])  # fmt: skip
    ready = [p for p in items if isinstance(p, kernel.Prepared)]
    players = sorted({p.spec.player_id for p in ready})
    txids = sorted({t for p in ready if (t := p.spec.load.new_transaction_id) is not None})
    holds = sum(p.spec.load.allocate_hold for p in ready)
    loaded = await batch_repository.load(conn, statements.load, claims, players, txids, holds)
    foreign = [k for k in keys if k not in loaded.claimed]
    stored = await batch_repository.stored_many(conn, caller.key, foreign) if foreign else {}
    return loaded, stored


def _plan(r: _Run, index: int, item: kernel.Prepared) -> Answer:
    spec, h = item.spec, r.hashes[index]
    key = (spec.name, spec.idempotency_key)
    if key not in r.loaded.claimed:
        return _replay(r.stored.get(key), h)
    if key in r.answered:
        return _replay(r.answered[key], h)
    try:
        return _run_plan(r, item, key, h)
    except DomainError as exc:
        return exc


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
    loaded = Loaded(base.claimed, base.player_status, base.confirm_status, base.wallets, [], [],
                    r.loaded.seen.get(txid) if txid else None,
                    r.hold_ids[-1] if args.allocate_hold else None, extensions)  # fmt: skip
    op = kernel.begin(spec, r.caller, loaded, player.wallets, r.settings,
                      r.statements.extensions)  # fmt: skip
    try:
        body = item.plan(op)
    except DomainError:
        _restore(saved)
        raise
    if args.allocate_hold:
        r.hold_ids.pop()  # a refused plan raised above and left its id for the next one
    text = kernel.conclude(spec, op, body)
    r.answered[key] = (h, text)
    assert op.writes.audit is not None
    action, outcome, _ip, _request, details = op.writes.audit
    r.writes.audits.append((action, spec.player_id, outcome, details))
    if body["status"] == "OK":
        _accept(r, player, op)
    else:
        _restore(saved)  # a stored refusal writes its answer only
    return kernel.Outcome(text, body["status"], document=body)


def _restore(saved: list[tuple[Wallet, int, int, int]]) -> None:
    for w, balance, held, turnover in saved:
        w.balance, w.held, w.turnover = balance, held, turnover


def _accept(r: _Run, player: _Player, op: Any) -> None:
    w = op.writes
    if w.hold_updates or w.round_update is not None or (w.new_hold and w.round_ref is None):
        raise Fallback(f"{op.name} writes what batched APPLY does not")
    gtx = w.game_transaction[0] if w.game_transaction else None
    if (w.round_ref and w.round_ref in r.rounds) or (gtx and gtx in r.transactions):
        raise Fallback("two operations of the batch name one game round or transaction id")
    if w.round_ref:
        r.rounds.add(w.round_ref)
    if gtx:
        r.transactions.add(gtx)
    player.loaded.extensions = op.loaded.extensions
    player.changed.update(w.wallets)
    player.last_writes.update(w.extensions)
    r.writes.operations.append(w)


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
    ops = b.operations
    expected = (len(b.wallets), sum(w.round_ref is not None for w in ops),
                sum(w.new_hold is not None for w in ops),
                sum(w.game_transaction is not None for w in ops))  # fmt: skip
    got = (applied.wallets, applied.rounds, applied.holds_inserted, applied.game_transactions)
    if got != expected:
        # A round closed or a transaction id used since LOAD's snapshot (the unique indexes
        # decided it): the single path gives the operation concerned its own refusal.
        raise Fallback(f"APPLY wrote {got}, planned {expected}")


def _refused(answer: Answer) -> bool:
    return isinstance(answer, DomainError) or answer.status != "OK"


def _observe(items: Sequence[Any], answers: list[Answer], seconds: float) -> None:
    each = seconds / max(len(items), 1)
    for item, answer in zip(items, answers, strict=True):
        if isinstance(item, kernel.Prepared):
            if isinstance(answer, DomainError):
                observers.notify(item.spec.name, answer.code, False, each)
            else:
                observers.notify(item.spec.name, answer.status, answer.replayed, each)
