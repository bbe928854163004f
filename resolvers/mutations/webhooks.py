"""Webhook mutations (staff): register an endpoint, redeliver a delivery."""

from __future__ import annotations

import strawberry

from app.core import errors
from app.events import webhooks
from app.events.signing import SignatureFormat
from permissions.roles import Permission as P
from permissions.rules import forbidden_result
from resolvers.runner import MutationSpec, run
from schema.context import Info
from schema.ids import parse_int_id
from schema.input_guard import free_text
from schema.types.webhooks import WebhookDelivery, WebhookEndpoint, WebhookSignatureFormatEnum


@strawberry.input
class RegisterWebhookEndpointInput:
    url: str
    event_types: list[str] = strawberry.field(
        description="Event types to send: exact (player.registered), prefix (wallet.*) or *."
    )
    secret: str = strawberry.field(description="16-256 characters; signs every delivery.")
    description: str = free_text(default="")
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


REGISTER_ENDPOINT = MutationSpec(
    "RegisterWebhookEndpointResult", (RegisterWebhookEndpointSuccess,), (errors.ValidationFailed,)
)
REDELIVER = MutationSpec(
    "RedeliverWebhookResult", (RedeliverWebhookSuccess,), (errors.ValidationFailed, errors.NotFound)
)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        graphql_type=REGISTER_ENDPOINT.union,
        description="Register a webhook receiver (staff).",
        extensions=[forbidden_result(P.WEBHOOK_MANAGE, audit=True)],
    )
    async def register_webhook_endpoint(
        self, info: Info, input: RegisterWebhookEndpointInput
    ) -> object:
        ctx = info.context
        data = webhooks.EndpointData(
            url=input.url.strip(),
            event_types=input.event_types,
            secret=input.secret,
            description=input.description,
            signature_format=input.signature_format,
        )
        return await run(
            info, REGISTER_ENDPOINT,
            lambda s: webhooks.register_endpoint(
                s, data, ctx.settings, created_by=ctx.principal.key
            ),
            lambda row: RegisterWebhookEndpointSuccess(endpoint=WebhookEndpoint.from_model(row)),
        )  # fmt: skip

    @strawberry.mutation(
        graphql_type=REDELIVER.union,
        description="Send a delivery again now (also a dead-lettered one).",
        extensions=[forbidden_result(P.WEBHOOK_MANAGE, audit=True)],
    )
    async def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> object:
        return await run(
            info, REDELIVER,
            lambda s: webhooks.redeliver(s, parse_int_id(delivery_id, "deliveryId")),
            lambda row: RedeliverWebhookSuccess(delivery=WebhookDelivery.from_model(row, [])),
        )  # fmt: skip
