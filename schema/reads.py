"""THE way a player (and a wallet, through its player) is read by id: the ``player``
query, federation's ``_entities`` and the wallet reference all come here, so a
permission added here applies to all of them. Rows come from the request's loaders."""

from __future__ import annotations

from app.audit import service as audit
from app.core.principal import PrincipalKind
from app.players.models import Player as PlayerRow
from app.wallets.models import Wallet as WalletRow
from permissions.roles import Permission as P
from permissions.roles import is_allowed
from permissions.rules import actor_of
from schema.context import Info
from schema.ids import try_int_id, try_uuid
from schema.loaders import PlayerById, WalletById


async def player_row(info: Info, raw_id: object) -> PlayerRow | None:
    """The player, if there is one and the caller may read it (staff reads are audited)."""
    player_id = try_uuid(raw_id)
    principal = info.context.principal
    if player_id is None or not is_allowed(
        principal, P.PLAYER_READ, owner_ok=True, owner=str(player_id)
    ):
        return None

    async def load() -> PlayerRow | None:
        return await info.context.loaders.get(PlayerById).load(player_id)

    events = info.context.events
    row: PlayerRow | None = (
        await events.cache.get(player_id, load) if events is not None else await load()
    )
    if row is not None and principal.kind is PrincipalKind.STAFF:
        await audit.record_now(
            info.context.db, actor_of(info), "player.read", str(row.id), audit.SUCCESS
        )
    return row


async def wallet_row(info: Info, raw_id: object) -> WalletRow | None:
    """A wallet by id, only if its player can be read through ``player_row``."""
    wallet_id = try_int_id(raw_id)
    if wallet_id is None:
        return None
    row = await info.context.loaders.get(WalletById).load(wallet_id)
    if row is None or await player_row(info, row.player_id) is None:
        return None
    return row
