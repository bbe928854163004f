"""Player mutations."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core import errors
from app.players import service
from app.players.models import Player as PlayerRow
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result, public
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.enums import PlayerStatusEnum
from schema.ids import parse_uuid
from schema.input_guard import FreeTextArg
from schema.inputs.players import RegisterPlayerInput
from schema.types.player import Player


@strawberry.type
class RegisterPlayerSuccess:
    player: Player


@strawberry.type
class SetPlayerStatusSuccess:
    player: Player


def _registration_details(exc: errors.DomainError) -> dict[str, Any]:
    if isinstance(exc, errors.ValidationFailed):
        return {"code": exc.code, "fields": [p.field for p in exc.problems]}
    if isinstance(exc, errors.AlreadyExists):
        return {"code": exc.code, "field": exc.field}
    return {"code": exc.code}


REGISTER_PLAYER = MutationSpec(
    "RegisterPlayerResult", (RegisterPlayerSuccess,),
    (errors.ValidationFailed, errors.AlreadyExists),
    failure_audit="player.register", audit_details=_registration_details, forbidden=False,
)  # fmt: skip
SET_PLAYER_STATUS = MutationSpec(
    "SetPlayerStatusResult", (SetPlayerStatusSuccess,), (errors.ValidationFailed, errors.NotFound)
)


@strawberry.type
class PlayerMutations:
    @strawberry.mutation(
        graphql_type=REGISTER_PLAYER.union,
        description="Sign up a player; creates its four wallets too.",
        extensions=[public()],
    )
    async def register_player(self, info: Info, input: RegisterPlayerInput) -> object:
        ctx = info.context

        async def register(session: AsyncSession) -> PlayerRow:
            row = await service.register_player(session, input.to_data(), ctx.settings)
            await audit.record(session, actor_of(info), "player.register", f"player:{row.id}")
            return row

        return await run(info, REGISTER_PLAYER, register, lambda row: RegisterPlayerSuccess(
            player=Player.from_model(row, owner_view=True)
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=SET_PLAYER_STATUS.union,
        description="Block, unblock, self-exclude or close an account (a reason is required). "
        "Blocked and self-excluded players can place no new debits.",
        extensions=[forbidden_result(P.PLAYER_BLOCK, audit=True)],
    )
    async def set_player_status(
        self, info: Info, player_id: strawberry.ID, status: PlayerStatusEnum, reason: FreeTextArg
    ) -> object:
        ctx = info.context
        return await run(info, SET_PLAYER_STATUS, lambda s: service.set_status(
            s, parse_uuid(player_id, "playerId"), status, reason, ctx.principal.key
        ), lambda row: SetPlayerStatusSuccess(player=Player.from_model(row)))  # fmt: skip
