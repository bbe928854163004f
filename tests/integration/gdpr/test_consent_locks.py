"""The player row under a consent change, on real concurrent transactions: a bet does not
wait for it. The change holds the row FOR NO KEY UPDATE (one change at a time per
player), which the bet's foreign-key checks on the player (FOR KEY SHARE) do not conflict
with; under FOR UPDATE they waited until the change committed."""

from __future__ import annotations

import pytest

from app.consents import service as consents
from tests.bet_helpers import bet_meanwhile, funded_player
from tests.integration.wallets.conftest import scalar

pytestmark = pytest.mark.race


async def test_a_bet_does_not_wait_for_a_consent_change(db, settings):
    player = await funded_player(db, settings)

    async with db.transaction() as consent_change:  # holds the player row until it commits
        assert await consents.set_marketing(consent_change, player, "email", True,
                                            actor="staff:s-1", source="staff",
                                            settings=settings)  # fmt: skip
        bet = await bet_meanwhile(db, settings, player)
        finished_meanwhile = bet.done()

    assert finished_meanwhile, "the bet waited for the consent change"
    assert (await bet).body["status"] == "OK"
    changes = await scalar(db, "SELECT count(*) FROM player_consent_changes WHERE player_id = :p",
                           p=player)  # fmt: skip
    assert changes == 1


async def test_a_bet_does_not_wait_for_many_consent_changes(db, settings):
    """``set_marketing_many`` (an import's batch) locks its players the same way."""
    player = await funded_player(db, settings)

    async with db.transaction() as consent_change:
        changed = await consents.set_marketing_many(
            consent_change, [(player, "sms", True)], actor="staff:m", source="import",
            settings=settings,
        )  # fmt: skip
        assert changed == {player}
        bet = await bet_meanwhile(db, settings, player)
        finished_meanwhile = bet.done()

    assert finished_meanwhile, "the bet waited for the consent changes"
    assert (await bet).body["status"] == "OK"
