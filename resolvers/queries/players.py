"""Player queries."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.players import service
from app.players.repository import PlayerPosition
from permissions.roles import Permission as P
from permissions.rules import nullable, required
from schema.context import Info
from schema.errors import InputError
from schema.inputs.players import PlayerFilter
from schema.pagination import Connection, check_page_size, decode_cursor, encode_cursor
from schema.reads import Reader, record_list
from schema.search import player_search_fields
from schema.types.player import Player, fetch_player


def _position(cursor: str | None) -> PlayerPosition | None:
    if cursor is None:
        return None
    parts = decode_cursor(cursor)
    try:
        created_at, player_id = parts
        return PlayerPosition(datetime.fromisoformat(created_at), uuid.UUID(player_id))
    except (TypeError, ValueError):
        raise InputError("invalid cursor") from None


@strawberry.type
class PlayerQueries:
    @strawberry.field(
        description="A player by id; null if there is none or the caller may not see it.",
        extensions=[nullable(P.PLAYER_READ, owner_ok=True)],
    )
    async def player(self, info: Info, id: strawberry.ID) -> Player | None:
        return await fetch_player(info, id)

    @strawberry.field(
        description="Players, newest first, with cursor pagination.",
        extensions=[required(P.PLAYER_READ)],
    )
    async def players(
        self,
        info: Info,
        filter: PlayerFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Player]:
        limit = check_page_size(first, info.context.settings.max_page_size)
        position = _position(after)
        flt = (filter or PlayerFilter()).to_data(player_search_fields(info.context.principal))
        async with info.context.db.read_session() as session:
            rows, has_next, total = await service.list_players(session, flt, limit, position)
        await record_list(Reader.of(info), rows)
        return Connection[Player].build(
            [(encode_cursor(r.created_at, r.id), Player.from_model(r)) for r in rows],
            has_next=has_next,
            has_previous=position is not None,
            total=total,
        )
