"""Webhooks: endpoints registered by staff receive signed copies of domain events.

The relay queues one ``webhook_deliveries`` row per (endpoint, event) in its own
transaction; the dispatcher (a periodic task in every replica) sends due deliveries,
records every attempt, retries with exponential backoff and full jitter, and gives up
(``DEAD``) after ``webhook_max_attempts``. Staff can queue a delivery again by hand.

Signature: ``PMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>``;
receivers check it with ``verify_signature`` below and de-duplicate on ``PMS-Event-Id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import seal, unseal
from app.core.db import Database
from app.core.errors import FieldProblem, NotFound, ValidationFailed
from app.core.settings import Settings
from app.events.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.events.webhook_targets import (
    CheckedTarget,
    not_global_problem,
    pinned,
    post_to,
    resolve_addresses,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "PMS-Signature"
EVENT_ID_HEADER = "PMS-Event-Id"
EVENT_TYPE_HEADER = "PMS-Event-Type"
DELIVERY_ID_HEADER = "PMS-Delivery-Id"
DEFAULT_TOLERANCE_SECONDS = 300

# Cloud metadata services and other addresses a webhook must never reach (SSRF).
_ALWAYS_BLOCKED = [
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, AWS/GCP/Azure metadata
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("224.0.0.0/4"),  # multicast
    ipaddress.ip_network("ff00::/8"),
]
_EVENT_TYPE = re.compile(r"^(\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?)$")
_BLOCKED_NAMES = {"metadata.google.internal", "metadata", "instance-data"}


# --- signatures ----------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Receiver side: is ``header`` (the PMS-Signature value) a fresh signature of ``body``?

    Use the raw request body bytes, before any JSON parsing. Rejects timestamps more than
    ``tolerance`` seconds away from now (replays); compares in constant time.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, c) for c in candidates)


# --- target checks (SSRF) --------------------------------------------------------------


def _address_problem(address: str, allow_private: bool) -> str | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _ALWAYS_BLOCKED):
        return "link-local and metadata addresses are not allowed"
    if not allow_private:
        return not_global_problem(str(ip))
    return None


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why ``url`` is not an acceptable webhook target (syntax and literal addresses)."""
    if len(url) > 2048:
        return "URL longer than 2048 characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs are allowed"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed"
    if host in _BLOCKED_NAMES:
        return "metadata hosts are not allowed"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked when resolved
    return _address_problem(host, allow_private)


async def resolved_problem(url: str, allow_private: bool) -> str | None:
    """``url_problem`` plus the addresses its host resolves to (DNS can point anywhere)."""
    return (await checked_target(url, allow_private))[0]


async def checked_target(url: str, allow_private: bool) -> tuple[str | None, CheckedTarget | None]:
    """(why ``url`` is refused, or the target pinned to an address that passed the check)."""
    problem = url_problem(url, allow_private)
    if problem:
        return problem, None
    parts = urlsplit(url)
    try:
        addresses = await resolve_addresses(
            parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        )
    except OSError:
        return "the host does not resolve", None
    for address in addresses:
        problem = _address_problem(address, allow_private)
        if problem:
            return problem, None
    return None, pinned(url, addresses[0])


# --- endpoints and deliveries (services: take a session, never commit) -----------------


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
    session.add(endpoint)
    await session.flush()
    return endpoint


def type_matches(pattern: str, event_type: str) -> bool:
    """``*`` matches every type; ``player.*`` every type starting ``player.``."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


async def queue_deliveries(session: AsyncSession, envelopes: list[dict[str, Any]]) -> None:
    """Relay sink: one pending delivery per matching active endpoint and event."""
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(WebhookEndpoint.active)
        )
    ).all()
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
        stmt = (
            insert(WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
        )
        await session.execute(stmt)


async def redeliver(session: AsyncSession, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery again now (also a dead one), with a fresh attempt budget."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound("no such webhook delivery")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = datetime.now(UTC)
    await session.flush()
    return delivery


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """Exponential backoff with jitter: uniform(c/2, c), c = min(max, base * 2^(n-1))."""
    ceiling = min(
        settings.webhook_backoff_max_seconds,
        settings.webhook_backoff_base_seconds * 2 ** max(0, attempt - 1),
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


# --- the dispatcher ------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class _Outcome:
    succeeded: bool
    response_code: int | None
    latency_ms: int
    error: str | None


class WebhookDispatcher:
    def __init__(self, db: Database, settings: Settings, batch_size: int = 50) -> None:
        self.db = db
        self.settings = settings
        self.batch_size = batch_size
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def run(self) -> int:
        """Send every due delivery; the number of attempts made."""
        total = 0
        while True:
            claims = await self._claim()
            if not claims:
                return total
            outcomes = await asyncio.gather(*(self._send(c) for c in claims))
            await self._record(list(zip(claims, outcomes, strict=True)))
            total += len(claims)
            if len(claims) < self.batch_size:
                return total

    async def _claim(self) -> list[_Claim]:
        """Lease due deliveries: push next_attempt_at past the send timeout, so a replica
        that dies mid-send leaves them to be retried by another."""
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds * 2 + 5)
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        WebhookDelivery.status == DeliveryStatus.PENDING,
                        WebhookDelivery.next_attempt_at <= datetime.now(UTC),
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(self.batch_size)
                    .with_for_update(of=WebhookDelivery, skip_locked=True)
                )
            ).all()
            if not rows:
                return []
            ids = [d.id for d, _, _ in rows]
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids))
                .values(next_attempt_at=datetime.now(UTC) + lease)
            )
        return [
            _Claim(
                d.id or 0,
                url,
                unseal(secret, self.settings).decode(),
                str(d.event_id),
                d.event_type,
                d.payload,
                d.attempts,
            )
            for d, url, secret in rows
        ]

    async def _send(self, claim: _Claim) -> _Outcome:
        body = json.dumps(claim.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PMS-Webhooks/1",
            SIGNATURE_HEADER: sign(claim.secret, body, int(time.time())),
            EVENT_ID_HEADER: claim.event_id,
            EVENT_TYPE_HEADER: claim.event_type,
            DELIVERY_ID_HEADER: str(claim.delivery_id),
        }
        started = time.perf_counter()
        problem, target = await checked_target(claim.url, self.settings.webhooks_may_target_private)
        if problem or target is None:
            return _Outcome(False, None, 0, f"target refused: {problem}")
        try:
            response = await post_to(self._client, target, body, headers)
        except httpx.HTTPError as exc:
            latency = int((time.perf_counter() - started) * 1000)
            return _Outcome(False, None, latency, f"{type(exc).__name__}: {exc}"[:512])
        latency = int((time.perf_counter() - started) * 1000)
        ok = 200 <= response.status_code < 300
        return _Outcome(ok, response.status_code, latency, None if ok else "non-2xx response")

    async def _record(self, results: list[tuple[_Claim, _Outcome]]) -> None:
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            session.add_all(
                WebhookAttempt(
                    delivery_id=claim.delivery_id,
                    succeeded=outcome.succeeded,
                    response_code=outcome.response_code,
                    latency_ms=outcome.latency_ms,
                    error=outcome.error,
                )
                for claim, outcome in results
            )
            for claim, outcome in results:
                attempts = claim.attempts + 1
                if outcome.succeeded:
                    values: dict[str, Any] = {"status": DeliveryStatus.SUCCEEDED}
                elif attempts >= self.settings.webhook_max_attempts:
                    values = {"status": DeliveryStatus.DEAD}
                    log.warning(
                        "webhook delivery %s dead-lettered after %s attempts",
                        claim.delivery_id,
                        attempts,
                    )
                else:
                    delay = backoff_seconds(attempts, self.settings)
                    values = {"next_attempt_at": now + timedelta(seconds=delay)}
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == claim.delivery_id)
                    .values(attempts=attempts, **values)
                )
