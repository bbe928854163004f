"""The API's money mutations run on the pooled driver connection: a reserveBet through
GraphQL sends what the direct path sends (BEGIN, LOAD, APPLY, COMMIT) and no SQLAlchemy
statement. (A deposit that triggers a bonus runs the trigger in the same transaction,
on the session the driver transaction lends: tests/integration/bonus/test_awards.py.)"""

from __future__ import annotations

import httpx
from sqlalchemy import text

from app.core.db import Database
from pms.asgi import create_app
from tests.conftest import count_statements
from tests.integration.wallets.conftest import make_wallet_gql


async def test_reserve_bet_sends_begin_load_apply_commit_only(settings, db, player_factory):
    player = await player_factory()
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    app = create_app(settings, database=database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://pms.test"
        ) as http:
            wallet = make_wallet_gql(http, app)
            deposited = await wallet.op("deposit", playerId=player, amount="10.00",
                                        currency="EUR", paymentReference="p-1")  # fmt: skip
            assert deposited["__typename"] == "WalletOperation"
            async with database.engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
            sent: list[str] = []
            driver.add_query_logger(lambda record: sent.append(record.query))
            with count_statements(database) as through_sqlalchemy:
                reserved = await wallet.op("reserveBet", playerId=player, amount="1.00",
                                           currency="EUR", gameRoundId="r-1",
                                           transactionId="t-1")  # fmt: skip
    finally:
        await database.dispose()
    assert reserved["__typename"] == "WalletOperation", reserved
    assert reserved["wallets"][0]["held"]["amount"] == "1.00"
    # Anything the auth gate's cache may look up runs before, outside the transaction.
    begin = next(i for i, query in enumerate(sent) if query.startswith("BEGIN"))
    block = sent[begin:]
    assert len(block) == 4 and block[-1] == "COMMIT;", block  # BEGIN, LOAD, APPLY, COMMIT
    assert through_sqlalchemy == [], through_sqlalchemy
    async with db.transaction() as session:
        held = await session.scalar(
            text("SELECT sum(held) FROM wallets WHERE player_id = :p"), {"p": player}
        )
    assert held == 100
