"""Consent mutations: a player records their own (self-service); staff per the matrix
(consent:write). Every change is a history row; setting the current value changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents import service
from app.core import errors
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_uuid
from schema.types.gdpr import PlayerConsents

CONSENT = MutationSpec(
    "ConsentResult", (PlayerConsents,), (errors.NotFound, errors.ValidationFailed)
)


async def consents_of(session: AsyncSession, player_id: uuid.UUID) -> PlayerConsents:
    state = await service.state(session, player_id)
    return PlayerConsents.build(state, list(await service.history(session, player_id)))


async def _change(
    info: Info,
    raw: strawberry.ID,
    write: Callable[[AsyncSession, uuid.UUID, str, str], Awaitable[Any]],
) -> object:
    principal = info.context.principal
    try:
        pid = parse_uuid(raw, "playerId")
    except errors.DomainError as exc:
        return CONSENT.answer(exc)

    async def call(session: AsyncSession) -> PlayerConsents:
        await write(session, pid, principal.key, service.source_of(principal.kind.value))
        return await consents_of(session, pid)

    return await run(info, CONSENT, call, lambda answer: answer)


@strawberry.type
class ConsentMutations:
    @strawberry.mutation(
        graphql_type=CONSENT.union,
        description="Grant or withdraw marketing through one channel (email, sms, push, "
        "phone). The player for themselves, staff with consent:write.",
        extensions=[forbidden_result(P.CONSENT_WRITE, owner_ok=True, audit=True)],
    )
    async def set_marketing_consent(
        self, info: Info, player_id: strawberry.ID, channel: str, granted: bool
    ) -> object:
        settings = info.context.settings
        return await _change(info, player_id, lambda s, p, actor, source: service.set_marketing(
            s, p, channel, granted, actor=actor, source=source, settings=settings
        ))  # fmt: skip

    @strawberry.mutation(
        graphql_type=CONSENT.union,
        description="Record that the player accepted this version of the terms.",
        extensions=[forbidden_result(P.CONSENT_WRITE, owner_ok=True, audit=True)],
    )
    async def accept_terms(self, info: Info, player_id: strawberry.ID, version: str) -> object:
        return await _change(info, player_id, lambda s, p, actor, source: service.accept_terms(
            s, p, version, actor=actor, source=source
        ))  # fmt: skip
