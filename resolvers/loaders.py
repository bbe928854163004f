"""DataLoaders, built fresh for every request (never shared between requests, so no
caller ever sees another request's cached rows). Each batch opens its own short session:
sibling fields resolve concurrently and must not share one."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.bonuses import repository as bonuses
from app.bonuses.models import PlayerBonus
from app.core.db import Database
from app.wallets import repository as wallets
from app.wallets.models import Wallet


class Loaders:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.wallets_by_player: DataLoader[uuid.UUID, list[Wallet]] = DataLoader(
            load_fn=self._wallets_by_player
        )
        self.bonuses_by_player: DataLoader[uuid.UUID, list[PlayerBonus]] = DataLoader(
            load_fn=self._bonuses_by_player
        )

    async def _bonuses_by_player(self, player_ids: Sequence[uuid.UUID]) -> list[list[PlayerBonus]]:
        async with self._db.read_session() as session:
            rows = await bonuses.bonuses_for_players(session, player_ids)
        grouped: dict[uuid.UUID, list[PlayerBonus]] = defaultdict(list)
        for row in rows:
            grouped[row.player_id].append(row)
        return [grouped[player_id] for player_id in player_ids]

    async def _wallets_by_player(self, player_ids: Sequence[uuid.UUID]) -> list[list[Wallet]]:
        async with self._db.read_session() as session:
            rows = await wallets.for_players(session, player_ids)
        grouped: dict[uuid.UUID, list[Wallet]] = defaultdict(list)
        for row in rows:
            grouped[row.player_id].append(row)
        return [grouped[player_id] for player_id in player_ids]
