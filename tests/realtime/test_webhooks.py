"""Webhooks: registration through GraphQL, signed deliveries to a real HTTP receiver,
retries with backoff, dead-lettering, attempts listed, manual redelivery."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.events.delivery import WebhookDispatcher
from app.events.relay import CallableSink, Relay
from app.events.signing import sign, verify_signature
from app.events.webhook_targets import url_problem
from app.events.webhooks import queue_deliveries
from tests.realtime.conftest import free_port, record_event

SECRET = "s3cret-s3cret-s3cret"
REGISTER = """
mutation R($input: RegisterWebhookEndpointInput!) {
  registerWebhookEndpoint(input: $input) {
    __typename
    ... on RegisterWebhookEndpointSuccess { endpoint { id url eventTypes } }
    ... on ValidationError { field message }
  }
}
"""
DELIVERIES = """
query { webhookDeliveries { id status attemptCount eventType
  attempts { succeeded responseCode latencyMs error } } }
"""
REDELIVER = """
mutation D($id: ID!) { redeliverWebhook(deliveryId: $id) {
  __typename ... on RedeliverWebhookSuccess { delivery { status } } } }
"""


class Receiver:
    """A real HTTP receiver that answers 500 to the first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()

        async def hook(request: Request) -> Response:
            self.requests.append((dict(request.headers), await request.body()))
            if len(self.requests) <= self.failures:
                return Response("nope", 500)
            return Response("ok")

        app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> Receiver:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(500):
            if self.server.started:
                break
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task


@pytest.fixture
def fast_settings(settings):
    return settings.model_copy(
        update={
            "webhook_backoff_base_seconds": 0.05,
            "webhook_max_attempts": 3,
            "webhook_timeout_seconds": 2,
        }
    )


async def deliver_all(db, fast_settings, rounds: int = 60) -> None:
    relay = Relay(db, [CallableSink("webhooks", queue_deliveries)])
    dispatcher = WebhookDispatcher(db, fast_settings)
    try:
        for _ in range(rounds):
            await relay.run()
            await dispatcher.run()
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.close()


async def test_signed_delivery_is_retried_until_it_succeeds(gql, auth, db, fast_settings):
    admin = await auth.staff_headers("ADMIN")
    async with Receiver(failures=2) as receiver:
        body = await gql(REGISTER, {"input": {"url": receiver.url, "eventTypes": ["player.*"],
                                              "secret": SECRET}}, **admin)  # fmt: skip
        assert (
            body["data"]["registerWebhookEndpoint"]["__typename"]
            == "RegisterWebhookEndpointSuccess"
        )
        await record_event(db, "player.registered", "p1", {"playerId": "p1"})
        await record_event(db, "wallet.balance_changed", "p1", {"n": 1})  # not subscribed
        await deliver_all(db, fast_settings, rounds=20)

    assert len(receiver.requests) == 3
    headers, raw = receiver.requests[-1]
    assert verify_signature(SECRET, raw, headers["pms-signature"])
    assert not verify_signature("wrong-secret-wrong", raw, headers["pms-signature"])
    assert json.loads(raw)["type"] == "player.registered"
    assert len({h["pms-event-id"] for h, _ in receiver.requests}) == 1  # same id every try
    async with db.read_session() as session:
        stored = (await session.execute(text("SELECT secret FROM webhook_endpoints"))).scalar()
    assert SECRET not in stored  # sealed at rest, yet the deliveries above were signed with it

    deliveries = (await gql(DELIVERIES, **admin))["data"]["webhookDeliveries"]
    assert len(deliveries) == 1
    d = deliveries[0]
    assert (d["status"], d["attemptCount"]) == ("SUCCEEDED", 3)
    assert [a["responseCode"] for a in d["attempts"]] == [500, 500, 200]
    assert [a["succeeded"] for a in d["attempts"]] == [False, False, True]


async def test_dead_letter_then_manual_redelivery(gql, auth, db, fast_settings):
    admin = await auth.staff_headers("ADMIN")
    async with Receiver(failures=3) as receiver:
        await gql(
            REGISTER,
            {"input": {"url": receiver.url, "eventTypes": ["*"], "secret": SECRET}},
            **admin,
        )
        await record_event(db, "kyc.status_changed", "p1", {"playerId": "p1"})
        await deliver_all(db, fast_settings, rounds=20)
        deliveries = (await gql(DELIVERIES, **admin))["data"]["webhookDeliveries"]
        assert (deliveries[0]["status"], deliveries[0]["attemptCount"]) == ("DEAD", 3)

        again = await gql(REDELIVER, {"id": deliveries[0]["id"]}, **admin)
        assert again["data"]["redeliverWebhook"]["delivery"]["status"] == "PENDING"
        await deliver_all(db, fast_settings, rounds=5)
    deliveries = (await gql(DELIVERIES, **admin))["data"]["webhookDeliveries"]
    assert deliveries[0]["status"] == "SUCCEEDED"
    assert len(deliveries[0]["attempts"]) == 4


async def test_unreachable_receiver_is_recorded_and_dead_lettered(gql, auth, db, fast_settings):
    admin = await auth.staff_headers("ADMIN")
    url = f"http://127.0.0.1:{free_port()}/nothing-listens"
    await gql(REGISTER, {"input": {"url": url, "eventTypes": ["*"], "secret": SECRET}}, **admin)
    await record_event(db, "player.registered", "p1", {})
    await deliver_all(db, fast_settings, rounds=20)
    d = (await gql(DELIVERIES, **admin))["data"]["webhookDeliveries"][0]
    assert d["status"] == "DEAD"
    assert all(a["responseCode"] is None and "ConnectError" in a["error"] for a in d["attempts"])


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data",
     "http://[fd00:ec2::254]/", "http://metadata.google.internal/", "http://[fe80::1]/",
     "javascript:alert(1)", "http://user:pw@example.com/"],
)  # fmt: skip
async def test_bad_webhook_urls_are_rejected(gql, auth, db, url):
    admin = await auth.staff_headers("ADMIN")
    body = await gql(
        REGISTER, {"input": {"url": url, "eventTypes": ["*"], "secret": SECRET}}, **admin
    )
    result = body["data"]["registerWebhookEndpoint"]
    assert result["__typename"] == "ValidationError" and result["field"] == "url"


def test_private_targets_are_refused_outside_dev_and_test():
    assert url_problem("http://127.0.0.1:9000/x", allow_private=True) is None
    assert url_problem("http://127.0.0.1:9000/x", allow_private=False)
    assert url_problem("http://10.0.0.5/x", allow_private=False)


async def test_only_staff_admins_manage_webhooks(gql, auth, db):
    body = await gql(DELIVERIES, **await auth.staff_headers("SUPPORT"))
    assert body["errors"][0]["message"] == "Forbidden"
    body = await gql(DELIVERIES)
    assert body["errors"][0]["message"] == "Forbidden"


def test_verify_signature_rejects_stale_and_tampered():
    body = b'{"a":1}'
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert verify_signature(SECRET, body, header, now=now + 10)
    assert not verify_signature(SECRET, body, header, now=now + 3600)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature(SECRET, body, "garbage")
