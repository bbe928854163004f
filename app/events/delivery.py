"""Sending webhook deliveries: the dispatcher, a periodic task in every replica.

It leases due deliveries, sends them signed, records every attempt, retries with
exponential backoff and full jitter, and gives up (``DEAD``) after
``webhook_max_attempts``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.core import counters, metrics
from app.core.crypto import unseal
from app.core.db import Database
from app.core.settings import Settings
from app.events import repository
from app.events.models import DeliveryStatus, WebhookAttempt
from app.events.signing import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    SignatureFormat,
    sign,
    standard_headers,
)
from app.events.webhook_pinning import post_to
from app.events.webhook_targets import checked_target

log = logging.getLogger(__name__)


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """Exponential backoff with jitter: uniform(c/2, c), c = min(max, base * 2^(n-1))."""
    ceiling = min(
        settings.webhook_backoff_max_seconds,
        settings.webhook_backoff_base_seconds * 2 ** max(0, attempt - 1),
    )
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    signature_format: str = SignatureFormat.PMS.value


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
            rows = await repository.claim_due_deliveries(
                session, datetime.now(UTC), self.batch_size
            )
            if not rows:
                return []
            ids = [d.id or 0 for d, _, _, _ in rows]
            await repository.postpone_deliveries(session, ids, datetime.now(UTC) + lease)
        return [
            _Claim(
                d.id or 0,
                url,
                unseal(secret, self.settings).decode(),
                str(d.event_id),
                d.event_type,
                d.payload,
                d.attempts,
                fmt,
            )
            for d, url, secret, fmt in rows
        ]

    async def _send(self, claim: _Claim) -> _Outcome:
        body = json.dumps(claim.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PMS-Webhooks/1",
            EVENT_TYPE_HEADER: claim.event_type,
            DELIVERY_ID_HEADER: str(claim.delivery_id),
        }
        now = int(time.time())
        if claim.signature_format == SignatureFormat.STANDARD:
            headers |= standard_headers(claim.secret, claim.event_id, now, body)
        else:
            headers |= {
                SIGNATURE_HEADER: sign(claim.secret, body, now),
                EVENT_ID_HEADER: claim.event_id,
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
            await repository.insert_attempts(
                session,
                (
                    WebhookAttempt(
                        delivery_id=claim.delivery_id,
                        succeeded=outcome.succeeded,
                        response_code=outcome.response_code,
                        latency_ms=outcome.latency_ms,
                        error=outcome.error,
                    )
                    for claim, outcome in results
                ),
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
                values["attempts"] = attempts
                await repository.update_delivery(session, claim.delivery_id, values)
        _observe(results, self.settings.webhook_max_attempts)


def _observe(results: list[tuple[_Claim, _Outcome]], max_attempts: int) -> None:
    """After the attempts are recorded (committed): deliveries by outcome and latency.
    ``retry``: failed, will be tried again; ``dead``: failed for the last time."""
    for claim, outcome in results:
        if outcome.succeeded:
            kind = "succeeded"
        elif claim.attempts + 1 >= max_attempts:
            kind = "dead"
        else:
            kind = "retry"
        metrics.WEBHOOK_DELIVERIES.labels(kind).inc()
        if kind != "retry":  # the alert rules' dead-letter rate: dead / finished
            counters.bump("webhook.finished")
            if kind == "dead":
                counters.bump("webhook.dead")
        if outcome.latency_ms:
            metrics.WEBHOOK_LATENCY.observe(outcome.latency_ms / 1000)
