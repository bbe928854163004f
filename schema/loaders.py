"""DataLoaders of the profile, play-style and segment fields of Player. Created lazily per
request in ``context.extra`` (so the shared Loaders class stays untouched); each batch
opens its own short read session."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from app.core.db import Database
from app.playstyle.models import PlayerMetrics
from app.playstyle.service import get_metrics
from app.profiles.models import PlayerProfile
from app.segments.models import Segment
from app.segments.service import segments_of_players


class ProfileLoaders:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.profile: DataLoader[uuid.UUID, PlayerProfile | None] = DataLoader(self._profiles)
        self.metrics: DataLoader[uuid.UUID, PlayerMetrics | None] = DataLoader(self._metrics)
        self.segments: DataLoader[uuid.UUID, list[Segment]] = DataLoader(self._segments)

    async def _profiles(self, ids: Sequence[uuid.UUID]) -> list[PlayerProfile | None]:
        from sqlalchemy import select

        async with self._db.read_session() as session:
            rows = await session.execute(
                select(PlayerProfile).where(PlayerProfile.player_id.in_(ids))
            )
            by_id = {row.player_id: row for row in rows.scalars()}
        return [by_id.get(i) for i in ids]

    async def _metrics(self, ids: Sequence[uuid.UUID]) -> list[PlayerMetrics | None]:
        async with self._db.read_session() as session:
            by_id = {row.player_id: row for row in await get_metrics(session, list(ids))}
        return [by_id.get(i) for i in ids]

    async def _segments(self, ids: Sequence[uuid.UUID]) -> list[list[Segment]]:
        async with self._db.read_session() as session:
            pairs = await segments_of_players(session, list(ids))
        grouped: dict[uuid.UUID, list[Segment]] = defaultdict(list)
        for player_id, segment in pairs:
            grouped[player_id].append(segment)
        return [grouped[i] for i in ids]


def profile_loaders(context: Any) -> ProfileLoaders:
    loaders = context.extra.get("profile_loaders")
    if loaders is None:
        loaders = context.extra["profile_loaders"] = ProfileLoaders(context.db)
    return loaders
