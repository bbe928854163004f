"""LOAD keeps PostgreSQL's generic plan once the ledger's tables have a real history: a
statement that keeps choosing custom plans is planned again on every execution (1-2 ms,
more than executing it). Given 20,000 analysed rounds and holds (with 2,000 the index
probes are too cheap for the difference to show), when LOAD runs eight times on one
connection, then the plan cache has switched to the generic plan after the first five
(with the hold ids as a bare ``= ANY($6)`` all eight were custom plans)."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text

from app.core.db import asyncpg_dsn
from app.ledger import hooks
from tests.factories import create_player

HISTORY = """
INSERT INTO game_rounds (client, round_ref, player_id, currency, status)
SELECT 'history', 'r' || i, CAST(:player AS uuid), 'EUR', 'SETTLED'
FROM generate_series(1, 20000) AS i;
"""
HOLDS = """
INSERT INTO ledger_holds (player_id, purpose, client, game_round_id, transaction_id, currency,
                          real_wallet_id, real_amount, bonus_amount, status)
SELECT r.player_id, 'BET', 'history', r.id, 'b' || r.id, 'EUR', w.id, 1, 0, 'POSTED'
FROM game_rounds r JOIN wallets w ON w.player_id = r.player_id AND w.kind = 'REAL'
WHERE r.client = 'history'
"""
TYPES = "text, text, text, text, uuid, bigint[], text, text, text, text, boolean"


async def test_load_switches_to_its_generic_plan_on_a_ledger_with_history(db, settings):
    player = await create_player(db, settings)
    async with db.transaction() as session:
        await session.execute(text(HISTORY), {"player": str(player.id)})
        await session.execute(text(HOLDS))
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        await conn.execute("ANALYZE game_rounds, ledger_holds, game_transactions, wallets")
        hold = await conn.fetchval("SELECT min(id) FROM ledger_holds")
        await conn.execute(f"PREPARE load_stmt({TYPES}) AS {hooks.statements().load}")
        for i in range(8):  # reserves (no hold id) and settles (one), as in production
            ids, allocate = (f"ARRAY[{hold}]", "false") if i % 2 else ("ARRAY[]", "true")
            rollback = conn.transaction()
            await rollback.start()
            await conn.execute(
                f"EXECUTE load_stmt('s', 'settleBet', 'k{i}', 'h', '{player.id}', "
                f"{ids}::bigint[], 's', NULL, NULL, 't', {allocate})"
            )
            await rollback.rollback()
        counts = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE name = 'load_stmt'"
        )
        assert counts["custom_plans"] == 5
        assert counts["generic_plans"] == 3
    finally:
        await conn.close()
