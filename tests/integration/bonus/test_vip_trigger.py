"""The VIP-activation trigger reads vip.activated events from the outbox: every event is
awarded exactly once, also when transactions commit out of id order."""

from __future__ import annotations

import uuid

import pytest

from app.bonuses import triggers
from app.events import outbox
from tests.integration.wallets.conftest import assert_ledger_consistent, scalar

pytestmark = pytest.mark.race


async def vip_event(session, player_id: str) -> None:
    await outbox.record(session, "vip.activated", player_id,
                        {"playerId": player_id, "level": 1, "previousLevel": 0})  # fmt: skip


async def awarded_to(db, player_id: str) -> int:
    return await scalar(
        db, "SELECT count(*) FROM player_bonuses WHERE player_id = :p", p=uuid.UUID(player_id)
    )


async def test_events_committed_out_of_id_order_are_each_awarded_once(
    bonus_gql, db, settings, player_factory
):
    await bonus_gql.campaign(kind="FIXED", trigger="VIP_ACTIVATION", fixedAmount="10.00",
                             wageringMultiplier="5")  # fmt: skip
    slow, fast = await player_factory(), await player_factory()

    # The slow transaction takes the lower outbox id but commits after the fast one.
    async with db.transaction() as slow_tx:
        await vip_event(slow_tx, slow)
        async with db.transaction() as fast_tx:
            await vip_event(fast_tx, fast)
        await triggers.vip_activations(db, settings)
        after_first = (await awarded_to(db, slow), await awarded_to(db, fast))
    await triggers.vip_activations(db, settings)
    after_second = (await awarded_to(db, slow), await awarded_to(db, fast))
    transfers = await scalar(db, "SELECT count(*) FROM ledger_transfers")
    await triggers.vip_activations(db, settings)  # re-reads recent events: pays nothing

    assert after_first == (0, 1)  # only the fast one was visible
    assert after_second == (1, 1)  # the slow one is not lost behind the cursor
    assert (await awarded_to(db, slow), await awarded_to(db, fast)) == (1, 1)
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers") == transfers
    await assert_ledger_consistent(db)
