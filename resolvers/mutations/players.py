"""Player mutations."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import service as analytics
from app.audit import service as audit
from app.core import errors
from app.identity import registration
from app.identity.errors import TooManyAttempts as TooManyAttemptsError
from app.identity.sessions import end_account_sessions
from app.players import service
from app.players.models import Player as PlayerRow
from app.players.models import PlayerStatus
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
    (errors.ValidationFailed, errors.AlreadyExists, TooManyAttemptsError),
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

        refused: list[errors.FieldProblem] = []

        async def register(session: AsyncSession) -> PlayerRow:
            if ctx.identity is not None:  # per-ip rate limit, before any hashing
                await registration.count_attempt(ctx.identity, actor_of(info).ip)
            try:
                row = await service.register_player(session, input.to_data(), ctx.settings)
            except errors.ValidationFailed as exc:
                refused.extend(exc.problems)
                # Refused before hashing: spend the same work, so timing tells nothing.
                await registration.equal_work(ctx.settings)
                raise
            except errors.AlreadyExists as exc:
                refused.append(errors.FieldProblem(exc.field, "is already registered"))
                raise
            await audit.record(session, actor_of(info), "player.register", f"player:{row.id}")
            return row

        result = await run(info, REGISTER_PLAYER, register, lambda row: RegisterPlayerSuccess(
            player=Player.from_model(row, owner_view=True)
        ))  # fmt: skip
        if refused:  # the attempt was rolled back: its errors are counted on their own
            async with ctx.db.transaction() as session:
                await analytics.record_registration_failure(session, refused)
        return result

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

        async def set_status(session: AsyncSession) -> PlayerRow:
            pid = parse_uuid(player_id, "playerId")
            row = await service.set_status(session, pid, status, reason, ctx.principal.key)
            if row.status != PlayerStatus.ACTIVE and ctx.identity is not None:
                # Inside the transaction: if ending the sessions fails, so does the change.
                await end_account_sessions(ctx.identity, f"player:{pid}", f"status {status}")
            return row

        return await run(
            info, SET_PLAYER_STATUS, set_status,
            lambda row: SetPlayerStatusSuccess(player=Player.from_model(row)),
        )  # fmt: skip
