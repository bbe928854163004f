"""KYC and profile mutations."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import errors
from app.kyc import errors as kyc_errors
from app.kyc import service as kyc
from app.kyc.provider import get_provider
from app.players.models import Player as PlayerRow
from app.profiles import service as profiles
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run, run_unmanaged
from schema.context import Info
from schema.ids import parse_uuid
from schema.input_guard import FreeTextArg, FreeTextList
from schema.inputs.kyc import KycDocumentInput, UpdatePreferencesInput, UpdateProfileInput
from schema.types.kyc import KycCase, KycReviewDecision
from schema.types.player import Player


@strawberry.type
class SubmitKycSuccess:
    case: KycCase


@strawberry.type
class ReviewKycSuccess:
    case: KycCase


@strawberry.type
class UpdatePlayerSuccess:
    player: Player
    changed_fields: list[str]


SUBMIT_KYC = MutationSpec(
    "SubmitKycResult", (SubmitKycSuccess,),
    (errors.ValidationFailed, errors.NotFound, kyc_errors.KycCaseOpen, kyc_errors.AlreadyVerified,
     kyc_errors.ProviderUnavailable, kyc_errors.UnknownProvider),
)  # fmt: skip
REVIEW_KYC = MutationSpec(
    "ReviewKycResult", (ReviewKycSuccess,),
    (errors.ValidationFailed, errors.NotFound, kyc_errors.CaseNotReviewable),
)  # fmt: skip
UPDATE_PLAYER = MutationSpec(
    "UpdatePlayerResult", (UpdatePlayerSuccess,), (errors.ValidationFailed, errors.NotFound)
)


def _player_id(raw: strawberry.ID) -> uuid.UUID:
    return parse_uuid(raw, "playerId")


def _updated(changed: list[str]) -> Any:
    def present(row: PlayerRow) -> UpdatePlayerSuccess:
        return UpdatePlayerSuccess(player=Player.from_model(row), changed_fields=changed)

    return present


@strawberry.type
class KycMutations:
    @strawberry.mutation(
        graphql_type=SUBMIT_KYC.union,
        description="Start identity verification with the KYC provider.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def submit_kyc(
        self, info: Info, player_id: strawberry.ID, documents: list[KycDocumentInput]
    ) -> object:
        ctx = info.context

        async def submit() -> Any:  # the service calls the provider between transactions
            provider = get_provider(ctx.settings, ctx.settings.kyc_default_provider)
            return await kyc.submit_kyc(
                ctx.db, provider, _player_id(player_id), [d.to_data() for d in documents],
                actor=ctx.principal.key, settings=ctx.settings,
            )  # fmt: skip

        return await run_unmanaged(
            info, SUBMIT_KYC, submit, lambda case: SubmitKycSuccess(case=KycCase.from_model(case))
        )

    @strawberry.mutation(
        graphql_type=REVIEW_KYC.union,
        description="Decide a case that is in manual review.",
        extensions=[forbidden_result(P.KYC_REVIEW, audit=True)],
    )
    async def review_kyc(
        self, info: Info, case_id: strawberry.ID, decision: KycReviewDecision, note: FreeTextArg
    ) -> object:
        ctx = info.context
        return await run(info, REVIEW_KYC, lambda s: kyc.review_case(
            s, parse_uuid(case_id, "caseId"), decision.value, note,
            actor=ctx.principal.key, settings=ctx.settings,
        ), lambda case: ReviewKycSuccess(case=KycCase.from_model(case)))  # fmt: skip

    @strawberry.mutation(
        graphql_type=UPDATE_PLAYER.union,
        description="Edit personal data; every change goes to the history.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def update_player_profile(
        self, info: Info, player_id: strawberry.ID, input: UpdateProfileInput
    ) -> object:
        ctx = info.context
        updated = await run(info, UPDATE_PLAYER, lambda s: profiles.update_profile(
            s, _player_id(player_id), input.to_data(),
            actor=ctx.principal.key, settings=ctx.settings,
        ), lambda result: _updated(result[2])(result[0]))  # fmt: skip
        return updated

    @strawberry.mutation(
        graphql_type=UPDATE_PLAYER.union,
        description="Edit interface preferences and marketing consents.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def update_player_preferences(
        self, info: Info, player_id: strawberry.ID, input: UpdatePreferencesInput
    ) -> object:
        ctx = info.context
        return await run(info, UPDATE_PLAYER, lambda s: profiles.update_preferences(
            s, _player_id(player_id), input.to_patch(),
            actor=ctx.principal.key, settings=ctx.settings,
        ), lambda result: _updated(result[1])(result[0]))  # fmt: skip

    @strawberry.mutation(
        graphql_type=UPDATE_PLAYER.union,
        description="Set the VIP level (0 = none).",
        extensions=[forbidden_result(P.PLAYER_VIP, audit=True)],
    )
    async def set_vip_level(self, info: Info, player_id: strawberry.ID, level: int) -> object:
        ctx = info.context
        return await run(info, UPDATE_PLAYER, lambda s: profiles.set_vip_level(
            s, _player_id(player_id), level, actor=ctx.principal.key, settings=ctx.settings,
        ), _updated(["vipLevel"]))  # fmt: skip

    @strawberry.mutation(
        graphql_type=UPDATE_PLAYER.union,
        description="Replace a player's custom tags.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def set_player_tags(
        self, info: Info, player_id: strawberry.ID, tags: FreeTextList
    ) -> object:
        ctx = info.context

        async def retag(session: AsyncSession) -> PlayerRow | None:
            pid = _player_id(player_id)
            await profiles.set_tags(
                session, pid, tags, actor=ctx.principal.key, settings=ctx.settings
            )
            return await session.get(PlayerRow, pid)

        return await run(info, UPDATE_PLAYER, retag, _updated(["tags"]))
