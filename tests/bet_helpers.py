"""A bet beside a transaction that holds a player row: the race tests of the packages that
lock the player (KYC, consents, imports) show a money operation does not wait for them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from app.core.db import Database
from app.core.settings import Settings
from app.ledger import service as ledger
from tests.factories import create_player
from tests.integration.wallets.conftest import GAME_ENGINE, new_key

# Far longer than a bet takes, far shorter than a lock wait that only ends at the holder's
# commit (the holder waits for this before it commits).
BET_WAIT_SECONDS = 5.0


async def funded_player(db: Database, settings: Settings) -> uuid.UUID:
    """A new (unverified) player with 50.00 EUR to bet."""
    player = (await create_player(db, settings)).id
    async with db.driver_transaction() as tx:
        await ledger.deposit(tx, settings, GAME_ENGINE, player_id=player, amount="50.00",
                             currency="EUR", payment_reference=f"p-{player}",
                             idempotency_key=new_key())  # fmt: skip
    return player


async def bet_meanwhile(db: Database, settings: Settings, player: uuid.UUID) -> asyncio.Task[Any]:
    """A reserveBet on its own connection, given BET_WAIT_SECONDS to finish: call it while
    holding the lock under test, then assert ``.done()`` before releasing it (the bet
    completes after the release either way, so the task is awaited after)."""
    bet = asyncio.create_task(_reserve(db, settings, player))
    await asyncio.wait([bet], timeout=BET_WAIT_SECONDS)
    return bet


async def _reserve(db: Database, settings: Settings, player: uuid.UUID) -> Any:
    async with db.driver_transaction() as tx:
        return await ledger.reserve_bet(tx, settings, GAME_ENGINE, player_id=player,
                                        amount="1.00", currency="EUR", game_round_id="r1",
                                        transaction_id="b1", idempotency_key=new_key())  # fmt: skip
