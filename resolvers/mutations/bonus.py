"""Bonus mutations: campaigns (staff), grants and cancellations (staff), forfeits (the
player), free-spin wins (game engine). Permission each needs is named on it for the RBAC
classes of permissions/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import service
from app.bonuses.models import BonusStatus, CampaignStatus, PlayerBonus
from app.core.errors import DomainError, NotFound
from app.ledger.service import Outcome
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.mutations.ledger import _int_id, _player
from schema.context import Info
from schema.errors import NotFound as NotFoundType
from schema.errors import ValidationError
from schema.inputs import bonus as inputs
from schema.types.bonus import (
    BonusCampaign,
    BonusOperationResult,
    CampaignResult,
    from_error,
)
from schema.types.bonus import PlayerBonus as PlayerBonusType


async def _bonus_op(info: Info, call: Callable[[AsyncSession], Awaitable[Outcome]]) -> Any:
    """One ledger-style bonus operation in one transaction; answer with the bonus row."""
    try:
        async with info.context.db.transaction() as session:
            outcome = await call(session)
            bonus_id = service.describe(outcome.body)
            row = await session.get(PlayerBonus, bonus_id) if bonus_id else None
    except DomainError as exc:
        return from_error(exc)
    if row is None:
        return from_error(NotFound("the bonus of this operation no longer exists"))
    return PlayerBonusType.from_model(row)


def _campaign_id(raw: strawberry.ID) -> int:
    value = _int_id(raw, "campaignId")
    assert value is not None
    return value


async def _set_status(info: Info, raw: strawberry.ID, status: CampaignStatus) -> Any:
    try:
        async with info.context.db.transaction() as session:
            row = await service.set_campaign_status(session, _campaign_id(raw), status)
    except NotFound as exc:
        return NotFoundType.from_domain(exc)
    except DomainError as exc:
        return from_error(exc)
    return BonusCampaign.from_model(row)


@strawberry.type
class BonusMutations:
    @strawberry.mutation(
        description="Create a bonus campaign (validated; typed errors).",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def create_bonus_campaign(
        self, info: Info, input: inputs.CreateBonusCampaignInput
    ) -> CampaignResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row = await service.create_campaign(
                    session, ctx.settings, ctx.principal, input.to_data()
                )
        except DomainError as exc:
            if hasattr(exc, "problems"):
                return ValidationError.from_domain(exc)  # type: ignore[arg-type]
            raise
        return BonusCampaign.from_model(row)

    @strawberry.mutation(
        description="Stop a campaign from awarding (held bonuses go on).",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def pause_bonus_campaign(self, info: Info, id: strawberry.ID) -> CampaignResult:
        return await _set_status(info, id, CampaignStatus.PAUSED)

    @strawberry.mutation(
        description="Let a paused campaign award again.",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def resume_bonus_campaign(self, info: Info, id: strawberry.ID) -> CampaignResult:
        return await _set_status(info, id, CampaignStatus.ACTIVE)

    @strawberry.mutation(
        description="Grant a campaign's bonus to a player by hand.",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def grant_bonus(self, info: Info, input: inputs.GrantBonusInput) -> BonusOperationResult:
        ctx = info.context
        return await _bonus_op(info, lambda s: service.grant(
            s, ctx.settings, ctx.principal, campaign_id=_campaign_id(input.campaign_id),
            player_id=_player(input.player_id), amount=input.amount,
            idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        description="Cancel an active bonus; its money returns to the house.",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def cancel_bonus(self, info: Info, input: inputs.EndBonusInput) -> BonusOperationResult:
        return await _end(info, input, BonusStatus.CANCELLED)

    @strawberry.mutation(
        description="The player gives up an active bonus and its money.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def forfeit_bonus(self, info: Info, input: inputs.EndBonusInput) -> BonusOperationResult:
        return await _end(info, input, BonusStatus.FORFEITED)

    @strawberry.mutation(
        description="Credit free-spin winnings as bonus money with wagering.",
        extensions=[forbidden_result(P.WALLET_OPERATE, audit=True)],
    )
    async def credit_free_spins_win(
        self, info: Info, input: inputs.FreeSpinsWinInput
    ) -> BonusOperationResult:
        ctx = info.context
        return await _bonus_op(info, lambda s: service.credit_free_spins_win(
            s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
            bonus_id=_int_id(input.bonus_id, "bonusId") or 0, amount=input.amount,
            currency=input.currency, idempotency_key=input.idempotency_key,
        ))  # fmt: skip


async def _end(info: Info, input: inputs.EndBonusInput, status: BonusStatus) -> Any:
    ctx = info.context
    return await _bonus_op(info, lambda s: service.end_bonus(
        s, ctx.settings, ctx.principal, player_id=_player(input.player_id),
        bonus_id=_int_id(input.bonus_id, "bonusId") or 0, status=status, reason=input.reason,
        idempotency_key=input.idempotency_key,
    ))  # fmt: skip
