"""The player row under a KYC status change, on real concurrent transactions: a bet does
not wait for it. The change holds the row FOR NO KEY UPDATE, which the bet's foreign-key
checks on the player (FOR KEY SHARE) do not conflict with; under FOR UPDATE they waited
until the change committed."""

from __future__ import annotations

import pytest

from app.kyc import service as kyc
from app.kyc.provider import DocumentSubmission
from tests.bet_helpers import bet_meanwhile, funded_player
from tests.integration.wallets.conftest import scalar

pytestmark = pytest.mark.race

PASSPORT = DocumentSubmission("PASSPORT", "DE", "C01X00T471", "2035-01-01")


async def test_a_bet_does_not_wait_for_a_kyc_status_change(db, settings):
    player = await funded_player(db, settings)

    async with db.transaction() as kyc_change:  # holds the player row until it commits
        await kyc.open_case(kyc_change, player, [PASSPORT], provider="sandbox",
                            actor="player:x", settings=settings)  # fmt: skip
        bet = await bet_meanwhile(db, settings, player)
        finished_meanwhile = bet.done()

    assert finished_meanwhile, "the bet waited for the KYC status change"
    assert (await bet).body["status"] == "OK"
    status = await scalar(db, "SELECT confirm_status FROM players WHERE id = :p", p=player)
    assert status == "PENDING"
