"""Ledger extensions: rules other packages add to the money path without the ledger
importing them (bonuses today; responsible-gambling limits and fraud checks next).

The protocol
------------
An extension is registered once, at start-up, by the composition root
(``pms.hooks.register_all()``); the kernel (app/ledger/kernel.py) then calls every
registered extension, in registration order, inside the operation's transaction:

* **Statements.** ``load_parts`` and ``apply_parts`` are SQL fragments composed into the
  operation's two prepared statements (``repository.compose_load``,
  ``write_repository.compose_apply``), so an extension adds CTEs and columns, never a
  round trip. LOAD fragments lock and read the extension's rows after the core's (lock
  order: wallets, holds, round, then the extensions') and may use ``$5`` (player id)
  and the CTE ``n`` (wallets locked; 0 when the idempotency key was not claimed). APPLY
  fragments use ``$e0``..``$eN`` for their own ``apply_parts.parameters``, filled by
  ``apply_args``; ``$9`` is the player id there (write ``$9::uuid``, or
  ``$9::uuid::text``: a family's first use of a parameter types it). An APPLY part
  joins only the operations that have writes for it (``ApplyParts.always`` for every
  operation): APPLY is one statement per family of operations.
* **Rows.** ``loaded(row)`` parses the extension's LOAD columns into its state, kept in
  ``op.loaded.extensions[name]``. Its writes go to ``op.writes.extensions[name]`` (a
  stored business error drops them with every other write); ``apply_args(writes)`` turns
  them (``None`` when the operation wrote none) into its APPLY parameters.
* **Hook points**, called by the plans (plain Python, no I/O; raise a ``DomainError`` to
  refuse and roll back, e.g. a future ``LimitExceeded``):
  ``before_debit`` (a bet or withdrawal about to hold money, after the core's own checks),
  ``settled`` (a bet round settled: stake counted), ``round_rolled_back`` (a settled round
  refunded: take back what ``settled`` added to ``op.derived``), ``withdrawing`` (a
  withdrawal about to hold money), ``depositing`` (a deposit about to be credited, e.g. a
  deposit limit), ``bet_voided`` (a pending bet cancelled or rolled back: its locked hold
  row).
  System operations whose plan calls a hook point (hold expiry calls ``bet_voided``)
  run the LOAD parts too, alone, after their wallet locks (``compose_system_load``).
* **After the operation** (same transaction, may do I/O, rare paths only):
  ``after_operation`` with the completed operation's facts (deposit triggers, tier
  rewards), called when ``acts_after`` says so (a cheap test: the API's money path runs
  on a driver connection and makes a session for these hooks only then). It runs for
  replayed outcomes too, so it must be idempotent.

A responsible-gambling limit is then: LOAD parts reading the player's counters (a fresh
read once the wallets are locked: app/responsible/extension.py),
``before_debit`` comparing counter + stake to the limit (raise ``LimitExceeded``) and
adding the stake to its writes, APPLY parts upserting the counters.

``ExtensionBase`` gives no-op defaults, so an extension implements only what it uses.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from app.ledger.batch_repository import BatchApplyStatements, compose_batch_load
from app.ledger.operation import Operation
from app.ledger.repository import LoadParts, compose_load, compose_system_load
from app.ledger.write_repository import ApplyParts, ApplyStatements


@dataclass(frozen=True)
class Debit:
    """Money a player-initiated operation is about to hold."""

    operation: str  # reserveBet, withdraw
    purpose: str  # HoldPurpose: BET or WITHDRAWAL
    amount: int  # minor units
    currency: str


@dataclass(frozen=True)
class Settlement:
    """A settled bet round: the stake that counts (wagering, loyalty, turnover limits)."""

    stake: int
    currency: str
    category: str
    stake_real: int = 0  # the REAL-wallet parts (loss limits count real money only)
    win_real: int = 0


@dataclass(frozen=True)
class Completed:
    """A finished operation, as ``after_operation`` sees it (success or stored error)."""

    operation: str
    player_id: uuid.UUID
    body: Mapping[str, Any]
    amount: int = 0
    currency: str | None = None
    promo_code: str | None = None


class LedgerExtension(Protocol):
    """See the module docstring."""

    @property
    def name(self) -> str: ...

    @property
    def load_parts(self) -> LoadParts: ...

    @property
    def apply_parts(self) -> ApplyParts: ...

    def loaded(self, row: Mapping[str, Any]) -> Any: ...

    def apply_args(self, writes: Any | None) -> Sequence[Any]: ...

    # The set-based walletBatch (app/ledger/set_batch.py): LOAD parts over every player of
    # the batch (None: this extension cannot run batched, the batch runs one by one) and
    # APPLY parts for the final writes of every player (``batch_apply_args`` gets each
    # player's last writes; None: these writes cannot be batched, nor can the batch).
    @property
    def batch_load_parts(self) -> LoadParts | None: ...

    @property
    def batch_apply_parts(self) -> ApplyParts: ...

    def batch_apply_args(self, writes: Sequence[Any]) -> Sequence[Any] | None: ...

    def batch_copy(self, state: Any) -> Any: ...

    # An accepted batched operation's writes joined to the player's earlier ones in the
    # batch (``previous``; None for the first): what ``batch_apply_args`` gets for the
    # player. ``state`` is the player's state as the next operation will see it (the
    # extension may bring it up to what its writes make of the rows).
    def batch_merge(self, player_id: uuid.UUID, previous: Any | None, writes: Any,
                    state: Any) -> Any: ...  # fmt: skip

    def before_debit(self, op: Operation, debit: Debit) -> None: ...

    def settled(self, op: Operation, settlement: Settlement) -> None: ...

    def round_rolled_back(self, op: Operation, derived: Mapping[str, Any]) -> None: ...

    def withdrawing(self, op: Operation, currency: str) -> None: ...

    def depositing(self, op: Operation, amount: int, currency: str) -> None: ...

    def bet_voided(self, op: Operation, hold: Mapping[str, Any]) -> None: ...

    def acts_after(self, completed: Completed) -> bool: ...

    async def after_operation(
        self, session: AsyncSession, settings: Settings, completed: Completed
    ) -> None: ...


class ExtensionBase:
    """No-op defaults for every hook point (subclass and override what you need)."""

    name = "extension"
    load_parts = LoadParts()
    apply_parts = ApplyParts()

    def loaded(self, row: Mapping[str, Any]) -> Any:
        return None

    def apply_args(self, writes: Any | None) -> Sequence[Any]:
        return ()

    batch_load_parts: LoadParts | None = None
    batch_apply_parts = ApplyParts()

    def batch_apply_args(self, writes: Sequence[Any]) -> Sequence[Any] | None:
        """No batched writes by default: a batch where this extension wrote runs one by one."""
        return None if writes else ()

    def batch_copy(self, state: Any) -> Any:
        """A copy of ``loaded(row)``'s state for one batched operation to work on (kept if
        it is accepted, dropped if refused): deep unless the extension knows better."""
        return None if state is None else copy.deepcopy(state)

    def batch_merge(self, player_id: uuid.UUID, previous: Any | None, writes: Any,
                    state: Any) -> Any:  # fmt: skip
        """The latest writes replace the earlier ones (right for writes that carry their
        rows' whole state, as the limit counters do)."""
        return writes

    def before_debit(self, op: Operation, debit: Debit) -> None:
        return None

    def settled(self, op: Operation, settlement: Settlement) -> None:
        return None

    def round_rolled_back(self, op: Operation, derived: Mapping[str, Any]) -> None:
        return None

    def withdrawing(self, op: Operation, currency: str) -> None:
        return None

    def depositing(self, op: Operation, amount: int, currency: str) -> None:
        return None

    def bet_voided(self, op: Operation, hold: Mapping[str, Any]) -> None:
        return None

    def acts_after(self, completed: Completed) -> bool:
        """Whether ``after_operation`` has work for ``completed`` (default: whenever a
        subclass overrides it)."""
        return type(self).after_operation is not ExtensionBase.after_operation

    async def after_operation(
        self, session: AsyncSession, settings: Settings, completed: Completed
    ) -> None:
        return None


@dataclass(frozen=True)
class Statements:
    """LOAD and APPLY with the registered extensions' parts, composed once (and the
    parts alone, for system operations that call the hooks). APPLY is one text per
    family of operations (the parts an operation writes: ``ApplyStatements``)."""

    load: str
    apply: ApplyStatements
    extensions: tuple[LedgerExtension, ...]
    system_load: str


@dataclass(frozen=True)
class BatchStatements:
    """The set-based walletBatch's LOAD and APPLY with the extensions' batched parts."""

    load: str
    apply: BatchApplyStatements  # by family (``.whole``: every part)
    extensions: tuple[LedgerExtension, ...]


_registry: dict[str, LedgerExtension] = {}
_statements: Statements | None = None
_batch_statements: BatchStatements | None = None


def register(extension: LedgerExtension) -> None:
    """Add ``extension`` (idempotent by name: registering a name again keeps the first)."""
    global _statements, _batch_statements
    if extension.name not in _registry:
        _registry[extension.name] = extension
        _statements = _batch_statements = None


def unregister(name: str) -> None:
    global _statements, _batch_statements
    if _registry.pop(name, None) is not None:
        _statements = _batch_statements = None


def registered() -> tuple[LedgerExtension, ...]:
    return tuple(_registry.values())


def require(*names: str) -> None:
    """Operations owned by an extension (bonus awards, bonus expiry) cannot run without it."""
    missing = [n for n in names if n not in _registry]
    if missing:
        raise RuntimeError(f"ledger extension(s) not registered: {', '.join(missing)} "
                           "(call pms.hooks.register_all() at start-up)")  # fmt: skip


def statements() -> Statements:
    global _statements
    if _statements is None:
        exts = registered()
        _statements = Statements(
            compose_load([e.load_parts for e in exts]),
            ApplyStatements([e.apply_parts for e in exts]),
            exts,
            compose_system_load([e.load_parts for e in exts]),
        )
    return _statements


def batch_statements() -> BatchStatements | None:
    """None when a registered extension has no batched LOAD parts."""
    global _batch_statements
    if _batch_statements is None:
        exts = registered()
        # getattr: an extension written to the protocol before batches has no such part.
        parts: list[LoadParts | None] = [getattr(e, "batch_load_parts", None) for e in exts]
        if any(p is None for p in parts):
            return None
        _batch_statements = BatchStatements(
            compose_batch_load([p for p in parts if p is not None]),
            BatchApplyStatements([e.batch_apply_parts for e in exts]),
            exts,
        )
    return _batch_statements


def extensions_of(op: Operation) -> Sequence[LedgerExtension]:
    return op.extensions  # Sequence[Any]: no cast (on the hot path, a typing subscript costs)


def apply_args(op: Operation) -> list[Sequence[Any] | None]:
    """Each extension's APPLY parameters, in registration order; ``None`` for one that
    does not join this operation's APPLY (no writes for it, and its part not ``always``)."""
    args: list[Sequence[Any] | None] = []
    for ext in extensions_of(op):
        writes = op.writes.extensions.get(ext.name)
        joins = writes is not None or ext.apply_parts.always
        args.append(ext.apply_args(writes) if joins else None)
    return args
