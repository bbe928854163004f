"""The DataLoaders of every field that needs data, and THE per-request registry of them.

A GraphQL type never opens a session: its fields ask ``info.context.loaders.get(X)``
for a loader (one instance per loader class and request, created on first use), and
every batch opens its own short read session (sibling fields resolve concurrently and
must not share one); the hot ones (player, wallets, segments) take a pooled driver
connection for their one statement instead (``DriverLoader``). A list of N players
therefore costs one statement per field, not N. Page-shaped fields (ledger, settings
history, segment members) batch their keys into one session too. Built fresh per
request: no caller sees another request's cached rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.bonuses import repository as bonuses
from app.bonuses.models import LoyaltyAccount, PlayerBonus
from app.core.db import Database
from app.kyc.models import KycCase
from app.ledger import repository as ledger
from app.players import repository as players
from app.players.models import Player
from app.playstyle.models import PlayerMetrics
from app.playstyle.service import get_metrics
from app.profiles import service as profiles
from app.profiles.models import PlayerProfile, PlayerTag, SettingsChange
from app.segments import repository as segment_rows
from app.segments import service as segments
from app.segments.models import Segment
from app.wallets import repository as wallets
from app.wallets.models import Wallet

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
LoaderT = TypeVar("LoaderT", bound="BatchLoader[Any, Any]")


class BatchLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader whose batch runs in one short read session of its own.

    Most batches are one SELECT: they run in autocommit (``Database.statement_session``,
    one round trip instead of BEGIN + SELECT + ROLLBACK). Batches of several statements
    that must see one snapshot (a page and its total) set ``snapshot = True``."""

    snapshot = False

    def __init__(self, db: Database) -> None:
        super().__init__(load_fn=self._load)
        self._db = db

    async def _load(self, keys: Sequence[K]) -> list[V]:
        opened = self._db.read_session() if self.snapshot else self._db.statement_session()
        async with opened as session:
            return await self.fetch(session, keys)

    async def fetch(self, session: AsyncSession, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError


class DriverLoader(BatchLoader[K, V], Generic[K, V]):
    """A batch of one statement sent on a pooled driver connection (``Database.read_rows``:
    autocommit, replica routing as any read), its rows built without the ORM's loading
    machinery: the loaders every profile read runs (bench/README.md, branch profileq)."""

    async def _load(self, keys: Sequence[K]) -> list[V]:
        return await self.fetch_on(self._db, keys)

    async def fetch_on(self, db: Database, keys: Sequence[K]) -> list[V]:
        raise NotImplementedError


def _group(rows: Iterable[Any], keys: Sequence[K], key_of: Any) -> list[list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[key_of(row)].append(row)
    return [grouped[k] for k in keys]


def _by_key(rows: Iterable[Any], keys: Sequence[K], key_of: Any) -> list[Any]:
    found = {key_of(row): row for row in rows}
    return [found.get(k) for k in keys]


class PlayerById(DriverLoader[uuid.UUID, Player | None]):
    async def fetch_on(self, db: Database, keys: Sequence[uuid.UUID]) -> list[Player | None]:
        return _by_key(await players.get_many_on(db, keys), keys, lambda r: r.id)


# What of a player a ``player(id)`` selection asks for beside the player's own columns.
WALLETS = "wallets"
SEGMENTS = "segments"
PlayerWith = tuple[uuid.UUID, frozenset[str]]  # a player id, and WALLETS and/or SEGMENTS


class PlayerWithRelated(DriverLoader[PlayerWith, Player | None]):
    """``player(id)`` whose selection has ``wallets`` and/or ``segments``: the player and
    those in ONE statement (correlated sub-selects of the wallets' and segments'
    repositories) instead of one batch each, and the rows primed into ``PlayerById``,
    ``WalletsByPlayer`` and ``SegmentsByPlayer``, which the fields then read as before
    (bench/README.md, branch profile2). Lists of players keep one batch per field: their
    loaders are the same three, and no key asks this one."""

    def __init__(self, db: Database, loaders: Loaders) -> None:
        super().__init__(db)
        self._loaders = loaders

    async def fetch_on(self, db: Database, keys: Sequence[PlayerWith]) -> list[Player | None]:
        wanted = frozenset().union(*(related for _, related in keys))
        related = tuple((name, sql) for name, sql in _RELATED if name in wanted)
        ids = list(dict.fromkeys(player_id for player_id, _ in keys))
        found = await players.get_many_with_on(db, ids, related)
        rows = {row.id: row for row, _ in found}
        self._loaders.get(PlayerById).prime_many(rows)
        if WALLETS in wanted:
            self._loaders.get(WalletsByPlayer).prime_many(
                {row.id: wallets.of_player_rows(record[WALLETS]) for row, record in found}
            )
        if SEGMENTS in wanted:
            self._loaders.get(SegmentsByPlayer).prime_many(
                {row.id: segment_rows.of_player_rows(record[SEGMENTS]) for row, record in found}
            )
        return [rows.get(player_id) for player_id, _ in keys]


_RELATED = ((WALLETS, wallets.OF_PLAYER), (SEGMENTS, segment_rows.OF_PLAYER))


class WalletById(BatchLoader[int, Wallet | None]):
    async def fetch(self, session: AsyncSession, keys: Sequence[int]) -> list[Wallet | None]:
        rows = await session.execute(select(Wallet).where(Wallet.id.in_(keys)))  # type: ignore[union-attr]
        return _by_key(rows.scalars(), keys, lambda r: r.id)


class WalletsByPlayer(DriverLoader[uuid.UUID, list[Wallet]]):
    async def fetch_on(self, db: Database, keys: Sequence[uuid.UUID]) -> list[list[Wallet]]:
        return _group(await wallets.for_players_on(db, keys), keys, lambda r: r.player_id)


class BonusesByPlayer(BatchLoader[uuid.UUID, list[PlayerBonus]]):
    async def fetch(
        self, session: AsyncSession, keys: Sequence[uuid.UUID]
    ) -> list[list[PlayerBonus]]:
        rows = await bonuses.bonuses_for_players(session, keys)
        return _group(rows, keys, lambda r: r.player_id)


class LoyaltyByPlayer(BatchLoader[uuid.UUID, LoyaltyAccount | None]):
    async def fetch(
        self, session: AsyncSession, keys: Sequence[uuid.UUID]
    ) -> list[LoyaltyAccount | None]:
        stmt = select(LoyaltyAccount).where(LoyaltyAccount.player_id.in_(keys))  # type: ignore[attr-defined]
        return _by_key((await session.execute(stmt)).scalars(), keys, lambda r: r.player_id)


class ProfileByPlayer(BatchLoader[uuid.UUID, PlayerProfile | None]):
    async def fetch(
        self, session: AsyncSession, keys: Sequence[uuid.UUID]
    ) -> list[PlayerProfile | None]:
        stmt = select(PlayerProfile).where(PlayerProfile.player_id.in_(keys))  # type: ignore[attr-defined]
        return _by_key((await session.execute(stmt)).scalars(), keys, lambda r: r.player_id)


class MetricsByPlayer(BatchLoader[uuid.UUID, PlayerMetrics | None]):
    async def fetch(
        self, session: AsyncSession, keys: Sequence[uuid.UUID]
    ) -> list[PlayerMetrics | None]:
        return _by_key(await get_metrics(session, list(keys)), keys, lambda r: r.player_id)


class SegmentsByPlayer(DriverLoader[uuid.UUID, list[Segment]]):
    async def fetch_on(self, db: Database, keys: Sequence[uuid.UUID]) -> list[list[Segment]]:
        pairs = await segments.segments_of_players_on(db, list(keys))
        grouped = _group(pairs, keys, lambda pair: pair[0])
        return [[segment for _, segment in group] for group in grouped]


class KycCasesByPlayer(BatchLoader[uuid.UUID, list[KycCase]]):
    async def fetch(self, session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[list[KycCase]]:
        stmt = (
            select(KycCase)
            .where(KycCase.player_id.in_(keys))  # type: ignore[attr-defined]
            .order_by(KycCase.created_at.desc())  # type: ignore[union-attr]
        )
        return _group((await session.execute(stmt)).scalars(), keys, lambda r: r.player_id)


class TagsByPlayer(BatchLoader[uuid.UUID, list[str]]):
    async def fetch(self, session: AsyncSession, keys: Sequence[uuid.UUID]) -> list[list[str]]:
        stmt = (
            select(PlayerTag)
            .where(PlayerTag.player_id.in_(keys))  # type: ignore[attr-defined]
            .order_by(PlayerTag.tag)
        )
        grouped = _group((await session.execute(stmt)).scalars(), keys, lambda r: r.player_id)
        return [[tag.tag for tag in group] for group in grouped]


@dataclass(frozen=True)
class LedgerPageKey:
    flt: ledger.HistoryFilter
    limit: int
    before: int | None
    wallet_id: int | None = None
    player_id: uuid.UUID | None = None


LedgerPage = tuple[list[tuple[Any, str]], bool, int]


class LedgerPages(BatchLoader[LedgerPageKey, LedgerPage]):
    """One page per key; the keys of one batch share a session (one statement pair each)."""

    snapshot = True

    async def fetch(self, session: AsyncSession, keys: Sequence[LedgerPageKey]) -> list[LedgerPage]:
        return [
            await ledger.history(
                session, k.flt, k.limit, k.before, wallet_id=k.wallet_id, player_id=k.player_id
            )
            for k in keys
        ]


@dataclass(frozen=True)
class HistoryPageKey:
    player_id: uuid.UUID
    limit: int
    before: int | None


HistoryPage = tuple[list[SettingsChange], bool, int]


class SettingsHistoryPages(BatchLoader[HistoryPageKey, HistoryPage]):
    snapshot = True

    async def fetch(
        self, session: AsyncSession, keys: Sequence[HistoryPageKey]
    ) -> list[HistoryPage]:
        return [await profiles.history_page(session, k.player_id, k.limit, k.before) for k in keys]


@dataclass(frozen=True)
class MemberPageKey:
    segment_id: uuid.UUID
    limit: int
    after: uuid.UUID | None


MemberPage = tuple[list[Player], bool, int]


class SegmentMemberPages(BatchLoader[MemberPageKey, MemberPage]):
    snapshot = True

    async def fetch(self, session: AsyncSession, keys: Sequence[MemberPageKey]) -> list[MemberPage]:
        pages: list[MemberPage] = []
        for k in keys:
            ids, has_next, total = await segments.member_page(
                session, k.segment_id, k.limit, k.after
            )
            rows = {p.id: p for p in await players.get_many(session, ids)}
            pages.append(([rows[i] for i in ids if i in rows], has_next, total))
        return pages


class Loaders:
    """THE registry: one loader per loader class, created on first use, per request."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._loaders: dict[type[BatchLoader[Any, Any]], BatchLoader[Any, Any]] = {}

    def get(self, key: type[LoaderT]) -> LoaderT:
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = (
                key(self.db, self) if key is PlayerWithRelated else key(self.db)  # type: ignore[call-arg]
            )
        return cast(LoaderT, loader)

    # The two names callers used before the registry (kept so they keep working).
    @property
    def wallets_by_player(self) -> WalletsByPlayer:
        return self.get(WalletsByPlayer)

    @property
    def bonuses_by_player(self) -> BonusesByPlayer:
        return self.get(BonusesByPlayer)
