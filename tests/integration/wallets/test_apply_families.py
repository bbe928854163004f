"""APPLY per family (write_repository.ApplyStatements) writes exactly what the whole
statement (every core part, empty inputs for the unused ones) wrote: the same operations
for two players, one through the families and one through the whole statement, leave the
same rows in every table the money path writes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.core.db import Database
from app.ledger import hooks, write_repository
from tests.integration.wallets.conftest import assert_ledger_consistent

_ROWS = {
    "wallets": """
        SELECT kind, balance, held, turnover FROM wallets WHERE player_id = :p ORDER BY kind""",
    "transfers": """
        SELECT w.kind, t.house_account, t.currency, t.amount, t.kind, t.balance_after,
               replace(t.reference, :tag, ''), t.idempotency_key IS NOT NULL, t.actor
        FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id
        WHERE t.player_id = :p ORDER BY t.id""",
    "holds": """
        SELECT h.purpose, h.client, replace(h.transaction_id, :tag, ''),
               replace(h.reference, :tag, ''), h.currency, w.kind, h.bonus_wallet_id IS NULL,
               h.real_amount, h.bonus_amount, h.status, h.expires_at IS NULL,
               h.finalized_at IS NULL, replace(r.round_ref, :tag, '')
        FROM ledger_holds h JOIN wallets w ON w.id = h.real_wallet_id
        LEFT JOIN game_rounds r ON r.id = h.game_round_id
        WHERE h.player_id = :p ORDER BY h.id""",
    "rounds": """
        SELECT client, replace(round_ref, :tag, ''), currency, status, stake_real,
               stake_bonus, win_real, win_bonus, (derived - 'rgAt')::text,
               derived ->> 'rgAt' IS NOT NULL
        FROM game_rounds WHERE player_id = :p ORDER BY id""",
    "game_transactions": """
        SELECT g.client, replace(g.transaction_id, :tag, ''), g.kind,
               replace(r.round_ref, :tag, ''), g.hold_id IS NULL
        FROM game_transactions g LEFT JOIN game_rounds r ON r.id = g.game_round_id
        WHERE g.transaction_id LIKE :tag || '%' ORDER BY g.created_at, g.transaction_id""",
    "outbox": """
        SELECT type, source, (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(data) k)
        FROM outbox_events WHERE subject = :s ORDER BY id""",
    "audit": """
        SELECT actor, principal_kind, action, outcome,
               (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(details) k)
        FROM audit_log WHERE target = :s AND action LIKE 'ledger.%' ORDER BY id""",
    "idempotency": """
        SELECT operation, replace(key, :tag, ''), response::jsonb ->> 'status'
        FROM idempotency_keys WHERE key LIKE :tag || '%' ORDER BY key""",
}


async def _rows(db: Database, player: str, tag: str) -> dict[str, list[tuple[Any, ...]]]:
    params = {"p": player, "s": player, "tag": tag}
    async with db.read_session() as session:
        return {
            name: [tuple(r) for r in await session.execute(text(sql), params)]
            for name, sql in _ROWS.items()
        }


async def _scenario(wallet_gql: Any, player: str, tag: str) -> list[str]:
    """Every family the services make: deposit, bonus credit, bets (new round, same
    round, settle, cancel, rollbacks), a stored refusal, withdrawals, fees, free spins,
    tournaments, and a replay."""
    n = iter(range(100))

    async def op(name: str, **fields: Any) -> dict[str, Any]:
        fields = {"playerId": player, "idempotencyKey": f"{tag}k{next(n):02d}", **fields}
        return await wallet_gql.op(name, **fields)

    eur = {"currency": "EUR"}
    out = [
        await op("deposit", amount="100.00", paymentReference=f"{tag}pay", **eur),
        await op("adjustBalance", walletKind="BONUS", amount="10.00", reason="bonus", **eur),
        await op("reserveBet", amount="95.00", gameRoundId=f"{tag}r1", transactionId=f"{tag}b1",
                 **eur),
        await op("reserveBet", amount="5.00", gameRoundId=f"{tag}r1", transactionId=f"{tag}b2",
                 **eur),
        await op("settleBet", gameRoundId=f"{tag}r1", winAmount="8.00", transactionId=f"{tag}w1",
                 **eur),
        await op("reserveBet", amount="1000.00", gameRoundId=f"{tag}r9",
                 transactionId=f"{tag}b9", **eur),  # InsufficientFunds: a stored refusal
    ]  # fmt: skip
    cancel = await op("reserveBet", amount="2.00", gameRoundId=f"{tag}r2",
                      transactionId=f"{tag}b3", **eur)  # fmt: skip
    out += [cancel, await op("cancelBet", reservationId=cancel["reservationId"])]
    out += [
        await op("reserveBet", amount="1.00", gameRoundId=f"{tag}r3", transactionId=f"{tag}b4",
                 **eur),
        await op("settleBet", gameRoundId=f"{tag}r3", winAmount="3.00", transactionId=f"{tag}w3",
                 **eur),
        await op("rollbackRound", gameRoundId=f"{tag}r3", transactionId=f"{tag}x3"),
        await op("reserveBet", amount="1.00", gameRoundId=f"{tag}r4", transactionId=f"{tag}b5",
                 **eur),
        await op("rollbackBet", transactionId=f"{tag}b5"),
        await op("rollbackBet", transactionId=f"{tag}late"),  # a rollback before its bet
    ]  # fmt: skip
    confirmed = await op("withdraw", amount="3.00", **eur)
    rejected = await op("withdraw", amount="1.00", **eur)
    out += [
        confirmed,
        rejected,
        await op("confirmWithdrawal", withdrawalId=confirmed["reservationId"]),
        await op("rejectWithdrawal", withdrawalId=rejected["reservationId"]),
        await op("chargeFee", amount="0.50", reason="fee", **eur),
        await op("grantFreeSpins", spins=5),
        await op("consumeFreeSpins", spins=2),
        await op("creditTournament", amount="7.00", **eur),
        await op("debitTournament", amount="2.00", **eur),
        await op("deposit", amount="100.00", paymentReference=f"{tag}pay", **eur,
                 idempotencyKey=f"{tag}k00"),  # replayed
    ]  # fmt: skip
    return [o["__typename"] for o in out]


@pytest.fixture
def whole_apply(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Route every operation to the whole statement (every core part)."""

    def use_whole() -> None:
        statements = hooks.statements().apply
        by_family = statements.key
        monkeypatch.setattr(
            statements, "key", lambda *a: by_family(*a) | write_repository.CORE_PARTS
        )

    return use_whole


async def test_each_family_writes_the_rows_the_whole_statement_wrote(
    wallet_gql: Any, player_factory: Any, db: Database, whole_apply: Any
) -> None:
    by_family, whole = await player_factory(), await player_factory()
    answers = await _scenario(wallet_gql, by_family, "fam-")
    families = set(hooks.statements().apply._families)
    whole_apply()
    assert await _scenario(wallet_gql, whole, "all-") == answers
    whole_keys = set(hooks.statements().apply._families) - families
    core = write_repository.CORE_PARTS
    assert whole_keys and all(k & core == core for k in whole_keys)
    assert len(families) >= 8  # the scenario went through many families, not one
    assert "InsufficientFunds" in answers and answers.count("WalletOperation") >= 20

    mine, theirs = await _rows(db, by_family, "fam-"), await _rows(db, whole, "all-")
    for table, rows in mine.items():
        assert rows == theirs[table], table
    assert len(mine["transfers"]) >= 12 and len(mine["holds"]) == 7 and mine["audit"]
    await assert_ledger_consistent(db)
