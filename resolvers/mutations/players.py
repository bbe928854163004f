"""Player mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app import errors
from app.players import service
from schema.context import Info
from schema.errors import AlreadyExists, ValidationError
from schema.inputs.players import RegisterPlayerInput
from schema.types.player import Player


@strawberry.type
class RegisterPlayerSuccess:
    player: Player


RegisterPlayerResult = Annotated[
    RegisterPlayerSuccess | ValidationError | AlreadyExists,
    strawberry.union("RegisterPlayerResult"),
]


@strawberry.type
class PlayerMutations:
    @strawberry.mutation(description="Sign up a player; creates its four wallets too.")
    async def register_player(self, info: Info, input: RegisterPlayerInput) -> RegisterPlayerResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row = await service.register_player(session, input.to_data(), ctx.settings)
        except errors.ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        except errors.AlreadyExists as exc:
            return AlreadyExists.from_domain(exc)
        return RegisterPlayerSuccess(player=Player.from_model(row))
