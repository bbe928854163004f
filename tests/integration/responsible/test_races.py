"""Limits under real concurrency: many transactions on separate connections race for one
player's counters; exactly what the limit allows is accepted, nothing more."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from app.core.db import Database
from app.core.settings import Settings
from app.ledger import service as ledger
from app.responsible.errors import LimitExceeded, SessionLimitReached
from tests.integration.responsible.conftest import Money
from tests.integration.wallets.conftest import (
    GAME_ENGINE,
    assert_ledger_consistent,
    new_key,
    scalar,
    wallets_of,
)

pytestmark = pytest.mark.race


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url or "", pool_size=16, max_overflow=0)
    yield database
    await database.dispose()


async def _attempt(pool: Database, call: Any) -> str:
    try:
        async with pool.transaction() as s:
            out = await call(s)
    except LimitExceeded:
        return "LimitExceeded"
    except SessionLimitReached:
        return "SessionLimitReached"
    return str(out.body["status"])


def _bet(settings: Settings, player: uuid.UUID, i: int) -> Any:
    return lambda s: ledger.reserve_bet(
        s, settings, GAME_ENGINE, player_id=player, amount="1.00", currency="EUR",
        game_round_id=f"r{i}", transaction_id=f"b{i}", idempotency_key=new_key(),
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["WAGER", "LOSS"])
async def test_200_concurrent_bets_against_a_limit_for_50_accept_exactly_50(
    kind, pool, db, settings, money
):
    m: Money = await money(deposit="500.00")
    await m.set_limit(kind, "DAY", "50.00")

    results = await asyncio.gather(*(_attempt(pool, _bet(settings, m.player, i))
                                     for i in range(200)))  # fmt: skip

    assert results.count("OK") == 50
    assert results.count("LimitExceeded") == 150
    assert await m.used(kind) == 5000
    assert (await wallets_of(db, str(m.player)))["REAL"]["held"] == 5000
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE player_id = :p",
                        p=m.player) == 50  # fmt: skip
    await assert_ledger_consistent(db)


async def test_200_concurrent_deposits_against_a_deposit_limit_for_50_accept_exactly_50(
    pool, db, settings, money
):
    m: Money = await money(deposit=None)
    await m.set_limit("DEPOSIT", "MONTH", "50.00")

    def deposit(i: int) -> Any:
        return lambda s: ledger.deposit(
            s, settings, GAME_ENGINE, player_id=m.player, amount="1.00", currency="EUR",
            payment_reference=f"p{i}", idempotency_key=new_key(),
        )  # fmt: skip

    results = await asyncio.gather(*(_attempt(pool, deposit(i)) for i in range(200)))

    assert results.count("OK") == 50
    assert results.count("LimitExceeded") == 150
    assert await m.used("DEPOSIT", "MONTH") == 5000
    assert (await wallets_of(db, str(m.player)))["REAL"]["balance"] == 5000
    await assert_ledger_consistent(db)


async def test_concurrent_bets_share_one_session_and_past_its_limit_all_are_refused(
    pool, db, settings, money
):
    m: Money = await money(deposit="500.00")
    await m.set_limit("SESSION", "DAY", "30")

    first = await asyncio.gather(*(_attempt(pool, _bet(settings, m.player, i))
                                   for i in range(100)))  # fmt: skip
    started = await scalar(db, "SELECT window_start FROM gambling_limits WHERE kind = 'SESSION'")
    async with db.transaction() as s:  # 31 minutes into the session, the last bet just now
        await s.execute(text("UPDATE gambling_limits SET window_start = window_start - "
                             "interval '31 minutes' WHERE kind = 'SESSION'"))  # fmt: skip
    late = await asyncio.gather(*(_attempt(pool, _bet(settings, m.player, 100 + i))
                                  for i in range(100)))  # fmt: skip

    assert first.count("OK") == 100
    assert started is not None
    assert late.count("SessionLimitReached") == 100
    assert await scalar(db, "SELECT count(*) FROM ledger_holds WHERE player_id = :p",
                        p=m.player) == 100  # fmt: skip
    await assert_ledger_consistent(db)
