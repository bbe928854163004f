"""The players' rows under an import batch, on real concurrent transactions: a bet does
not wait for it. The batch holds its players' rows FOR NO KEY UPDATE (so none is erased
while it writes), which the bet's foreign-key checks on the player (FOR KEY SHARE) do not
conflict with; under FOR UPDATE they waited until the batch committed."""

from __future__ import annotations

import pytest

from app.imports import service as imports
from tests.bet_helpers import bet_meanwhile, funded_player
from tests.integration.wallets.conftest import scalar

pytestmark = pytest.mark.race


async def test_a_bet_does_not_wait_for_an_import_batch(db, settings):
    player = await funded_player(db, settings)
    change = imports.Change(tags={"spring"}, consent_on={"email"})

    async with db.transaction() as batch:  # holds the player row until it commits
        await imports._apply_batch(batch, "locks", 1, {player: change}, "staff:m", settings)
        bet = await bet_meanwhile(db, settings, player)
        finished_meanwhile = bet.done()

    assert finished_meanwhile, "the bet waited for the import batch"
    assert (await bet).body["status"] == "OK"
    tags = await scalar(db, "SELECT count(*) FROM player_tags WHERE player_id = :p", p=player)
    assert tags == 1
