"""Standard Webhooks, chosen per endpoint: real deliveries verified by the
`standardwebhooks` reference library, beside endpoints that keep the PMS format."""

from __future__ import annotations

import base64
import json
import secrets

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.events.signing import verify_signature
from tests.realtime.conftest import record_event
from tests.realtime.test_webhooks import Receiver, deliver_all

REGISTER = """
mutation R($input: RegisterWebhookEndpointInput!) {
  registerWebhookEndpoint(input: $input) {
    __typename
    ... on RegisterWebhookEndpointSuccess { endpoint { id signatureFormat } }
    ... on ValidationError { field message }
  }
}
"""


@pytest.fixture
def fast_settings(settings):
    fast = {"webhook_backoff_base_seconds": 0.05, "webhook_max_attempts": 3,
            "webhook_timeout_seconds": 2}  # fmt: skip
    return settings.model_copy(update=fast)


async def register(gql, admin, url: str, secret: str, fmt: str | None) -> dict:
    variables = {"url": url, "eventTypes": ["player.*"], "secret": secret}
    if fmt is not None:
        variables["signatureFormat"] = fmt
    body = await gql(REGISTER, {"input": variables}, **admin)
    return body["data"]["registerWebhookEndpoint"]


async def test_standard_delivery_verifies_with_the_reference_library(gql, auth, db, fast_settings):
    admin = await auth.staff_headers("ADMIN")
    whsec = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    async with Receiver(failures=1) as standard, Receiver(failures=0) as legacy:
        created = await register(gql, admin, standard.url, whsec, "STANDARD")
        assert created["endpoint"]["signatureFormat"] == "STANDARD"
        plain = await register(gql, admin, legacy.url, "plain-secret-plain", None)
        assert plain["endpoint"]["signatureFormat"] == "PMS"  # the default is unchanged
        await record_event(db, "player.registered", "p1", {"playerId": "p1"})
        await deliver_all(db, fast_settings, rounds=20)

    assert len(standard.requests) == 2  # one failure, then the retry
    (first_headers, _), (headers, raw) = standard.requests
    payload = Webhook(whsec).verify(raw, headers)
    assert payload["type"] == "player.registered" and payload["data"] == {"playerId": "p1"}
    assert headers["webhook-id"] == payload["id"] == first_headers["webhook-id"]  # dedup key
    assert headers["webhook-signature"].startswith("v1,")
    assert "pms-signature" not in headers
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec).verify(raw.replace(b"p1", b"p2"), headers)  # tampered body
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(raw, headers)

    ((legacy_headers, legacy_raw),) = legacy.requests
    assert verify_signature("plain-secret-plain", legacy_raw, legacy_headers["pms-signature"])
    assert "webhook-signature" not in legacy_headers


async def test_plain_text_secret_signs_with_its_bytes(gql, auth, db, fast_settings):
    admin = await auth.staff_headers("ADMIN")
    secret = "not-base64-but-long-enough"
    async with Receiver(failures=0) as receiver:
        await register(gql, admin, receiver.url, secret, "STANDARD")
        await record_event(db, "player.status_changed", "p9", {"playerId": "p9"})
        await deliver_all(db, fast_settings, rounds=10)
    ((headers, raw),) = receiver.requests
    assert json.loads(raw) == Webhook(secret.encode()).verify(raw, headers)


async def test_bad_standard_secret_is_refused_and_nothing_is_stored(gql, auth, db):
    admin = await auth.staff_headers("ADMIN")
    short = "whsec_" + base64.b64encode(b"twelve-bytes").decode()  # 12 bytes < 16
    for secret in ("whsec_not*base64*at*all!!", short):
        result = await register(gql, admin, "http://127.0.0.1:9/hook", secret, "STANDARD")
        assert result["__typename"] == "ValidationError"
        assert result["field"] == "secret" and "whsec_" in result["message"]
    async with db.read_session() as session:
        count = (await session.execute(text("SELECT count(*) FROM webhook_endpoints"))).scalar()
    assert count == 0
