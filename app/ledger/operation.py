"""The working state of one money operation between LOAD and APPLY: the locked rows, the
writes collected so far and the result document. No I/O: a plan (a top-level function of
a frozen request and an ``Operation``) is plain Python, testable without a database.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core.errors import DomainError
from app.core.money import MAX_MINOR_UNITS, format_amount
from app.core.settings import Settings
from app.ledger.errors import AccountBlocked, AmountTooLarge, CurrencyMismatch
from app.ledger.repository import Loaded
from app.ledger.write_repository import TransferLine, Writes
from app.players.models import PlayerStatus

# Statuses in which a player may not start new debits (credits, settles, voids go on).
DEBIT_BLOCKED = frozenset({PlayerStatus.BLOCKED, PlayerStatus.SELF_EXCLUDED, PlayerStatus.CLOSED})


def _stdlib_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact, sorted keys, UTF-8 as is. orjson (5-8x faster; 4-5 documents per money
    operation) writes the same text as the standard library for what the ledger encodes
    (strings, integers, booleans, null, lists, objects; tests/unit/test_canonical_json.py);
    what orjson refuses (integers beyond 64 bits, non-string keys) goes to the latter."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _stdlib_json(value)


def request_hash(operation: str, request: Mapping[str, Any]) -> str:
    # The standard library's text on purpose: stored keys keep their hash for their whole
    # retention whatever a request may hold (orjson writes some floats differently).
    return hashlib.sha256(_stdlib_json([operation, request]).encode()).hexdigest()


@dataclass
class Wallet:
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


def _wallet_id(w: Wallet) -> int:
    return w.id


_ZEROS: dict[str, str] = {}  # currency -> its zero as text (most wallets of a player are empty)


def _figures(w: Wallet) -> dict[str, str]:
    currency = w.currency
    if w.balance == 0 and w.held == 0:
        zero = _ZEROS.get(currency)
        if zero is None:
            zero = _ZEROS[currency] = format_amount(0, currency)
        return {"kind": w.kind, "currency": currency, "balance": zero, "held": zero,
                "available": zero}  # fmt: skip
    return {"kind": w.kind, "currency": currency,
            "balance": format_amount(w.balance, currency),
            "held": format_amount(w.held, currency),
            "available": format_amount(w.balance - w.held, currency)}  # fmt: skip


def wallets_by_kind(rows: Sequence[dict[str, Any]]) -> dict[str, Wallet]:
    return {
        w["kind"]: Wallet(w["id"], w["kind"], w["currency"], w["balance"], w["held"]) for w in rows
    }


@dataclass
class Operation:
    """One operation between LOAD and APPLY. ``extensions`` are the registered ledger
    extensions the plan calls at its hook points (see app/ledger/hooks.py)."""

    name: str
    player_id: uuid.UUID
    loaded: Loaded
    writes: Writes
    wallets: dict[str, Wallet]
    settings: Settings | None = None
    # The registered LedgerExtensions (typed in app/ledger/hooks.py, which imports this
    # module; ``hooks.extensions_of(op)`` gives them typed).
    extensions: Sequence[Any] = ()
    transfers: list[dict[str, str]] = field(default_factory=list)
    holds: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # What this operation adds to derived state (bonus wagering, loyalty points), kept on
    # the game round so a rollback can take exactly that back.
    derived: dict[str, Any] = field(default_factory=dict)
    _ids: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    def wallet(self, kind: str) -> Wallet:
        return self.wallets[kind]

    def require_currency(self, wallet: Wallet, currency: str) -> None:
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
        if w.balance + amount > MAX_MINOR_UNITS:
            raise AmountTooLarge(f"the {kind} wallet's balance would exceed the largest amount")
        w.balance += amount
        w.changed = True
        self.writes.transfers.append(
            TransferLine(w.id, house, w.currency, amount, transfer_kind, w.balance)
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

    @property
    def ids(self) -> tuple[str, str]:
        """The player's and the operation's ids as text (each document carries them)."""
        if self._ids is None:  # both fixed for the operation's life (stored_error keeps them)
            self._ids = (str(self.player_id), str(self.writes.operation_id))
        return self._ids

    @ids.setter
    def ids(self, texts: tuple[str, str]) -> None:
        self._ids = texts

    def event(self, type: str, data: dict[str, Any]) -> None:
        player, operation = self.ids
        payload = {"playerId": player, "operationId": operation}
        payload.update(data)
        self.writes.events.append((type, canonical_json(payload)))

    def snapshot(self) -> list[dict[str, str]]:
        wallets = list(self.wallets.values())
        if len(wallets) > 1:
            wallets.sort(key=_wallet_id)
        return [_figures(w) for w in wallets]

    def finish(self) -> dict[str, Any]:
        """Wallet writes, the balance_changed event and the success document."""
        for w in self.wallets.values():
            if w.changed:
                if w.held < 0 or w.balance < w.held:
                    raise RuntimeError(f"ledger rule broken on wallet {w.id}")  # a bug, not input
                self.writes.wallets[w.id] = (w.balance, w.held, w.turnover)
        wallets = self.snapshot()
        player, operation = self.ids
        if self.writes.wallets:
            self.writes.events.append(
                ("wallet.balance_changed", canonical_json({
                    "playerId": player,
                    "transactionId": operation,
                    "operation": self.name,
                    "wallets": wallets,
                }))
            )  # fmt: skip
        body = {
            "status": "OK",
            "operation": self.name,
            "operationId": operation,
            "playerId": player,
            "transfers": self.transfers,
            "holds": self.holds,
            "wallets": wallets,
        }
        body.update(self.extra)
        return body

    def stored_error(self, error: type[DomainError], message: str) -> dict[str, Any]:
        """A business error that becomes the key's stored outcome (nothing else written,
        the extensions' writes included)."""
        self.writes = Writes(self.writes.operation_id, self.player_id, self.writes.actor)
        return {
            "status": error.code,
            "code": error.code,
            "message": message,
            "operation": self.name,
            "playerId": self.ids[0],
            "wallets": self.snapshot(),
        }
