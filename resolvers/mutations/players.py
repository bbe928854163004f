"""Player mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.audit import service as audit
from app.core import errors
from app.identity import registration
from app.identity.errors import TooManyAttempts as TooManyAttemptsError
from app.identity.sessions import end_account_sessions
from app.players import service
from app.players.models import PlayerStatus
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result, public
from resolvers.queries.players import parse_player_id
from schema.context import Info
from schema.errors import AlreadyExists, Forbidden, NotFound, TooManyAttempts, ValidationError
from schema.inputs.players import RegisterPlayerInput
from schema.types.enums import PlayerStatusEnum
from schema.types.player import Player


@strawberry.type
class RegisterPlayerSuccess:
    player: Player


RegisterPlayerResult = Annotated[
    RegisterPlayerSuccess | ValidationError | AlreadyExists | TooManyAttempts,
    strawberry.union("RegisterPlayerResult"),
]


@strawberry.type
class SetPlayerStatusSuccess:
    player: Player


SetPlayerStatusResult = Annotated[
    SetPlayerStatusSuccess | ValidationError | NotFound | Forbidden,
    strawberry.union("SetPlayerStatusResult"),
]


@strawberry.type
class PlayerMutations:
    @strawberry.mutation(
        description="Sign up a player; creates its four wallets too.", extensions=[public()]
    )
    async def register_player(self, info: Info, input: RegisterPlayerInput) -> RegisterPlayerResult:
        ctx = info.context
        try:
            if ctx.identity is not None:
                await registration.count_attempt(ctx.identity, actor_of(info).ip)
        except TooManyAttemptsError as exc:
            return TooManyAttempts(code=exc.code, message=exc.message,
                                   retry_after_seconds=exc.retry_after)  # fmt: skip
        try:
            async with ctx.db.transaction() as session:
                row = await service.register_player(session, input.to_data(), ctx.settings)
                await audit.record(session, actor_of(info), "player.register", f"player:{row.id}")
        except errors.ValidationFailed as exc:
            await registration.equal_work(ctx.settings)
            fields = [p.field for p in exc.problems]
            await audit.record_now(ctx.db, actor_of(info), "player.register", None, audit.FAILURE,
                                   {"code": exc.code, "fields": fields})  # fmt: skip
            return ValidationError.from_domain(exc)
        except errors.AlreadyExists as exc:
            await audit.record_now(ctx.db, actor_of(info), "player.register", None, audit.FAILURE,
                                   {"code": exc.code, "field": exc.field})  # fmt: skip
            return AlreadyExists.from_domain(exc)
        return RegisterPlayerSuccess(player=Player.from_model(row, owner_view=True))

    @strawberry.mutation(
        description="Block, unblock, self-exclude or close an account (a reason is required). "
        "Blocked and self-excluded players can place no new debits.",
        extensions=[forbidden_result(P.PLAYER_BLOCK, audit=True)],
    )
    async def set_player_status(
        self, info: Info, player_id: strawberry.ID, status: PlayerStatusEnum, reason: str
    ) -> SetPlayerStatusResult:
        ctx = info.context
        pid = parse_player_id(player_id)
        if pid is None:
            return NotFound(code="NOT_FOUND", message="no such player")
        try:
            async with ctx.db.transaction() as session:
                row = await service.set_status(session, pid, status, reason, ctx.principal.key)
                if row.status != PlayerStatus.ACTIVE and ctx.identity is not None:
                    # Inside the transaction: if ending the sessions fails, so does the change.
                    await end_account_sessions(ctx.identity, f"player:{pid}", f"status {status}")
        except errors.ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        except errors.NotFound as exc:
            return NotFound.from_domain(exc)
        return SetPlayerStatusSuccess(player=Player.from_model(row))
