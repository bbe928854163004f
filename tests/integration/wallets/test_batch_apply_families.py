"""The set-based walletBatch's APPLY per family (batch_repository.BatchApplyStatements)
writes exactly what the whole batched statement (every core and extension part, empty
arrays for the unused ones) wrote: the same batches for two players, one through the
families and one through the whole statement, answer alike and leave the same rows in
every table the money path writes (limit counters included)."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.db import Database
from app.ledger import batch_repository, hooks
from tests.integration.wallets.conftest import assert_ledger_consistent, scalar
from tests.integration.wallets.test_apply_families import _rows
from tests.integration.wallets.test_wallet_batch_set import (
    run_batch,
    set_based,
    set_wager_limit,
)

__all__ = ["set_based"]  # the fixture, imported for the test below


def _ops(player: str, tag: str) -> Any:
    def op(name: str, n: str, **fields: Any) -> dict[str, Any]:
        return {name: {"playerId": player, "idempotencyKey": f"{tag}k{n}", **fields}}

    def bet(n: str, amount: str, rnd: str) -> dict[str, Any]:
        return op("reserveBet", n, amount=amount, currency="EUR", gameRoundId=f"{tag}r{rnd}",
                  transactionId=f"{tag}t{n}")  # fmt: skip

    def settle(n: str, rnd: str, win: str) -> dict[str, Any]:
        return op("settleBet", n, gameRoundId=f"{tag}r{rnd}", winAmount=win, currency="EUR",
                  transactionId=f"{tag}t{n}")  # fmt: skip

    def play(n: str, stake: str, win: str) -> dict[str, Any]:
        return op("playRound", n, gameRoundId=f"{tag}r{n}", stake=stake, winAmount=win,
                  currency="EUR", transactionId=f"{tag}t{n}")  # fmt: skip

    return op, bet, settle, play


async def _scenario(gql: Any, player: str, tag: str) -> list[tuple[Any, ...]]:
    """Batches of one family each: reserves (one refused: a stored InsufficientFunds),
    settles, a cancel, rollbacks (one before its bet), playRounds, a DomainError only (its
    key given back), a retried batch, and bets counted by a wager limit."""
    op, bet, settle, play = _ops(player, tag)
    first = await run_batch(gql, [bet("1", "2.00", "1"), bet("2", "1.00", "1"),
                                  bet("3", "3.00", "3"), bet("4", "40.00", "4")])  # fmt: skip
    batches = [
        [settle("5", "1", "4.00")],
        [op("cancelBet", "6", reservationId=first["results"][2]["reservationId"])],
        [bet("7", "1.00", "7"), bet("8", "0.50", "8")],
        [
            op("rollbackBet", "9", transactionId=f"{tag}t7"),
            op("rollbackBet", "10", transactionId=f"{tag}late"),
        ],
        [op("rollbackRound", "11", gameRoundId=f"{tag}r8", transactionId=f"{tag}t11")],
        [play("12", "1.00", "2.50"), play("13", "0.50", "0.00")],
        [settle("14", "nowhere", "1.00")],  # RoundNotFound
        [bet("1", "2.00", "1"), bet("15", "1.00", "15")],  # a replay and a new bet
    ]
    results = [first["results"]] + [(await run_batch(gql, b))["results"] for b in batches]
    return [(a["__typename"], a.get("code"), a.get("reservationId") is None)
            for r in results for a in r]  # fmt: skip


@pytest.fixture
def whole_apply(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Route every batch to the whole statement (every core and extension part)."""

    def use_whole() -> batch_repository.BatchApplyStatements:
        statements = hooks.batch_statements()
        assert statements is not None
        monkeypatch.setattr(statements.apply, "key", lambda b: statements.apply.whole_key)
        return statements.apply

    return use_whole


async def test_each_batched_family_writes_the_rows_the_whole_statement_wrote(
    wallet_gql: Any, player_factory: Any, db: Database, settings: Any, whole_apply: Any,
    set_based: Any,
) -> None:  # fmt: skip
    by_family, whole = await player_factory(), await player_factory()
    for player, tag in ((by_family, "fam-"), (whole, "all-")):
        await wallet_gql.op("deposit", playerId=player, amount="20.00", currency="EUR",
                            paymentReference=f"{tag}pay")  # fmt: skip
        await set_wager_limit(db, settings, player, "50.00")
    answers = await _scenario(wallet_gql, by_family, "fam-")
    statements = whole_apply()
    families = set(statements._families)
    assert await _scenario(wallet_gql, whole, "all-") == answers
    assert set(statements._families) - families == {statements.whole_key}
    # The whole family is the whole statement (every parameter used: none renumbered).
    assert statements.family(statements.whole_key).sql == statements.whole
    assert len(families) >= 6  # the scenario went through many families, not one
    assert any(f & batch_repository.BATCH_CORE_PARTS != batch_repository.BATCH_CORE_PARTS
               and f >> batch_repository.BATCH_CORE_PARTS.bit_length()
               for f in families)  # an extension joined a family  # fmt: skip
    kinds = [a[0] for a in answers]
    assert {"InsufficientFunds", "HoldNotPending", "RoundNotFound"} <= set(kinds)
    assert kinds.count("WalletOperation") >= 12

    mine, theirs = await _rows(db, by_family, "fam-"), await _rows(db, whole, "all-")
    for table, rows in mine.items():
        assert rows == theirs[table], table
    used = "SELECT coalesce(sum(used), 0) FROM gambling_limits WHERE player_id = :p"
    assert await scalar(db, used, p=by_family) == await scalar(db, used, p=whole) > 0
    assert len(mine["holds"]) >= 8 and mine["transfers"] and mine["idempotency"]
    await assert_ledger_consistent(db)
