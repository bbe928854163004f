"""POST /oauth/token (Authlib server): client_credentials with scopes, refresh_token."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.identity.models import OAuthClient
from tests.factories import create_player
from tests.identity_helpers import LOGIN, ME, PASSWORD, audit_rows, bearer, create_client

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def test_client_credentials_issue_a_scoped_service_token(client, gql, db, settings):
    row, secret = await create_client(db, settings, "wallet:operate", "player:read")

    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(row.client_id, secret)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "player:read wallet:operate"
    assert "refresh_token" not in body
    me = (await gql(ME, **bearer(body["access_token"])))["data"]["me"]
    assert me == {"__typename": "ServiceClient", "clientId": row.client_id,
                  "scopes": ["player:read", "wallet:operate"]}  # fmt: skip
    (entry,) = await audit_rows(db, "oauth.token")
    assert (entry.actor, entry.outcome) == (f"service:{row.client_id}", "success")


async def test_client_may_ask_for_fewer_scopes_but_not_more(client, db, settings):
    row, secret = await create_client(db, settings, "wallet:operate", "player:read")

    narrower = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "wallet:operate",
              "client_id": row.client_id, "client_secret": secret},
    )  # fmt: skip
    wider = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "wallet:operate wallet:adjust"},
        auth=(row.client_id, secret),
    )

    assert narrower.json()["scope"] == "wallet:operate"
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("which", ["secret", "client"])
async def test_wrong_client_credentials_are_refused_and_audited(client, db, settings, which):
    row, secret = await create_client(db, settings, "player:read")
    auth = (row.client_id, "wrong-secret") if which == "secret" else ("svc_nope", secret)

    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=auth)  # fmt: skip

    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    assert [e.outcome for e in await audit_rows(db, "oauth.token")] == ["failure"]


async def test_client_secret_is_stored_hashed(db, settings):
    _row, secret = await create_client(db, settings, "player:read")
    async with db.read_session() as session:
        stored = (await session.execute(select(OAuthClient.secret_hash))).scalar_one()
    assert stored.startswith("$argon2id$") and secret not in stored


async def test_unsupported_grant_and_wrong_content_type(client, db):
    password = await client.post("/oauth/token", data={"grant_type": "password"})
    as_json = await client.post("/oauth/token", json={"grant_type": "client_credentials"})

    assert password.json()["error"] == "unsupported_grant_type"
    assert as_json.status_code == 400


async def test_refresh_token_grant_rotates_and_detects_reuse(client, gql, db, settings):
    await create_player(db, settings, login="oauth-user")
    tokens = (await gql(LOGIN, {"id": "oauth-user", "pw": PASSWORD}))["data"]["login"]

    def form(token):
        return {"grant_type": "refresh_token", "refresh_token": token, "client_id": "pms-app"}

    first = await client.post("/oauth/token", data=form(tokens["refreshToken"]))
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refreshToken"]
    assert (await gql(ME, **bearer(rotated["access_token"])))["data"]["me"]["__typename"] == (
        "Player"
    )

    replay = await client.post("/oauth/token", data=form(tokens["refreshToken"]))
    after = await client.post("/oauth/token", data=form(rotated["refresh_token"]))

    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert after.json()["error"] == "invalid_grant"  # the family is revoked
    reasons = [e.details.get("reason") for e in await audit_rows(db, "oauth.token")]
    assert "the refresh token was already used; the session is revoked" in reasons


async def test_service_client_cannot_use_refresh_grant(client, db, settings):
    row, secret = await create_client(db, settings, "player:read")
    response = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(row.client_id, secret),
    )  # fmt: skip
    assert response.status_code in (400, 401)
