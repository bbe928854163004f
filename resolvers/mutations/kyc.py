"""KYC and profile mutations."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from app.core import errors
from app.kyc import errors as kyc_errors
from app.kyc import service as kyc
from app.kyc.provider import get_provider
from app.players.models import Player as PlayerRow
from app.profiles import service as profiles
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.queries.players import parse_player_id
from schema.context import Info
from schema.errors import Forbidden, NotFound, ValidationError
from schema.inputs.kyc import KycDocumentInput, UpdatePreferencesInput, UpdateProfileInput
from schema.types.kyc import (
    AlreadyVerified,
    KycCase,
    KycCaseNotReviewable,
    KycCaseOpen,
    KycProviderUnavailable,
    KycReviewDecision,
)
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


SubmitKycResult = Annotated[
    SubmitKycSuccess
    | ValidationError
    | NotFound
    | KycCaseOpen
    | AlreadyVerified
    | KycProviderUnavailable
    | Forbidden,
    strawberry.union("SubmitKycResult"),
]
ReviewKycResult = Annotated[
    ReviewKycSuccess | ValidationError | NotFound | KycCaseNotReviewable | Forbidden,
    strawberry.union("ReviewKycResult"),
]
UpdatePlayerResult = Annotated[
    UpdatePlayerSuccess | ValidationError | NotFound | Forbidden,
    strawberry.union("UpdatePlayerResult"),
]

_NO_PLAYER = errors.NotFound("no such player")


def _player_id(raw: strawberry.ID) -> uuid.UUID:
    player_id = parse_player_id(raw)
    if player_id is None:
        raise _NO_PLAYER
    return player_id


def _map(exc: errors.DomainError) -> object:
    mapping: list[tuple[type[errors.DomainError], object]] = [
        (errors.ValidationFailed, ValidationError),
        (errors.NotFound, NotFound),
        (kyc_errors.KycCaseOpen, KycCaseOpen),
        (kyc_errors.AlreadyVerified, AlreadyVerified),
        (kyc_errors.ProviderUnavailable, KycProviderUnavailable),
        (kyc_errors.UnknownProvider, KycProviderUnavailable),
        (kyc_errors.CaseNotReviewable, KycCaseNotReviewable),
    ]
    for domain_type, schema_type in mapping:
        if isinstance(exc, domain_type):
            return schema_type.from_domain(exc)  # type: ignore[attr-defined]
    raise exc


@strawberry.type
class KycMutations:
    @strawberry.mutation(
        description="Start identity verification with the KYC provider.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def submit_kyc(
        self, info: Info, player_id: strawberry.ID, documents: list[KycDocumentInput]
    ) -> SubmitKycResult:
        ctx = info.context
        try:
            provider = get_provider(ctx.settings, ctx.settings.kyc_default_provider)
            case = await kyc.submit_kyc(
                ctx.db, provider, _player_id(player_id), [d.to_data() for d in documents],
                actor=ctx.principal.key, settings=ctx.settings,
            )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return SubmitKycSuccess(case=KycCase.from_model(case))

    @strawberry.mutation(
        description="Decide a case that is in manual review.",
        extensions=[forbidden_result(P.KYC_REVIEW, audit=True)],
    )
    async def review_kyc(
        self, info: Info, case_id: strawberry.ID, decision: KycReviewDecision, note: str
    ) -> ReviewKycResult:
        ctx = info.context
        try:
            case_uuid = uuid.UUID(str(case_id))
        except ValueError:
            return NotFound(code="NOT_FOUND", message="unknown KYC case")
        try:
            async with ctx.db.transaction() as session:
                case = await kyc.review_case(
                    session, case_uuid, decision.value, note,
                    actor=ctx.principal.key, settings=ctx.settings,
                )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return ReviewKycSuccess(case=KycCase.from_model(case))

    @strawberry.mutation(
        description="Edit personal data; every change goes to the history.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def update_player_profile(
        self, info: Info, player_id: strawberry.ID, input: UpdateProfileInput
    ) -> UpdatePlayerResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row, _, changed = await profiles.update_profile(
                    session, _player_id(player_id), input.to_data(),
                    actor=ctx.principal.key, settings=ctx.settings,
                )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return UpdatePlayerSuccess(player=Player.from_model(row), changed_fields=changed)

    @strawberry.mutation(
        description="Edit interface preferences and marketing consents.",
        extensions=[forbidden_result(P.PLAYER_WRITE, owner_ok=True, audit=True)],
    )
    async def update_player_preferences(
        self, info: Info, player_id: strawberry.ID, input: UpdatePreferencesInput
    ) -> UpdatePlayerResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row, changed = await profiles.update_preferences(
                    session, _player_id(player_id), input.to_patch(),
                    actor=ctx.principal.key, settings=ctx.settings,
                )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return UpdatePlayerSuccess(player=Player.from_model(row), changed_fields=changed)

    @strawberry.mutation(
        description="Set the VIP level (0 = none).",
        extensions=[forbidden_result(P.PLAYER_VIP, audit=True)],
    )
    async def set_vip_level(
        self, info: Info, player_id: strawberry.ID, level: int
    ) -> UpdatePlayerResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                row = await profiles.set_vip_level(
                    session, _player_id(player_id), level,
                    actor=ctx.principal.key, settings=ctx.settings,
                )  # fmt: skip
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return UpdatePlayerSuccess(player=Player.from_model(row), changed_fields=["vipLevel"])

    @strawberry.mutation(
        description="Replace a player's custom tags.",
        extensions=[forbidden_result(P.SEGMENT_MANAGE, audit=True)],
    )
    async def set_player_tags(
        self, info: Info, player_id: strawberry.ID, tags: list[str]
    ) -> UpdatePlayerResult:
        ctx = info.context
        try:
            async with ctx.db.transaction() as session:
                pid = _player_id(player_id)
                await profiles.set_tags(
                    session, pid, tags, actor=ctx.principal.key, settings=ctx.settings
                )
                row = await session.get(PlayerRow, pid)
        except errors.DomainError as exc:
            return _map(exc)  # type: ignore[return-value]
        return UpdatePlayerSuccess(player=Player.from_model(row), changed_fields=["tags"])
