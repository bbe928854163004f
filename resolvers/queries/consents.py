"""Consent queries: the player's own, or staff with consent:read; null otherwise."""

from __future__ import annotations

import strawberry

from app.core.errors import NotFound
from permissions.roles import Permission as P
from permissions.rules import nullable
from resolvers.mutations.consents import consents_of
from schema.context import Info
from schema.ids import try_uuid
from schema.types.gdpr import PlayerConsents


@strawberry.type
class ConsentQueries:
    @strawberry.field(
        description="Marketing consent per channel, the accepted terms version and every "
        "change (newest first). Null for an unknown player.",
        extensions=[nullable(P.CONSENT_READ, owner_ok=True)],
    )
    async def player_consents(self, info: Info, player_id: strawberry.ID) -> PlayerConsents | None:
        pid = try_uuid(player_id)
        if pid is None:
            return None
        async with info.context.db.read_session() as session:
            try:
                return await consents_of(session, pid)
            except NotFound:
                return None
