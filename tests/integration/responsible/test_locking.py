"""What keeps the counters exact without row locks on the limits (app/responsible/
extension.py): the money path locks none of the limit rows it only reads, and a limit
change waits for the player's wallet locks, so it cannot interleave with a money
operation in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings
from app.ledger import service as ledger
from app.responsible.errors import LimitExceeded
from tests.integration.responsible.conftest import Money
from tests.integration.wallets.conftest import GAME_ENGINE, new_key, scalar

pytestmark = pytest.mark.race

LOCK_WAITS = """SELECT query FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'"""


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url or "", pool_size=4, max_overflow=0)
    yield database
    await database.dispose()


def _bet(settings: Settings, m: Money, amount: str, n: str) -> Any:
    return lambda s: ledger.reserve_bet(
        s, settings, GAME_ENGINE, player_id=m.player, amount=amount, currency="EUR",
        game_round_id=f"r{n}", transaction_id=f"b{n}", idempotency_key=new_key(),
    )  # fmt: skip


async def _lock_waiter(db: Database) -> str:
    """The statement of the one session waiting on a lock (polls until there is one)."""
    for _ in range(500):
        async with db.read_session() as s:
            waiting = list((await s.execute(text(LOCK_WAITS))).scalars())
        if waiting:
            assert len(waiting) == 1, waiting
            return str(waiting[0])
        await asyncio.sleep(0.02)
    raise AssertionError("nothing waits on a lock")


async def test_a_bet_in_flight_locks_no_limit_row_it_does_not_count(pool, db, settings, money):
    m: Money = await money()
    await m.set_limit("WAGER", "DAY", "50.00")
    await m.set_limit("DEPOSIT", "MONTH", "500.00")

    async with pool.transaction() as bet:
        await _bet(settings, m, "3.00", "1")(bet)  # holds the wallet locks, uncommitted
        async with pool.transaction() as other:
            locked = await other.execute(text(
                "SELECT kind FROM gambling_limits WHERE player_id = :p AND kind = 'DEPOSIT' "
                "FOR UPDATE NOWAIT"), {"p": m.player})  # fmt: skip
            assert list(locked.scalars()) == ["DEPOSIT"]

    assert await m.used("WAGER") == 300
    assert await m.used("DEPOSIT", "MONTH") == 0  # set after the fixture's deposit


async def test_a_limit_change_waits_for_the_money_operation_in_flight(pool, db, settings, money):
    m: Money = await money()
    await m.set_limit("WAGER", "DAY", "5.00")

    async with pool.transaction() as bet:
        await _bet(settings, m, "3.00", "1")(bet)
        lowering = asyncio.create_task(m.set_limit("WAGER", "DAY", "2.00"))
        waiting = await _lock_waiter(db)
        assert "FROM wallets" in waiting  # the player's wallet locks, before any limit row
        assert not lowering.done()
    await lowering  # runs once the bet has committed

    assert await m.used("WAGER") == 300
    assert await scalar(db, "SELECT amount FROM gambling_limits WHERE player_id = :p",
                        p=m.player) == 200  # fmt: skip
    with pytest.raises(LimitExceeded) as refused:
        await m.bet("0.01", "2")
    assert (refused.value.limit, refused.value.remaining) == (200, 0)
