"""Webhooks: endpoints registered by staff receive signed copies of domain events.

The relay queues one ``webhook_deliveries`` row per (endpoint, event) in its own
transaction (``queue_deliveries``, a relay sink); the dispatcher (``delivery.py``) sends
them, signed as ``signing.py`` says, to targets ``webhook_targets.py`` accepts. Staff
can queue a delivery again by hand. Services here take a session and never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import seal
from app.core.errors import FieldProblem, NotFound, ValidationFailed
from app.core.settings import Settings
from app.events import repository
from app.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.events.webhook_targets import resolved_problem

_EVENT_TYPE = re.compile(r"^(\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?)$")


@dataclass(frozen=True)
class EndpointData:
    url: str
    event_types: list[str]
    secret: str
    description: str = ""


async def register_endpoint(
    session: AsyncSession, data: EndpointData, settings: Settings, created_by: str
) -> WebhookEndpoint:
    problems: list[FieldProblem] = []
    problem = await resolved_problem(data.url, settings.webhooks_may_target_private)
    if problem:
        problems.append(FieldProblem("url", problem))
    if not data.event_types or len(data.event_types) > 50:
        problems.append(FieldProblem("eventTypes", "give between 1 and 50 event types"))
    elif any(len(t) > 128 or not _EVENT_TYPE.match(t) for t in data.event_types):
        problems.append(
            FieldProblem("eventTypes", "use types like player.registered, wallet.* or *")
        )
    if not 16 <= len(data.secret) <= 256:
        problems.append(FieldProblem("secret", "the secret must be 16 to 256 characters"))
    if len(data.description) > 256:
        problems.append(FieldProblem("description", "at most 256 characters"))
    if problems:
        raise ValidationFailed(problems)
    endpoint = WebhookEndpoint(
        url=data.url,
        event_types=sorted(set(data.event_types)),
        secret=seal(data.secret.encode(), settings),
        description=data.description,
        created_by=created_by,
    )
    return await repository.insert_endpoint(session, endpoint)


def type_matches(pattern: str, event_type: str) -> bool:
    """``*`` matches every type; ``player.*`` every type starting ``player.``."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


async def queue_deliveries(session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
    """Relay sink: one pending delivery per matching active endpoint and event."""
    endpoints = await repository.active_endpoints(session)
    if not endpoints:
        return
    rows = [
        {
            "endpoint_id": endpoint_id,
            "event_id": env["id"],
            "event_type": env["type"],
            "payload": env,
        }
        for env in envelopes
        for endpoint_id, types in endpoints
        if any(type_matches(t, env["type"]) for t in types)
    ]
    if rows:
        await repository.insert_deliveries(session, rows)


async def redeliver(session: AsyncSession, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery again now (also a dead one), with a fresh attempt budget."""
    delivery = await repository.lock_delivery(session, delivery_id)
    if delivery is None:
        raise NotFound("no such webhook delivery")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = datetime.now(UTC)
    await repository.flush(session)
    return delivery
