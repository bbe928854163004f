"""Webhook targets (issue 10 item 20): outside dev/test only globally routable addresses,
checked at registration and again at each delivery after resolving the name, and the
delivery connects to the address that was checked."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from app.events.delivery import WebhookDispatcher
from app.events.relay import CallableSink, Relay
from app.events.webhooks import queue_deliveries
from pms.asgi import create_app
from tests.auth import staff_principal, token_for
from tests.realtime.conftest import record_event
from tests.realtime.test_webhooks import REGISTER, SECRET, Receiver


@pytest.fixture
def prod_like(settings):
    return settings.model_copy(update={"webhook_allow_private_targets": False})


async def register(settings, db, url: str) -> dict:
    app = create_app(settings, database=db)
    token = await token_for(app, staff_principal("ADMIN"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post(
            "/graphql",
            json={"query": REGISTER,
                  "variables": {"input": {"url": url, "eventTypes": ["*"], "secret": SECRET}}},
            headers={"authorization": f"Bearer {token}"},
        )  # fmt: skip
    return response.json()["data"]["registerWebhookEndpoint"]


@pytest.mark.parametrize(
    "url",
    [
        "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
        "http://100.127.255.254/hook",
        "http://192.0.2.10/hook",  # documentation
        "http://198.18.0.1/hook",  # benchmarking
        "http://10.1.2.3/hook",
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://[fc00::1]/hook",
        "http://[2001:db8::1]/hook",  # IPv6 documentation
        "http://[::ffff:100.64.0.1]/hook",
        "http://localhost:9/hook",  # a name that resolves to loopback
    ],
)
async def test_registration_refuses_addresses_that_are_not_globally_routable(prod_like, db, url):
    result = await register(prod_like, db, url)
    assert result["__typename"] == "ValidationError"
    assert result["field"] == "url"
    async with db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM webhook_endpoints")) == 0


async def test_each_delivery_resolves_and_checks_the_target_again(settings, prod_like, db):
    async with Receiver(failures=0) as receiver:
        # registered while the name was acceptable (dev/test may target loopback) ...
        url = f"http://localhost:{receiver.port}/hook"
        assert (await register(settings, db, url))["__typename"] == (
            "RegisterWebhookEndpointSuccess"
        )
        await record_event(db, "player.registered", "p1", {})
        await Relay(db, [CallableSink("webhooks", queue_deliveries)]).run()
        # ... delivered by a replica where only global addresses are allowed
        dispatcher = WebhookDispatcher(db, prod_like)
        try:
            assert await dispatcher.run() == 1
        finally:
            await dispatcher.close()

    assert receiver.requests == []
    async with db.engine.connect() as conn:
        error = await conn.scalar(text("SELECT error FROM webhook_attempts"))
    assert error == "target refused: only globally routable addresses are allowed"


async def test_delivery_connects_to_the_checked_address_with_the_original_host(settings, db):
    async with Receiver(failures=0) as receiver:
        url = f"http://localhost:{receiver.port}/hook"
        assert (await register(settings, db, url))["__typename"] == (
            "RegisterWebhookEndpointSuccess"
        )
        await record_event(db, "player.registered", "p1", {})
        await Relay(db, [CallableSink("webhooks", queue_deliveries)]).run()
        dispatcher = WebhookDispatcher(db, settings)
        try:
            assert await dispatcher.run() == 1
        finally:
            await dispatcher.close()

    [(headers, body)] = receiver.requests
    assert headers["host"] == f"localhost:{receiver.port}"
    assert b"player.registered" in body
