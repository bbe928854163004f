"""Bonus mutations: campaigns (staff), grants and cancellations (staff), forfeits (the
player), free-spin wins (game engine). Permission each needs is named on it for the RBAC
classes of permissions/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.bonuses import errors as B
from app.bonuses import service
from app.bonuses.models import BonusStatus, CampaignStatus, PlayerBonus
from app.core.errors import DomainError, NotFound, ValidationFailed
from app.ledger import errors as E
from app.ledger.service import Outcome
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_int_id, parse_uuid
from schema.inputs import bonus as inputs
from schema.types.bonus import BonusCampaign
from schema.types.bonus import PlayerBonus as PlayerBonusType

# Bonus operations run on the ledger kernel: its idempotency and account checks apply.
_OPERATION: tuple[type[DomainError], ...] = (
    ValidationFailed, NotFound, E.IdempotencyKeyReused, E.RequestInProgress,
    E.AccountBlocked, E.CurrencyMismatch, E.AmountTooLarge,
)  # fmt: skip
GRANT_BONUS = MutationSpec(
    "GrantBonusResult", (PlayerBonusType,),
    (*_OPERATION, B.CampaignNotActive, B.NotEligible, B.AlreadyAwarded),
)  # fmt: skip
END_BONUS = MutationSpec("EndBonusResult", (PlayerBonusType,), (*_OPERATION, B.BonusNotActive))
FREE_SPINS_WIN = MutationSpec(
    "CreditFreeSpinsWinResult", (PlayerBonusType,), (*_OPERATION, B.BonusNotActive)
)
CAMPAIGN = MutationSpec("BonusCampaignResult", (BonusCampaign,), (ValidationFailed, NotFound))


async def _bonus_op(
    info: Info, spec: MutationSpec, call: Callable[[AsyncSession], Awaitable[Outcome]]
) -> Any:
    """One ledger-style bonus operation in one transaction; answer with the bonus row."""

    async def operate(session: AsyncSession) -> PlayerBonus | None:
        outcome = await call(session)
        bonus_id = service.describe(outcome.body)
        return await session.get(PlayerBonus, bonus_id) if bonus_id else None

    def present(row: PlayerBonus | None) -> Any:
        if row is None:  # the operation stands (committed); only its bonus is gone
            return spec.answer(NotFound("the bonus of this operation no longer exists"))
        return PlayerBonusType.from_model(row)

    return await run(info, spec, operate, present)


async def _set_status(info: Info, raw: strawberry.ID, status: CampaignStatus) -> Any:
    return await run(
        info, CAMPAIGN,
        lambda s: service.set_campaign_status(s, parse_int_id(raw, "id"), status),
        BonusCampaign.from_model,
    )  # fmt: skip


@strawberry.type
class BonusMutations:
    @strawberry.mutation(
        graphql_type=CAMPAIGN.union,
        description="Create a bonus campaign (validated; typed errors).",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def create_bonus_campaign(
        self, info: Info, input: inputs.CreateBonusCampaignInput
    ) -> object:
        ctx = info.context
        return await run(
            info, CAMPAIGN,
            lambda s: service.create_campaign(s, ctx.settings, ctx.principal, input.to_data()),
            BonusCampaign.from_model,
        )  # fmt: skip

    @strawberry.mutation(
        graphql_type=CAMPAIGN.union,
        description="Stop a campaign from awarding (held bonuses go on).",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def pause_bonus_campaign(self, info: Info, id: strawberry.ID) -> object:
        return await _set_status(info, id, CampaignStatus.PAUSED)

    @strawberry.mutation(
        graphql_type=CAMPAIGN.union,
        description="Let a paused campaign award again.",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def resume_bonus_campaign(self, info: Info, id: strawberry.ID) -> object:
        return await _set_status(info, id, CampaignStatus.ACTIVE)

    @strawberry.mutation(
        graphql_type=GRANT_BONUS.union,
        description="Grant a campaign's bonus to a player by hand.",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def grant_bonus(self, info: Info, input: inputs.GrantBonusInput) -> object:
        ctx = info.context
        return await _bonus_op(info, GRANT_BONUS, lambda s: service.grant(
            s, ctx.settings, ctx.principal,
            campaign_id=parse_int_id(input.campaign_id, "campaignId"),
            player_id=parse_uuid(input.player_id, "playerId"), amount=input.amount,
            idempotency_key=input.idempotency_key,
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=END_BONUS.union,
        description="Cancel an active bonus; its money returns to the house.",
        extensions=[forbidden_result(P.BONUS_MANAGE, audit=True)],
    )
    async def cancel_bonus(self, info: Info, input: inputs.EndBonusInput) -> object:
        return await _end(info, input, BonusStatus.CANCELLED)

    @strawberry.mutation(
        graphql_type=END_BONUS.union,
        description="The player gives up an active bonus and its money.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def forfeit_bonus(self, info: Info, input: inputs.EndBonusInput) -> object:
        return await _end(info, input, BonusStatus.FORFEITED)

    @strawberry.mutation(
        graphql_type=FREE_SPINS_WIN.union,
        description="Credit free-spin winnings as bonus money with wagering.",
        extensions=[forbidden_result(P.WALLET_OPERATE, audit=True)],
    )
    async def credit_free_spins_win(self, info: Info, input: inputs.FreeSpinsWinInput) -> object:
        ctx = info.context
        return await _bonus_op(info, FREE_SPINS_WIN, lambda s: service.credit_free_spins_win(
            s, ctx.settings, ctx.principal, player_id=parse_uuid(input.player_id, "playerId"),
            bonus_id=parse_int_id(input.bonus_id, "bonusId"), amount=input.amount,
            currency=input.currency, idempotency_key=input.idempotency_key,
        ))  # fmt: skip


async def _end(info: Info, input: inputs.EndBonusInput, status: BonusStatus) -> Any:
    ctx = info.context
    return await _bonus_op(info, END_BONUS, lambda s: service.end_bonus(
        s, ctx.settings, ctx.principal, player_id=parse_uuid(input.player_id, "playerId"),
        bonus_id=parse_int_id(input.bonus_id, "bonusId"), status=status, reason=input.reason,
        idempotency_key=input.idempotency_key,
    ))  # fmt: skip
