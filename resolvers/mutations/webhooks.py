"""Webhook mutations (staff): register an endpoint, redeliver a delivery."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.core import errors
from app.events import webhooks
from app.events.signing import SignatureFormat
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.queries.webhooks import parse_int_id
from schema.context import Info
from schema.errors import Forbidden, NotFound, ValidationError
from schema.types.webhooks import WebhookDelivery, WebhookEndpoint, WebhookSignatureFormatEnum


@strawberry.input
class RegisterWebhookEndpointInput:
    url: str
    event_types: list[str] = strawberry.field(
        description="Event types to send: exact (player.registered), prefix (wallet.*) or *."
    )
    secret: str = strawberry.field(description="16-256 characters; signs every delivery.")
    description: str = ""
    signature_format: WebhookSignatureFormatEnum = strawberry.field(
        default=SignatureFormat.PMS,
        description="PMS (PMS-Signature header) or STANDARD (Standard Webhooks headers).",
    )


@strawberry.type
class RegisterWebhookEndpointSuccess:
    endpoint: WebhookEndpoint


@strawberry.type
class RedeliverWebhookSuccess:
    delivery: WebhookDelivery


RegisterWebhookEndpointResult = Annotated[
    RegisterWebhookEndpointSuccess | ValidationError | Forbidden,
    strawberry.union("RegisterWebhookEndpointResult"),
]
RedeliverWebhookResult = Annotated[
    RedeliverWebhookSuccess | NotFound | Forbidden, strawberry.union("RedeliverWebhookResult")
]


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register a webhook receiver (staff).",
        extensions=[forbidden_result(P.WEBHOOK_MANAGE, audit=True)],
    )
    async def register_webhook_endpoint(
        self, info: Info, input: RegisterWebhookEndpointInput
    ) -> RegisterWebhookEndpointResult:
        ctx = info.context
        data = webhooks.EndpointData(
            url=input.url.strip(),
            event_types=input.event_types,
            secret=input.secret,
            description=input.description,
            signature_format=input.signature_format,
        )
        try:
            async with ctx.db.transaction() as session:
                row = await webhooks.register_endpoint(
                    session, data, ctx.settings, created_by=ctx.principal.key
                )
        except errors.ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        return RegisterWebhookEndpointSuccess(endpoint=WebhookEndpoint.from_model(row))

    @strawberry.mutation(
        description="Send a delivery again now (also a dead-lettered one).",
        extensions=[forbidden_result(P.WEBHOOK_MANAGE, audit=True)],
    )
    async def redeliver_webhook(
        self, info: Info, delivery_id: strawberry.ID
    ) -> RedeliverWebhookResult:
        try:
            async with info.context.db.transaction() as session:
                row = await webhooks.redeliver(session, parse_int_id(delivery_id) or -1)
        except errors.NotFound as exc:
            return NotFound.from_domain(exc)
        return RedeliverWebhookSuccess(delivery=WebhookDelivery.from_model(row, []))
