"""THE way a player (and a wallet, through its player) is read by id: the ``player``
query, federation's ``_entities``, the wallet reference and the REST ``/players/{id}``
endpoints all come here, so a permission or audit rule added here applies to all of
them. Rows come from the request's loaders."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from app.audit import service as audit
from app.core.db import Database, reading_from_replica
from app.core.principal import Principal, PrincipalKind
from app.players.models import Player as PlayerRow
from app.wallets.models import Wallet as WalletRow
from permissions.roles import Permission as P
from permissions.roles import is_allowed
from permissions.rules import actor_of
from schema.context import Info
from schema.ids import try_int_id, try_uuid
from schema.loaders import BatchLoader, Loaders, PlayerById, PlayerWithRelated, WalletById

# actor, action, target, details as canonical JSON ("" for none)
ReadKey = tuple[audit.Actor, str, str, str]


class ReadAudits(BatchLoader[ReadKey, None]):
    """A request's audited staff reads: every row its resolvers ask for in one tick (a list
    of 100 players and their risk fields) goes in one transaction, not one each. The
    loader's cache keeps one row per (staff, action, player, details) per request."""

    async def _load(self, keys: Sequence[ReadKey]) -> list[None]:
        await audit.record_many_now(self._db, [
            (actor, action, target, audit.SUCCESS, json.loads(details) if details else None)
            for actor, action, target, details in keys
        ])  # fmt: skip
        return [None] * len(keys)


def audit_read(
    loaders: Loaders, actor: audit.Actor, action: str, target: str,
    details: dict[str, Any] | None = None,
) -> Awaitable[None]:  # fmt: skip
    """Audit a staff read of ``target``, batched with the request's other reads: the row is
    registered now and written when the batch runs (await the answer to see it written)."""
    key = json.dumps(details, sort_keys=True) if details else ""
    return loaders.get(ReadAudits).load((actor, action, target, key))


@dataclass(frozen=True)
class Reader:
    """Who reads, and through what: what GraphQL's context and a REST request share."""

    principal: Principal
    db: Database
    loaders: Loaders
    actor: audit.Actor
    events: Any = None  # the EventsRuntime (its player cache), if the process has one

    @classmethod
    def of(cls, info: Info) -> Reader:
        ctx = info.context
        return cls(ctx.principal, ctx.db, ctx.loaders, actor_of(info), ctx.events)


async def read_player(
    reader: Reader, raw_id: object, related: frozenset[str] = frozenset()
) -> PlayerRow | None:
    """The player, if there is one and the caller may read it. A staff read is audited
    (``player.read``), whichever API it came through. ``related`` (``loaders.WALLETS``,
    ``loaders.SEGMENTS``): what the caller will ask next, read in the same statement."""
    player_id = try_uuid(raw_id)
    principal = reader.principal
    if player_id is None or not is_allowed(
        principal, P.PLAYER_READ, owner_ok=True, owner=str(player_id)
    ):
        return None

    async def load() -> PlayerRow | None:
        if related:
            return await reader.loaders.get(PlayerWithRelated).load((player_id, related))
        return await reader.loaders.get(PlayerById).load(player_id)

    # A replica's row may be older than the cache's invalidation: it is never cached.
    events = None if reading_from_replica() else reader.events
    row: PlayerRow | None = (
        await events.cache.get(player_id, load) if events is not None else await load()
    )
    if row is not None and principal.kind is PrincipalKind.STAFF:
        await audit_read(reader.loaders, reader.actor, "player.read", str(row.id))
    return row


async def player_row(
    info: Info, raw_id: object, related: frozenset[str] = frozenset()
) -> PlayerRow | None:
    return await read_player(Reader.of(info), raw_id, related)


async def wallet_row(info: Info, raw_id: object) -> WalletRow | None:
    """A wallet by id, only if its player can be read through ``player_row``."""
    wallet_id = try_int_id(raw_id)
    if wallet_id is None:
        return None
    row = await info.context.loaders.get(WalletById).load(wallet_id)
    if row is None or await player_row(info, row.player_id) is None:
        return None
    return row


async def record_list(reader: Reader, rows: Sequence[PlayerRow]) -> None:
    """A staff listing of players is audited with the ids it showed (GraphQL and REST)."""
    if reader.principal.kind is PrincipalKind.STAFF:
        await audit.record_now(
            reader.db, reader.actor, "player.list", None, audit.SUCCESS,
            {"count": len(rows), "ids": [str(r.id) for r in rows]},
        )  # fmt: skip
