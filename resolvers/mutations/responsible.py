"""Responsible-gambling mutations: limits (the player sets, raises after a cool-down and
confirms; staff may only lower, with a reason), breaks and self-exclusions (immediate;
they end the player's sessions), and the ADMIN lift (reason, audited)."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from app.core.errors import NotFound, ValidationFailed
from app.core.principal import PrincipalKind
from app.identity import sessions
from app.responsible import errors as E
from app.responsible import service as rg
from app.responsible.models import ExclusionKind, LimitKind, LimitPeriod
from app.responsible.models import GamblingLimit as LimitRow
from app.responsible.models import PlayerExclusion as ExclusionRow
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_int_id, parse_uuid
from schema.input_guard import FreeTextArg, OptionalFreeTextArg
from schema.types.responsible import GamblingLimit, GamblingLimitRemoved, PlayerExclusion

SET_LIMIT = MutationSpec(
    "SetGamblingLimitResult", (GamblingLimit,),
    (ValidationFailed, NotFound, E.StaffMayOnlyLower), failure_audit="rg.{field}",
)  # fmt: skip
# Removing or raising a limit opens the way to more gambling: not from a restricted session.
REMOVE_LIMIT = MutationSpec(
    "RemoveGamblingLimitResult", (GamblingLimit,),
    (ValidationFailed, NotFound, E.StaffMayOnlyLower), failure_audit="rg.{field}",
    gambling=True,
)  # fmt: skip
CONFIRM_LIMIT = MutationSpec(
    "ConfirmGamblingLimitResult", (GamblingLimit, GamblingLimitRemoved),
    (ValidationFailed, E.LimitChangeNotFound, E.CoolDownActive), failure_audit="rg.{field}",
    gambling=True,
)  # fmt: skip
EXCLUDE = MutationSpec(
    "ExclusionResult", (PlayerExclusion,), (ValidationFailed, NotFound, E.ExclusionActive),
    failure_audit="rg.{field}",
)  # fmt: skip
RETURN = MutationSpec(
    "RequestReturnResult", (PlayerExclusion,),
    (ValidationFailed, E.ExclusionActive, E.NoActiveExclusion), failure_audit="rg.{field}",
)  # fmt: skip
LIFT = MutationSpec(
    "LiftExclusionResult", (PlayerExclusion,), (ValidationFailed, E.NoActiveExclusion)
)


def _caller(info: Info) -> rg.Caller:
    return rg.Caller(actor_of(info), info.context.principal.kind is PrincipalKind.PLAYER)


def _limit(info: Info) -> Any:
    return lambda row: GamblingLimit.from_model(row, info.context.settings)


async def _end_sessions(info: Info, player_id: uuid.UUID) -> None:
    """An exclusion ends the player's sessions everywhere (tokens, refresh families)."""
    if info.context.identity is not None:
        await sessions.end_account_sessions(
            info.context.identity, f"player:{player_id}", "responsible gambling exclusion"
        )


async def _exclude(info: Info, raw: strawberry.ID, kind: ExclusionKind, ends: Any) -> Any:
    player_id = parse_uuid(raw, "playerId")
    ctx = info.context

    async def call(s: Any) -> ExclusionRow:
        return await rg.exclude(s, ctx.settings, _caller(info), player_id=player_id, kind=kind,
                                ends_at=ends())  # fmt: skip

    result = await run(info, EXCLUDE, call, PlayerExclusion.from_model)
    if isinstance(result, PlayerExclusion):
        await _end_sessions(info, player_id)
    return result


@strawberry.type
class ResponsibleMutations:
    @strawberry.mutation(
        graphql_type=SET_LIMIT.union,
        description="Set a limit. A new or lower one applies at once; a higher one after the "
        "cool-down and the player's confirmation. Staff may only lower, with a reason.",
        extensions=[forbidden_result(P.RG_LIMIT, owner_ok=True, audit=True)],
    )
    async def set_gambling_limit(
        self, info: Info, player_id: strawberry.ID, kind: LimitKind, period: LimitPeriod,
        amount: str, reason: OptionalFreeTextArg = None,
    ) -> object:  # fmt: skip
        ctx = info.context
        return await run(info, SET_LIMIT, lambda s: rg.set_limit(
            s, ctx.settings, _caller(info), player_id=parse_uuid(player_id, "playerId"),
            kind=kind, period=period, amount=amount, reason=reason,
        ), _limit(info))  # fmt: skip

    @strawberry.mutation(
        graphql_type=REMOVE_LIMIT.union,
        description="Ask to remove a limit: it stays in force until the cool-down has passed "
        "and the player confirms.",
        extensions=[forbidden_result(P.RG_LIMIT, owner_ok=True, audit=True)],
    )
    async def remove_gambling_limit(
        self, info: Info, player_id: strawberry.ID, kind: LimitKind, period: LimitPeriod
    ) -> object:
        ctx = info.context
        caller = _caller(info)

        async def call(s: Any) -> LimitRow:
            if not caller.is_player:
                raise E.StaffMayOnlyLower("only the player may remove their limit")
            return await rg.remove_limit(s, ctx.settings, caller,
                                         player_id=parse_uuid(player_id, "playerId"),
                                         kind=kind, period=period)  # fmt: skip

        return await run(info, REMOVE_LIMIT, call, _limit(info))

    @strawberry.mutation(
        graphql_type=CONFIRM_LIMIT.union,
        description="The player confirms their own pending increase or removal after its "
        "cool-down.",
        extensions=[forbidden_result(P.SELF, audit=True)],
    )
    async def confirm_gambling_limit(self, info: Info, id: strawberry.ID) -> object:
        principal = info.context.principal
        limit_id = parse_int_id(id, "id")

        async def call(s: Any) -> LimitRow | None:
            if principal.kind is not PrincipalKind.PLAYER:
                raise E.LimitChangeNotFound("only the player confirms their limit changes")
            return await rg.confirm_limit(s, _caller(info), player_id=uuid.UUID(principal.id),
                                          limit_id=limit_id)  # fmt: skip

        return await run(info, CONFIRM_LIMIT, call, lambda row: GamblingLimitRemoved(id=id)
                         if row is None else _limit(info)(row))  # fmt: skip

    @strawberry.mutation(
        graphql_type=EXCLUDE.union,
        description="A cooling-off break of 24 hours to 6 weeks, at once; it cannot be "
        "shortened. Debits stop, bonuses are forfeited, sessions end.",
        extensions=[forbidden_result(P.RG_EXCLUDE, owner_ok=True, audit=True)],
    )
    async def take_break(self, info: Info, player_id: strawberry.ID, hours: int) -> object:
        end = rg.break_end
        return await _exclude(info, player_id, ExclusionKind.BREAK,
                              lambda: end(hours, rg.now()))  # fmt: skip

    @strawberry.mutation(
        graphql_type=EXCLUDE.union,
        description="Self-exclusion for 6 months or more, or permanently, at once; it cannot "
        "be shortened. Debits stop, bonuses are forfeited, sessions end.",
        extensions=[forbidden_result(P.RG_EXCLUDE, owner_ok=True, audit=True)],
    )
    async def self_exclude(
        self, info: Info, player_id: strawberry.ID, months: int | None = None,
        permanent: bool = False,
    ) -> object:  # fmt: skip
        def ends() -> Any:
            return rg.self_exclusion_end(months, permanent, rg.now())

        return await _exclude(info, player_id, ExclusionKind.SELF_EXCLUSION, ends)

    @strawberry.mutation(
        graphql_type=RETURN.union,
        description="After a self-exclusion has ended: ask to play again. The account opens "
        "once the return cooling period has passed.",
        extensions=[forbidden_result(P.RG_EXCLUDE, owner_ok=True, audit=True)],
    )
    async def request_return(self, info: Info, player_id: strawberry.ID) -> object:
        ctx = info.context

        async def call(s: Any) -> list[ExclusionRow]:
            return await rg.request_return(s, ctx.settings, _caller(info),
                                           player_id=parse_uuid(player_id, "playerId"))  # fmt: skip

        return await run(info, RETURN, call, lambda rows: PlayerExclusion.from_model(rows[0]))

    @strawberry.mutation(
        graphql_type=LIFT.union,
        description="ADMIN only: end the player's exclusions in force, with a reason.",
        extensions=[forbidden_result(P.RG_LIFT, audit=True)],
    )
    async def lift_exclusion(
        self, info: Info, player_id: strawberry.ID, reason: FreeTextArg
    ) -> object:
        async def call(s: Any) -> list[ExclusionRow]:
            return await rg.lift(s, _caller(info), player_id=parse_uuid(player_id, "playerId"),
                                 reason=reason)  # fmt: skip

        return await run(info, LIFT, call, lambda rows: PlayerExclusion.from_model(rows[0]))
