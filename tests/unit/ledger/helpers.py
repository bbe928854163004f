"""Operations over hand-made locked rows, for the pure plans (no database)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from app.core.settings import Settings
from app.ledger.operation import Operation, wallets_by_kind
from app.ledger.repository import Loaded
from app.ledger.write_repository import Writes

PLAYER = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
KINDS = ("REAL", "BONUS", "FREESPINS", "TOURNAMENT")
SETTINGS = Settings(_env_file=None, env="test")


def wallet_rows(
    balances: dict[str, tuple[int, int]], currency: str = "EUR"
) -> list[dict[str, Any]]:
    """Rows as LOAD returns them: ``balances`` maps kind -> (balance, held)."""
    return [
        {"id": i + 1, "kind": kind, "currency": "XFS" if kind == "FREESPINS" else currency,
         "balance": balances.get(kind, (0, 0))[0], "held": balances.get(kind, (0, 0))[1]}
        for i, kind in enumerate(KINDS)
    ]  # fmt: skip


def make_op(
    name: str,
    balances: dict[str, tuple[int, int]],
    *,
    holds: Sequence[dict[str, Any]] = (),
    rounds: Sequence[dict[str, Any]] = (),
    player_status: str = "ACTIVE",
    confirm_status: str = "VERIFIED",
    seen_transaction: str | None = None,
    extensions: Sequence[Any] = (),
    extension_rows: dict[str, Any] | None = None,
) -> Operation:
    rows = wallet_rows(balances)
    loaded = Loaded(True, player_status, confirm_status, rows, list(holds), list(rounds),
                    seen_transaction, 777, dict(extension_rows or {}))  # fmt: skip
    writes = Writes(uuid.uuid4(), PLAYER, "service:test")
    return Operation(name, PLAYER, loaded, writes, wallets_by_kind(rows), settings=SETTINGS,
                     extensions=tuple(extensions))  # fmt: skip


def balance_changes_match_transfers(op: Operation, before: dict[str, int]) -> None:
    """Every balance change is exactly the sum of that wallet's transfer lines, and the
    last line's balance_after is the final balance (the ledger's double entry)."""
    by_wallet: dict[int, int] = defaultdict(int)
    last: dict[int, int] = {}
    for t in op.writes.transfers:
        by_wallet[t.wallet_id] += t.amount
        last[t.wallet_id] = t.balance_after
    for w in op.wallets.values():
        assert w.balance - before[w.kind] == by_wallet.get(w.id, 0)
        if w.id in last:
            assert last[w.id] == w.balance


def per_currency_net(op: Operation) -> dict[str, int]:
    net: dict[str, int] = defaultdict(int)
    for t in op.writes.transfers:
        net[t.currency] += t.amount
    return dict(net)


def assert_rows_sane(op: Operation) -> None:
    for w in op.wallets.values():
        assert w.balance >= 0 and 0 <= w.held <= w.balance, w
    for wallet_id, (balance, held, _turnover) in op.writes.wallets.items():
        assert balance >= 0 and 0 <= held <= balance, wallet_id
