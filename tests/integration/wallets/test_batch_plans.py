"""The set-based batch's plan choice (app/ledger/batch_repository.py): LOAD switches the
transaction to generic plans, so APPLY is not planned again on every execution under the
wallet locks, and APPLY restores the transaction's own mode; the writes are the batch's."""

from __future__ import annotations

import uuid
from typing import Any

from app.core.db import Database
from app.ledger import bets, kernel, repository, set_batch
from tests.integration.wallets.conftest import GAME_ENGINE, new_key, wallets_of
from tests.integration.wallets.test_wallet_batch_set import fund

APPLY_PLANS = """
SELECT coalesce(sum(generic_plans), 0) AS generic, coalesce(sum(custom_plans), 0) AS custom
FROM pg_prepared_statements
WHERE statement LIKE '%AS rounds_inserted%' AND statement NOT LIKE '%pg_prepared_statements%'
"""


async def test_batch_apply_runs_its_generic_plan_and_restores_the_plan_cache_mode(
    wallet_gql: Any, db: Database, settings: Any, player_factory: Any
) -> None:
    player = await player_factory()
    await fund(wallet_gql, player, "10.00")

    def reserve(amount: str) -> kernel.Prepared:
        return bets.prepare_reserve_bet(
            settings, player_id=uuid.UUID(player), amount=amount, currency="EUR",
            game_round_id=f"plan-{new_key()}", transaction_id=f"plan-{new_key()}",
            idempotency_key=new_key(),
        )  # fmt: skip

    items = [reserve("1.00"), reserve("2.50")]
    async with db.transaction() as session:
        conn = await repository.driver(session)
        # The transaction's own mode, one that would plan APPLY on every execution.
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        before = await conn.fetchrow(APPLY_PLANS)
        answers = await set_batch.run(conn, settings, GAME_ENGINE, items, atomic=False)
        after = await conn.fetchrow(APPLY_PLANS)
        mode = await conn.fetchval("SELECT current_setting('plan_cache_mode')")
    assert all(isinstance(a, kernel.Outcome) and a.body["reservationId"] for a in answers)
    assert (after["generic"] - before["generic"], after["custom"] - before["custom"]) == (1, 0)
    assert mode == "force_custom_plan"
    real = (await wallets_of(db, player))["REAL"]
    assert (real["balance"], real["held"]) == (1000, 350)
