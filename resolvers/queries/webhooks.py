"""Webhook queries (staff): endpoints and deliveries with their attempts."""

from __future__ import annotations

from collections import defaultdict

import strawberry
from sqlalchemy import select
from sqlmodel import col

from app.events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from permissions.roles import Permission as P
from permissions.rules import required
from schema.context import Info
from schema.ids import try_int_id
from schema.pagination import check_page_size
from schema.types.webhooks import WebhookDelivery as DeliveryType
from schema.types.webhooks import WebhookDeliveryStatusEnum
from schema.types.webhooks import WebhookEndpoint as EndpointType


@strawberry.type
class WebhookQueries:
    @strawberry.field(
        description="Registered webhook endpoints (staff).",
        extensions=[required(P.WEBHOOK_MANAGE)],
    )
    async def webhook_endpoints(self, info: Info) -> list[EndpointType]:
        async with info.context.db.read_session() as session:
            rows = (
                await session.execute(select(WebhookEndpoint).order_by(col(WebhookEndpoint.id)))
            ).scalars()
            return [EndpointType.from_model(r) for r in rows]

    @strawberry.field(
        description="Webhook deliveries, newest first, with every attempt.",
        extensions=[required(P.WEBHOOK_MANAGE)],
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: WebhookDeliveryStatusEnum | None = None,
        first: int = 50,
    ) -> list[DeliveryType]:
        limit = check_page_size(first, info.context.settings.max_page_size)
        stmt = select(WebhookDelivery).order_by(col(WebhookDelivery.id).desc()).limit(limit)
        if endpoint_id is not None:
            stmt = stmt.where(col(WebhookDelivery.endpoint_id) == (try_int_id(endpoint_id) or -1))
        if status is not None:
            stmt = stmt.where(col(WebhookDelivery.status) == status.value)
        async with info.context.db.read_session() as session:
            deliveries = list((await session.execute(stmt)).scalars())
            attempts = (
                await session.execute(
                    select(WebhookAttempt)
                    .where(col(WebhookAttempt.delivery_id).in_([d.id for d in deliveries]))
                    .order_by(col(WebhookAttempt.id))
                )
            ).scalars()
        by_delivery: dict[int, list[WebhookAttempt]] = defaultdict(list)
        for attempt in attempts:
            by_delivery[attempt.delivery_id].append(attempt)
        return [DeliveryType.from_model(d, by_delivery[d.id or 0]) for d in deliveries]
