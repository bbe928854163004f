"""The ledger's operation kernel: read, plan, write.

Every money operation takes a session (inside the caller's transaction), never commits,
and makes exactly two statements: LOAD (idempotency claim + wallet locks + reads) and
APPLY (all writes), each carrying the registered extensions' parts (app/ledger/hooks.py).
The rules in between are a plan: a pure function of the locked rows (an ``Operation``).

The result of an operation is a JSON document (``Outcome.body``) stored with the
idempotency key in the same transaction; a retry with the same key gets that document
back unchanged (``replay``). Business errors listed in ``errors.STORED_ERRORS`` are such
documents too (the transaction commits with them); every other DomainError raised here
rolls back.

System operations (hold expiry, bonus expiry) have no idempotency key: they lock a
player with SKIP LOCKED and share ``run_system_operation``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import json_codec
from app.core.db import Database, DriverTransaction
from app.core.errors import DomainError, NotFound
from app.core.logging import client_ip_var, request_id_var
from app.core.principal import Principal
from app.core.settings import Settings
from app.ledger import hooks, repository, write_repository
from app.ledger.errors import (
    AmountTooLarge,
    DuplicateTransaction,
    HoldNotPending,
    IdempotencyKeyReused,
    RequestInProgress,
)
from app.ledger.observers import observed
from app.ledger.operation import (
    Operation,
    Wallet,
    canonical_json,
    request_hash,
    wallets_by_kind,
)
from app.ledger.repository import IdempotencyClaim, LoadArgs, Loaded
from app.ledger.write_repository import AuditRow, Writes

log = logging.getLogger(__name__)

Body = dict[str, Any]
Plan = Callable[[Operation], Body]
# Runs between plan and APPLY on a successful plan (bonus awards insert their row here).
BeforeApply = Callable[[asyncpg.Connection, Operation, Body], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What an operation answered: the stored JSON text and its parsed form."""

    text: str
    status: str = "OK"  # or the stored business error's code (for the observers)
    replayed: bool = False  # answered from the stored idempotency record
    # The document ``text`` encodes, when the caller has it already (a set-based batch's
    # plans): ``body`` then gives it back instead of parsing ``text`` again.
    document: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def body(self) -> dict[str, Any]:
        if self.document is not None:
            return self.document
        return cast(dict[str, Any], json_codec.decode(self.text))


@dataclass(frozen=True)
class OperationSpec:
    """Who asks what: the idempotency identity (``request`` is what the key's hash
    covers) and which rows LOAD must lock for the plan."""

    name: str
    idempotency_key: str
    request: Mapping[str, Any]
    player_id: uuid.UUID
    reference: str | None = None
    load: LoadArgs = field(default_factory=LoadArgs)
    requires: tuple[str, ...] = ()  # extensions without which the operation cannot run


# The unit of work a money operation runs in: the API's driver transaction, a session's
# (system operations, batches), or a bare driver connection (bench/wallet.py).
Unit: TypeAlias = AsyncSession | DriverTransaction | asyncpg.Connection


@observed
async def run_operation(
    session: Unit,
    settings: Settings | None,
    caller: Principal,
    spec: OperationSpec,
    plan: Plan,
    *,
    before_apply: BeforeApply | None = None,
) -> Outcome:
    """Read (LOAD), plan, write (APPLY) one operation in the caller's transaction."""
    if spec.requires:
        hooks.require(*spec.requires)
    statements = hooks.statements()
    claim = claim_of(caller, spec)
    conn = await repository.driver(session)
    loaded, row = await repository.load(
        conn, statements.load, claim, spec.player_id, caller.key, spec.load
    )
    if not loaded.claimed:
        return await replay(conn, claim)
    if not loaded.wallets:
        raise NotFound("player not found")
    for ext in statements.extensions:
        loaded.extensions[ext.name] = ext.loaded(row)
    op = begin(spec, caller, loaded, wallets_by_kind(loaded.wallets), settings,
               statements.extensions)  # fmt: skip
    body = plan(op)
    if before_apply is not None and body["status"] == "OK":
        await before_apply(conn, op, body)
    text = conclude(spec, op, body)
    try:
        applied = await write_repository.apply(
            conn, statements.apply, op.writes, text, claim, hooks.apply_args(op),
            loaded.plan_cache_mode,
        )  # fmt: skip
    except asyncpg.NumericValueOutOfRangeError as exc:
        # A counter summed inside the statement (turnover) would leave BIGINT; the plan
        # guards the balances it computes. The statement failed as a whole and raising
        # rolls the transaction back, so nothing is written.
        raise AmountTooLarge("a balance would exceed the largest amount") from exc
    _check_races(op.writes, applied)
    return Outcome(text, body["status"])


def claim_of(caller: Principal, spec: OperationSpec) -> IdempotencyClaim:
    return IdempotencyClaim(
        caller.key, spec.name, spec.idempotency_key, request_hash(spec.name, spec.request)
    )


def begin(
    spec: OperationSpec, caller: Principal, loaded: Loaded, wallets: dict[str, Wallet],
    settings: Settings | None, extensions: Sequence[Any], *, player_text: str | None = None,
) -> Operation:  # fmt: skip
    """The operation's working state over its locked rows (single and batched alike);
    ``player_text``: the player's id as text, when the caller has it (a batch's player)."""
    operation_id = uuid.uuid4()
    writes = Writes(
        operation_id=operation_id,
        player_id=spec.player_id,
        actor=caller.key,
        reference=spec.reference,
        idempotency_key=spec.idempotency_key,
        client=caller.key,
    )
    op = Operation(
        spec.name, spec.player_id, loaded, writes, wallets, settings=settings,
        extensions=extensions,
    )  # fmt: skip
    if player_text is not None:
        op.ids = (player_text, str(operation_id))
    return op


def conclude(spec: OperationSpec, op: Operation, body: Body) -> str:
    """The stored answer's text; the audit row joins the operation's writes."""
    op.writes.audit = audit_row(spec.name, body)
    return canonical_json(body)


@dataclass(frozen=True)
class Prepared:
    """An operation whose input is checked, ready to run (single or in a set-based batch)."""

    spec: OperationSpec
    plan: Plan
    # What ``after_operation`` is told of the outcome, for an operation whose single call
    # runs it (settleBet): a set-based batch runs one by one when an extension acts on it.
    after: Callable[[Body], hooks.Completed] | None = None


@dataclass(frozen=True)
class Chain:
    """Operations that make one batch item (playRound: its bet, then its win), each run
    only when the one before answered OK; the item's answer is the last one run's, and a
    refusal (DomainError) of any refuses the whole item: nothing of it is written. A step
    given as a DomainError is its input's refusal, answered when its turn comes."""

    steps: tuple[Prepared | DomainError, ...]


async def connection(session: Unit) -> asyncpg.Connection:
    """The driver connection of ``session`` (in its transaction), for statements an
    operation runs beside the kernel's (eligibility reads, an award's insert)."""
    return await repository.driver(session)


def _check_races(w: Writes, applied: write_repository.Applied) -> None:
    """A race LOAD could not see (its snapshot predates the wallet lock) shows here; the
    unique indexes decided it, and raising rolls the whole operation back."""
    if w.round_ref is not None and applied.rounds != 1:
        raise HoldNotPending("the game round is closed or belongs to another player")
    if w.new_hold is not None and applied.holds_inserted != 1:
        raise HoldNotPending("the game round is closed")
    if w.game_transaction is not None and applied.game_transactions != 1:
        raise DuplicateTransaction("this transaction id was already used")


def audit_row(operation: str, body: Mapping[str, Any]) -> AuditRow:
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


async def replay(conn: asyncpg.Connection, claim: IdempotencyClaim) -> Outcome:
    """The stored outcome of a key already claimed (same caller, operation and input)."""
    found = await repository.stored(conn, claim)
    if found is None:
        raise RequestInProgress("the request with this key is still in progress; retry")
    stored_hash, response = found
    if stored_hash != claim.request_hash:
        raise IdempotencyKeyReused("this idempotency key was used with different input")
    if response is None:
        raise RequestInProgress("the request with this key is still in progress; retry")
    status = cast(dict[str, Any], json_codec.decode(response))["status"]
    return Outcome(response, status, replayed=True)


async def after_operation(session: Unit, settings: Settings, completed: hooks.Completed) -> None:
    """The hooks of the extensions that act on ``completed`` (same transaction: a
    ``DriverTransaction`` lends them a session on its connection, made only then; a bare
    driver connection, as bench/wallet.py uses, has no session for them and skips them)."""
    if not isinstance(session, AsyncSession | DriverTransaction):
        return
    acting = [ext for ext in hooks.statements().extensions if ext.acts_after(completed)]
    if not acting:
        return
    if isinstance(session, DriverTransaction):
        session = await session.session()
    for ext in acting:
        await ext.after_operation(session, settings, completed)


# --- system operations ----------------------------------------------------------------------

# Works on the locked player: returns how many rows it handled (0: nothing to write).
SystemPlan = Callable[[Operation, list[dict[str, Any]]], int]


@dataclass(frozen=True)
class SystemOperation:
    name: str  # the operation name in balance_changed events (expireHolds, ...)
    actor: str  # a system principal's key
    candidates_sql: str  # $1 = batch size -> player_id rows
    lock_sql: str  # $1 = player id -> wallets, wallet_count, rows (see lock_for_system)
    plan: SystemPlan
    requires: tuple[str, ...] = ()
    # The plan calls the extensions' hook points (hold expiry: ``bet_voided``), so their
    # LOAD parts run after the lock and their writes go into APPLY, as in any operation.
    calls_hooks: bool = False


async def run_system_operation(
    db: Database, system: SystemOperation, batch: int, settings: Settings | None = None
) -> int:
    """Run ``system`` for up to ``batch`` candidate players, one transaction each, so a
    busy player (SKIP LOCKED) or a refusal holds up nobody else. Returns the rows handled."""
    hooks.require(*system.requires)
    async with db.read_session() as session:
        conn = await repository.driver(session)
        players = await repository.candidate_players(conn, system.candidates_sql, batch)
    done = 0
    for player_id in players:
        async with db.transaction() as session:
            conn = await repository.driver(session)
            done += await _system_player(conn, system, player_id, settings)
    return done


async def _system_player(
    conn: asyncpg.Connection, system: SystemOperation, player_id: uuid.UUID,
    settings: Settings | None,
) -> int:  # fmt: skip
    locked = await repository.lock_for_system(conn, system.lock_sql, player_id)
    if not locked.complete or not locked.rows:
        return 0  # another replica or a live operation has this player right now
    statements = hooks.statements()
    loaded = Loaded(True, None, None, locked.wallets, [], [], None, None)
    if system.calls_hooks:
        row = await repository.load_for_system(
            conn, statements.system_load, player_id, len(locked.wallets)
        )
        for ext in statements.extensions:
            loaded.extensions[ext.name] = ext.loaded(row)
    op = Operation(
        system.name, player_id, loaded, Writes(uuid.uuid4(), player_id, system.actor),
        wallets_by_kind(locked.wallets), settings=settings, extensions=statements.extensions,
    )  # fmt: skip
    handled = system.plan(op, locked.rows)
    if handled == 0:
        return 0
    op.finish()
    await write_repository.apply(
        conn, statements.apply, op.writes, None, None, hooks.apply_args(op)
    )
    log.info("%s: %d row(s) of player %s", system.name, handled, player_id)
    return handled
