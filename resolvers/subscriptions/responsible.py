"""The reality check as a subscription: the front end is told each time the interval
(``rg_reality_check_minutes``) of the player's play session elapses, with the time played
and the net result so far. The player's own only; a restricted session (a break or a
self-exclusion in its token) has no play session to watch."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta

import strawberry
from graphql import GraphQLError

from app.responsible import service as rg
from permissions.realtime import may_watch_reality_check
from resolvers.subscriptions.players import forbidden
from schema.context import Info
from schema.ids import try_uuid
from schema.types.responsible import RealityCheck

# Without a play session, look again this often (a bet or a sign-in starts one).
IDLE_POLL_SECONDS = 30.0


async def _current(info: Info, player_id: uuid.UUID) -> rg.RealityCheck | None:
    async with info.context.db.read_session() as session:
        return await rg.reality_check(session, info.context.settings, player_id)


def _seconds_until(at: datetime) -> float:
    return max((at - rg.now()).total_seconds(), 0.0)


@strawberry.type
class ResponsibleSubscriptions:
    @strawberry.subscription(
        description="The player's reality check: a message each time the reality-check "
        "interval of the current play session elapses (time played, net result)."
    )
    async def reality_check(
        self, info: Info, player_id: strawberry.ID
    ) -> AsyncGenerator[RealityCheck, None]:
        pid = try_uuid(player_id)
        if pid is None:
            raise GraphQLError("invalid player id", extensions={"code": "BAD_INPUT"})
        if not may_watch_reality_check(info.context.principal, str(pid)):
            raise forbidden()
        claims = info.context.claims
        if claims is not None and claims.restriction:
            raise GraphQLError("gambling is not available to this session",
                               extensions={"code": "GAMBLING_RESTRICTED"})  # fmt: skip
        interval = timedelta(minutes=info.context.settings.rg_reality_check_minutes)
        told: datetime | None = None  # the interval boundary last reported
        while True:
            check = await _current(info, pid)
            if check is None:
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            passed = check.next_check_at - interval  # the latest boundary reached
            if passed > check.started_at and passed != told:
                told = passed
                yield RealityCheck.build(check)
            # Just past the next boundary, so the next look sees it reached.
            await asyncio.sleep(_seconds_until(check.next_check_at) + 0.05)
