"""Webhook endpoints, deliveries and attempts as the back office sees them (no secrets)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.events.models import DeliveryStatus
from app.events.models import WebhookAttempt as AttemptRow
from app.events.models import WebhookDelivery as DeliveryRow
from app.events.models import WebhookEndpoint as EndpointRow

WebhookDeliveryStatusEnum = DeliveryStatus  # strawberry.enum registers the class itself
strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.type
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_at: datetime

    @classmethod
    def from_model(cls, row: EndpointRow) -> WebhookEndpoint:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            event_types=list(row.event_types),
            description=row.description,
            active=row.active,
            created_at=row.created_at,
        )


@strawberry.type(description="One HTTP try of a delivery.")
class WebhookAttempt:
    attempted_at: datetime
    succeeded: bool
    response_code: int | None
    latency_ms: int
    error: str | None

    @classmethod
    def from_model(cls, row: AttemptRow) -> WebhookAttempt:
        assert row.attempted_at is not None
        return cls(
            attempted_at=row.attempted_at,
            succeeded=row.succeeded,
            response_code=row.response_code,
            latency_ms=row.latency_ms,
            error=row.error,
        )


@strawberry.type(description="One event owed to one endpoint, with every attempt so far.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: strawberry.ID
    event_type: str
    status: WebhookDeliveryStatusEnum
    attempt_count: int
    next_attempt_at: datetime
    attempts: list[WebhookAttempt]

    @classmethod
    def from_model(cls, row: DeliveryRow, attempts: list[AttemptRow]) -> WebhookDelivery:
        assert row.next_attempt_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            endpoint_id=strawberry.ID(str(row.endpoint_id)),
            event_id=strawberry.ID(str(row.event_id)),
            event_type=row.event_type,
            status=WebhookDeliveryStatusEnum(row.status),
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            attempts=[WebhookAttempt.from_model(a) for a in attempts],
        )
