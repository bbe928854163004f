"""Player sign-in, sessions and brute-force protection through the real HTTP app."""

from __future__ import annotations

import time

import pytest

from tests.auth import player_principal
from tests.factories import create_player
from tests.identity_helpers import LOGIN, ME, PASSWORD, audit_rows, bearer

REFRESH = """
mutation R($t: String!) { refreshTokens(refreshToken: $t) {
  __typename ... on AuthTokens { accessToken refreshToken } ... on InvalidCredentials { code } } }
"""
LOGOUT = "mutation { logout { __typename } }"
LOGOUT_ALL = "mutation { logoutEverywhere { __typename } }"


@pytest.fixture
async def player(db, settings):
    return await create_player(db, settings, login="HighRoller", email="high@example.com")


async def _login(gql, identifier="HighRoller", password=PASSWORD):
    return (await gql(LOGIN, {"id": identifier, "pw": password}))["data"]["login"]


@pytest.mark.parametrize("identifier", ["HighRoller", "highroller", "HIGH@example.com"])
async def test_login_returns_tokens_that_identify_the_player(gql, db, player, identifier):
    result = await _login(gql, identifier)

    assert result["__typename"] == "AuthTokens"
    assert result["expiresIn"] == 900 and result["tokenType"] == "Bearer"
    me = (await gql(ME, **bearer(result["accessToken"])))["data"]["me"]
    assert me == {"__typename": "Player", "id": str(player.id), "login": "HighRoller",
                  "email": "high@example.com"}  # fmt: skip
    (entry,) = await audit_rows(db, "auth.login")
    assert (entry.outcome, entry.target) == ("success", f"player:{player.id}")
    assert entry.request_id and entry.ip


async def test_wrong_password_and_unknown_account_look_the_same(gql, db, player):
    wrong = await _login(gql, "HighRoller", "not the password at all")
    unknown = await _login(gql, "nobody-here", "not the password at all")

    expected = {"__typename": "InvalidCredentials", "code": "INVALID_CREDENTIALS",
                "message": "sign-in failed"}  # fmt: skip
    assert wrong == unknown == expected
    assert [e.outcome for e in await audit_rows(db, "auth.login")] == ["failure", "failure"]


async def test_unknown_account_costs_a_password_verification_too(gql, db, player, settings):
    from app.identity import login as login_service

    calls = []
    original = login_service.verify_password

    async def spy(stored, password, s):
        calls.append(stored)
        return await original(stored, password, s)

    login_service.verify_password = spy
    try:
        await _login(gql, "nobody-here", "whatever password")
    finally:
        login_service.verify_password = original
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


async def test_account_locks_after_repeated_failures_known_or_not(gql, db, player, settings):
    for _ in range(settings.login_max_failures_per_account):
        await _login(gql, "HighRoller", "wrong password!!")
        await _login(gql, "ghost-account", "wrong password!!")

    locked = await _login(gql, "HighRoller", PASSWORD)  # even the right password
    ghost = await _login(gql, "ghost-account", PASSWORD)

    assert locked["__typename"] == ghost["__typename"] == "TooManyAttempts"
    assert locked["code"] == ghost["code"] == "TOO_MANY_ATTEMPTS"
    assert 0 < locked["retryAfterSeconds"] <= settings.login_lockout_seconds
    assert (await audit_rows(db, "auth.login"))[-1].outcome == "denied"


async def test_aliased_logins_in_one_document_are_refused_whole(gql, db, player, settings):
    """One password operation per document (issue 10 item 11): eight aliased guesses are
    refused before any runs, so they neither guess nor count against the throttle."""
    aliases = " ".join(
        f'a{i}: login(loginOrEmail: "HighRoller", password: "wrong password {i}") {{ __typename }}'
        for i in range(8)
    )
    body = await gql(f"mutation {{ {aliases} }}")

    assert body.get("data") is None
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_PASSWORD_OPERATIONS"
    assert (await _login(gql))["__typename"] == "AuthTokens"


async def test_ip_throttle_stops_spraying_across_accounts(gql, db, settings):
    settings_limit = settings.login_max_failures_per_ip
    original = settings.login_max_failures_per_ip
    object.__setattr__(settings, "login_max_failures_per_ip", 3)
    try:
        for i in range(3):
            await _login(gql, f"victim{i}", "wrong password!!")
        result = await _login(gql, "victim-next", "wrong password!!")
    finally:
        object.__setattr__(settings, "login_max_failures_per_ip", original)
    assert settings_limit == original
    assert result["__typename"] == "TooManyAttempts"


async def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_family(gql, db, player):
    first = await _login(gql)

    rotated = (await gql(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshTokens"]
    assert rotated["__typename"] == "AuthTokens"
    assert rotated["refreshToken"] != first["refreshToken"]

    replay = (await gql(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshTokens"]
    assert replay == {"__typename": "InvalidCredentials", "code": "INVALID_REFRESH_TOKEN"}
    # The thief's replay ended the whole family: the legitimate newest token is dead too,
    after_theft = (await gql(REFRESH, {"t": rotated["refreshToken"]}))["data"]["refreshTokens"]
    assert after_theft["__typename"] == "InvalidCredentials"
    # and so is the access token of that session.
    response = await gql.http.post(
        "/graphql", json={"query": ME}, headers=bearer(rotated["accessToken"])
    )
    assert response.status_code == 401
    outcomes = [e.outcome for e in await audit_rows(db, "auth.refresh")]
    assert outcomes == ["success", "failure", "failure"]


async def test_unknown_refresh_token_is_refused(gql, db):
    result = (await gql(REFRESH, {"t": "rt_made_up"}))["data"]["refreshTokens"]
    assert result["code"] == "INVALID_REFRESH_TOKEN"


async def test_logout_ends_this_session_only(gql, db, player):
    one = await _login(gql)
    two = await _login(gql)

    assert (await gql(LOGOUT, **bearer(one["accessToken"])))["data"]["logout"] == {
        "__typename": "Done"
    }

    gone = await gql.http.post("/graphql", json={"query": ME}, headers=bearer(one["accessToken"]))
    assert gone.status_code == 401
    assert (await gql(REFRESH, {"t": one["refreshToken"]}))["data"]["refreshTokens"][
        "__typename"
    ] == "InvalidCredentials"
    assert (await gql(ME, **bearer(two["accessToken"])))["data"]["me"]["id"] == str(player.id)


async def test_logout_everywhere_ends_every_session(gql, db, player):
    one = await _login(gql)
    two = await _login(gql)

    await gql(LOGOUT_ALL, **bearer(one["accessToken"]))

    for pair in (one, two):
        r = await gql.http.post("/graphql", json={"query": ME}, headers=bearer(pair["accessToken"]))
        assert r.status_code == 401
        refreshed = (await gql(REFRESH, {"t": pair["refreshToken"]}))["data"]["refreshTokens"]
        assert refreshed["__typename"] == "InvalidCredentials"
    # A fresh login still works.
    assert (await _login(gql))["__typename"] == "AuthTokens"
    assert [e.action for e in await audit_rows(db, "auth.logout_everywhere")]


async def test_logout_without_a_token_is_forbidden_and_audited(gql, db):
    result = (await gql("mutation { logout { __typename ... on Forbidden { code } } }"))["data"]
    assert result["logout"] == {"__typename": "Forbidden", "code": "FORBIDDEN"}
    (entry,) = await audit_rows(db, "graphql.logout")
    assert (entry.outcome, entry.actor) == ("denied", "anonymous")


@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer a.b.c", "Basic dXNlcjpwdw==", "Bearer "],
)
async def test_bad_bearer_tokens_get_401(client, db, header):
    response = await client.post("/graphql", json={"query": ME}, headers={"authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"


async def test_expired_token_gets_401_token_expired(client, db, auth, player):
    token = await auth.token(player_principal(player), now=int(time.time()) - 3600)
    response = await client.post("/graphql", json={"query": ME}, headers=bearer(token))

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
