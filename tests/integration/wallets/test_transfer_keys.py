"""ledger_transfers' composite foreign key (migration 0025): a transfer names a wallet of
its own player, and a wallet with transfers cannot be deleted."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.factories import create_player

INSERT = text(
    "INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, house_account, "
    "currency, amount, kind, balance_after, actor) "
    "VALUES (:op, :player, :wallet, 'CASH_CLEARING', 'EUR', 100, 'DEPOSIT', 100, 'test')"
)


async def _real_wallet(session, player_id) -> int:
    return (
        await session.execute(
            text("SELECT id FROM wallets WHERE player_id = :p AND kind = 'REAL'"), {"p": player_id}
        )
    ).scalar_one()


async def test_a_transfer_on_another_players_wallet_is_refused(session, settings):
    alice = await create_player(session, settings)
    bob = await create_player(session, settings)
    wallet = await _real_wallet(session, alice.id)
    await session.execute(INSERT, {"op": uuid.uuid4(), "player": alice.id, "wallet": wallet})
    with pytest.raises(IntegrityError) as refused:
        async with session.begin_nested():
            await session.execute(INSERT, {"op": uuid.uuid4(), "player": bob.id, "wallet": wallet})
    assert isinstance(refused.value.orig.__cause__, asyncpg.ForeignKeyViolationError)
    assert "fk_ledger_transfers_wallet_id_player_id_wallets" in str(refused.value)
    count = await session.execute(
        text("SELECT count(*) FROM ledger_transfers WHERE wallet_id = :w"), {"w": wallet}
    )
    assert count.scalar_one() == 1


async def test_a_wallet_with_transfers_cannot_be_deleted(session, settings):
    alice = await create_player(session, settings)
    wallet = await _real_wallet(session, alice.id)
    await session.execute(INSERT, {"op": uuid.uuid4(), "player": alice.id, "wallet": wallet})
    with pytest.raises(IntegrityError, match="fk_ledger_transfers_wallet_id_player_id_wallets"):
        async with session.begin_nested():
            await session.execute(text("DELETE FROM wallets WHERE id = :w"), {"w": wallet})
