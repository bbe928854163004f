"""Issue 10 item 7: a status change ends every session of the account at once; refresh
re-checks the account; subscriptions of an ended session are closed promptly."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import text

from app.identity import sessions
from tests.auth import staff_principal
from tests.factories import create_player
from tests.identity_helpers import LOGIN, PASSWORD, bearer
from tests.realtime.conftest import WsClient, realtime_settings, start_server, stop_server

SET_STATUS = """mutation($id: ID!, $s: PlayerStatus!, $r: String!) {
  setPlayerStatus(playerId: $id, status: $s, reason: $r) {
    __typename ... on SetPlayerStatusSuccess { player { status } } ... on UserError { code } } }"""
UPDATE = """mutation($id: ID!, $i: UpdateProfileInput!) {
  updatePlayerProfile(playerId: $id, input: $i) {
  __typename ... on UpdatePlayerSuccess { changedFields } } }"""
REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) { __typename
  ... on AuthTokens { accessToken } ... on InvalidCredentials { code message } } }"""
LOGOUT = "mutation { logout { __typename } }"
BALANCE = "subscription($id: ID!) { balanceChanged(playerId: $id) { playerId } }"


async def _signed_in(gql, login: str) -> dict[str, str]:
    tokens = (await gql(LOGIN, {"id": login, "pw": PASSWORD}))["data"]["login"]
    assert tokens["__typename"] == "AuthTokens", tokens
    return tokens


async def _post(client: httpx.AsyncClient, query: str, variables: dict, token: str):
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(token)
    )


@pytest.mark.parametrize("status", ["BLOCKED", "CLOSED", "SELF_EXCLUDED"])
async def test_a_status_change_ends_every_session_at_once(gql, client, db, settings, auth, status):
    player = await create_player(db, settings, login="ends-sessions")
    first, second = await _signed_in(gql, "ends-sessions"), await _signed_in(gql, "ends-sessions")
    edit = {"id": str(player.id), "i": {"firstName": "Jana"}}
    before = await _post(client, UPDATE, edit, first["accessToken"])
    assert before.json()["data"]["updatePlayerProfile"]["changedFields"] == ["firstName"]

    support = await auth.headers(staff_principal("SUPPORT", "s-ends"))
    args = {"id": str(player.id), "s": status, "r": "chargeback fraud suspected"}
    changed = (await gql(SET_STATUS, args, **support))["data"]["setPlayerStatus"]
    assert changed == {"__typename": "SetPlayerStatusSuccess", "player": {"status": status}}

    for tokens in (first, second):
        write = await _post(
            client, UPDATE, {**edit, "i": {"firstName": "Eve"}}, tokens["accessToken"]
        )
        read = await _post(client, "{ me { __typename } }", {}, tokens["accessToken"])
        assert (write.status_code, read.status_code) == (401, 401)
        assert write.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
        refreshed = (await gql(REFRESH, {"t": tokens["refreshToken"]}))["data"]["refreshTokens"]
        assert refreshed["__typename"] == "InvalidCredentials"
    async with db.read_session() as session:
        name = await session.scalar(
            text("SELECT first_name FROM player_profiles WHERE player_id = :p"), {"p": player.id}
        )
    assert name == "Jana"


async def test_refresh_rechecks_the_account_whatever_changed_it(gql, db, settings):
    """Status written by another path (no session ending at all) or a deleted account:
    the refresh token is refused and its family revoked."""
    blocked = await create_player(db, settings, login="blocked-elsewhere")
    deleted = await create_player(db, settings, login="deleted-later")
    tokens_b = await _signed_in(gql, "blocked-elsewhere")
    tokens_d = await _signed_in(gql, "deleted-later")
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE players SET status = 'BLOCKED' WHERE id = :p"), {"p": blocked.id}
        )
        await session.execute(text("DELETE FROM wallets WHERE player_id = :p"), {"p": deleted.id})
        await session.execute(text("DELETE FROM players WHERE id = :p"), {"p": deleted.id})

    for tokens in (tokens_b, tokens_d):
        refused = (await gql(REFRESH, {"t": tokens["refreshToken"]}))["data"]["refreshTokens"]
        assert refused == {
            "__typename": "InvalidCredentials",
            "code": "INVALID_REFRESH_TOKEN",
            "message": "the account can no longer sign in",
        }


async def test_an_active_players_refresh_still_rotates(gql, db, settings):
    await create_player(db, settings, login="still-active")
    tokens = await _signed_in(gql, "still-active")
    rotated = (await gql(REFRESH, {"t": tokens["refreshToken"]}))["data"]["refreshTokens"]
    assert rotated["__typename"] == "AuthTokens"


@pytest.fixture
async def live_no_redis(settings, db):
    server, task, live = await start_server(
        realtime_settings(settings, ws_session_check_seconds=0.2), db
    )
    yield live
    await stop_server(server, task)


async def _subscribed(live, token: str, player_id: str) -> WsClient:
    ws = await WsClient.open(live.ws_url)
    assert (await ws.init(token))["type"] == "connection_ack"
    await ws.subscribe("1", BALANCE, {"id": player_id})
    return ws


async def test_logout_closes_the_sessions_subscriptions_promptly(live_no_redis, db, settings):
    await create_player(db, settings, login="ws-logout")
    async with httpx.AsyncClient(base_url=live_no_redis.url) as http:
        variables = {"id": "ws-logout", "pw": PASSWORD}
        login = await http.post("/graphql", json={"query": LOGIN, "variables": variables})
        tokens = login.json()["data"]["login"]
        claims = await live_no_redis.app.state.pms.identity.verified_tokens.verify(
            tokens["accessToken"], live_no_redis.app.state.pms.identity.keyring, settings
        )
        ws = await _subscribed(live_no_redis, tokens["accessToken"], claims.principal.id)
        started = time.monotonic()
        out = await http.post(
            "/graphql", json={"query": LOGOUT}, headers=bearer(tokens["accessToken"])
        )
        assert out.json()["data"]["logout"]["__typename"] == "Done"
        assert await ws.closed_with(wait=5) == 4401
    # Not at the token's expiry (15 minutes): within a few check intervals.
    assert time.monotonic() - started < 5


async def test_a_status_change_closes_open_subscriptions(live_no_redis, db, settings):
    player = await create_player(db, settings, login="ws-blocked")
    identity = live_no_redis.app.state.pms.identity
    async with httpx.AsyncClient(base_url=live_no_redis.url) as http:
        variables = {"id": "ws-blocked", "pw": PASSWORD}
        login = await http.post("/graphql", json={"query": LOGIN, "variables": variables})
        ws = await _subscribed(live_no_redis, login.json()["data"]["login"]["accessToken"],
                               str(player.id))  # fmt: skip
        other = await WsClient.open(live_no_redis.ws_url)
        staff_token = await sessions.start_session(
            identity, staff_principal("SUPPORT", "s-ws"), ("pwd",)
        )
        assert (await other.init(staff_token.access_token))["type"] == "connection_ack"
        args = {"id": str(player.id), "s": "BLOCKED", "r": "chargeback fraud suspected"}
        changed = await http.post("/graphql", json={"query": SET_STATUS, "variables": args},
                                  headers=bearer(staff_token.access_token))  # fmt: skip
        assert changed.json()["data"]["setPlayerStatus"]["player"] == {"status": "BLOCKED"}
        assert await ws.closed_with(wait=5) == 4401
        # The staff member's socket is not touched.
        assert await other.closed_with(wait=0.6) is None
        await other.close()
