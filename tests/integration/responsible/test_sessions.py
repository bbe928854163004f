"""Sign-in sessions as play sessions, through the real ASGI app with real sign-ins: the
access token carries the gambling restriction of a break or self-exclusion (the account
pages still work, gambling operations are refused up front); the session time limit and
the reality check count from the sign-in; a sign-in within the break continues the
session, one after the break starts a new one."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from app.identity.tokens import verify_access_token
from tests.auth import staff_principal
from tests.integration.wallets.conftest import GAME_ENGINE, WalletGQL, new_key, scalar

PASSWORD = "correct horse battery staple"
LOGIN = """mutation($l: String!, $p: String!) { login(loginOrEmail: $l, password: $p) {
  __typename ... on AuthTokens { accessToken refreshToken } } }"""
REFRESH = """mutation($r: String!) { refreshTokens(refreshToken: $r) {
  __typename ... on AuthTokens { accessToken refreshToken } } }"""
LOGOUT = "mutation { logout { __typename } }"
BREAK = """mutation($p: ID!) { takeBreak(playerId: $p, hours: 24) {
  __typename ... on PlayerExclusion { kind } } }"""
LIFT = """mutation($p: ID!) { liftExclusion(playerId: $p, reason: "entered in error") {
  __typename } }"""
CONFIRM = """mutation($id: ID!) { confirmGamblingLimit(id: $id) { __typename
  ... on GamblingRestricted { code restriction } ... on UserError { code } } }"""
REMOVE = """mutation($p: ID!) { removeGamblingLimit(playerId: $p, kind: DEPOSIT, period: DAY) {
  __typename ... on GamblingRestricted { code restriction } ... on UserError { code } } }"""
SET = """mutation($p: ID!, $k: GamblingLimitKind!, $a: String!) {
  setGamblingLimit(playerId: $p, kind: $k, period: DAY, amount: $a) {
  __typename ... on GamblingLimit { id } } }"""
ACCOUNT = """query($id: ID!) { player(id: $id) { status
  wallets { kind balance { amount } } exclusions { kind } } }"""
REALITY = """query($id: ID!) { player(id: $id) { realityCheck {
  sessionStartedAt minutesPlayed netResult { amount currency } nextCheckAt } } }"""
BET = """mutation($i: ReserveBetInput!) { reserveBet(input: $i) { __typename
  ... on WalletOperation { reservationId } ... on SessionLimitReached { code limitMinutes } } }"""

ADMIN = staff_principal("ADMIN", "admin-1")


async def _gql(gql: WalletGQL, query: str, token: str, **variables: Any) -> dict[str, Any]:
    return await gql.gql(query, variables, authorization=f"Bearer {token}")


async def _login(gql: WalletGQL, login: str) -> dict[str, str]:
    body = await gql.gql(LOGIN, {"l": login, "p": PASSWORD})
    assert body["data"]["login"]["__typename"] == "AuthTokens", body
    tokens: dict[str, str] = body["data"]["login"]
    return tokens


async def _signed_up(gql: WalletGQL, player_factory: Any) -> tuple[str, str]:
    login = f"rg{uuid.uuid4().hex[:10]}"
    return await player_factory(login=login), login


async def _claims(gql: WalletGQL, token: str) -> Any:
    runtime = gql.app.state.pms.identity
    return await verify_access_token(token, runtime.keyring, runtime.settings)


async def _bet(gql: WalletGQL, player: str, n: int) -> dict[str, Any]:
    body = await gql.raw(BET, {"i": {
        "playerId": player, "amount": "1.00", "currency": "EUR", "gameRoundId": f"r{n}",
        "transactionId": f"b{n}", "idempotencyKey": new_key(),
    }}, as_=GAME_ENGINE)  # fmt: skip
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["reserveBet"]
    return result


async def test_a_break_puts_its_restriction_in_the_token_and_refuses_gambling_not_the_account(
    wallet_gql, db, player_factory
):
    player, login = await _signed_up(wallet_gql, player_factory)
    before = await _login(wallet_gql, login)
    limit = (await _gql(wallet_gql, SET, before["accessToken"], p=player, k="DEPOSIT",
                        a="50.00"))["data"]["setGamblingLimit"]  # fmt: skip
    await _gql(wallet_gql, SET, before["accessToken"], p=player, k="DEPOSIT", a="90.00")
    assert (await _claims(wallet_gql, before["accessToken"])).restriction is None

    taken = await _gql(wallet_gql, BREAK, before["accessToken"], p=player)
    assert taken["data"]["takeBreak"]["__typename"] == "PlayerExclusion"
    # The token issued before the break stops working at once (its sessions ended) ...
    old = await wallet_gql.gql.http.post(
        "/graphql", json={"query": ACCOUNT, "variables": {"id": player}},
        headers={"authorization": f"Bearer {before['accessToken']}"},
    )  # fmt: skip
    assert old.status_code == 401 and old.json()["errors"][0]["extensions"]["code"] == (
        "INVALID_TOKEN"
    )
    # ... and signing in still works, with the restriction in the new token.
    during = await _login(wallet_gql, login)
    assert (await _claims(wallet_gql, during["accessToken"])).restriction == "BREAK"
    account = await _gql(wallet_gql, ACCOUNT, during["accessToken"], id=player)
    assert account["data"]["player"]["status"] == "SELF_EXCLUDED"
    assert account["data"]["player"]["exclusions"] == [{"kind": "BREAK"}]
    confirm = await _gql(wallet_gql, CONFIRM, during["accessToken"], id=limit["id"])
    remove = await _gql(wallet_gql, REMOVE, during["accessToken"], p=player)

    for answer in (confirm["data"]["confirmGamblingLimit"],
                   remove["data"]["removeGamblingLimit"]):  # fmt: skip
        assert answer == {"__typename": "GamblingRestricted", "code": "GAMBLING_RESTRICTED",
                          "restriction": "BREAK"}  # fmt: skip
    pending = await scalar(db, "SELECT pending_remove FROM gambling_limits WHERE player_id = :p",
                           p=player)  # fmt: skip
    assert pending is False  # nothing changed

    # Once the break is lifted, a refreshed token carries no restriction any more.
    lifted = await wallet_gql.raw(LIFT, {"p": player}, as_=ADMIN)
    assert lifted["data"]["liftExclusion"]["__typename"] == "PlayerExclusion"
    refreshed = await wallet_gql.gql(REFRESH, {"r": during["refreshToken"]})
    fresh = refreshed["data"]["refreshTokens"]["accessToken"]
    assert (await _claims(wallet_gql, fresh)).restriction is None
    again = await _gql(wallet_gql, CONFIRM, fresh, id=limit["id"])
    assert again["data"]["confirmGamblingLimit"]["code"] == "LIMIT_COOL_DOWN_ACTIVE"


async def test_a_self_exclusion_token_says_so_and_after_it_ends_return_pending(
    wallet_gql, db, player_factory
):
    player, login = await _signed_up(wallet_gql, player_factory)
    tokens = await _login(wallet_gql, login)
    body = await _gql(wallet_gql, """mutation($p: ID!) { selfExclude(playerId: $p, months: 6) {
        __typename } }""", tokens["accessToken"], p=player)  # fmt: skip
    assert body["data"]["selfExclude"]["__typename"] == "PlayerExclusion"
    during = await _login(wallet_gql, login)
    assert (await _claims(wallet_gql, during["accessToken"])).restriction == "SELF_EXCLUSION"
    async with db.transaction() as s:  # the six months pass
        await s.execute(text("UPDATE player_exclusions SET ends_at = now() - interval '1 hour' "
                             "WHERE player_id = :p"), {"p": player})  # fmt: skip
    after = await _login(wallet_gql, login)
    assert (await _claims(wallet_gql, after["accessToken"])).restriction == "RETURN_PENDING"


async def test_the_reality_check_counts_from_the_sign_in(wallet_gql, db, player_factory):
    player, login = await _signed_up(wallet_gql, player_factory)
    await wallet_gql.op("deposit", playerId=player, amount="20.00", currency="EUR",
                        paymentReference="p1")  # fmt: skip
    tokens = await _login(wallet_gql, login)
    started = await scalar(db, "SELECT started_at FROM play_sessions WHERE player_id = :p",
                           p=player)  # fmt: skip
    idle = await _gql(wallet_gql, REALITY, tokens["accessToken"], id=player)
    # Signed in, not yet a bet: the session runs from the sign-in.
    check = idle["data"]["player"]["realityCheck"]
    assert check["sessionStartedAt"] == started.isoformat()
    assert check["netResult"] == {"amount": "0.00", "currency": "EUR"}

    bet = await _bet(wallet_gql, player, 1)
    await wallet_gql.op("settleBet", playerId=player, reservationId=bet["reservationId"],
                        winAmount="0.25", currency="EUR", transactionId="w1")  # fmt: skip
    async with db.transaction() as s:  # 61 minutes into the session
        await s.execute(text("UPDATE play_sessions SET started_at = started_at - interval "
                             "'61 minutes' WHERE player_id = :p"), {"p": player})  # fmt: skip
    later = (await _gql(wallet_gql, REALITY, tokens["accessToken"], id=player))["data"]
    assert later["player"]["realityCheck"]["minutesPlayed"] == 61
    assert later["player"]["realityCheck"]["netResult"]["amount"] == "-0.75"

    await _gql(wallet_gql, LOGOUT, tokens["accessToken"])
    ended = await scalar(db, "SELECT ended_at IS NOT NULL FROM play_sessions WHERE "
                             "player_id = :p", p=player)  # fmt: skip
    assert ended is True


async def _shift_session(db: Any, player: str, started: str, ended: str | None) -> None:
    ends = f"now() - interval '{ended}'" if ended else "NULL"
    async with db.transaction() as s:
        await s.execute(text(f"UPDATE play_sessions SET started_at = now() - interval "
                             f"'{started}', ended_at = {ends} WHERE player_id = :p"),
                        {"p": player})  # fmt: skip


async def test_the_session_limit_counts_from_sign_in_until_a_sign_in_after_a_break(
    wallet_gql, db, player_factory
):
    player, login = await _signed_up(wallet_gql, player_factory)
    await wallet_gql.op("deposit", playerId=player, amount="20.00", currency="EUR",
                        paymentReference="p1")  # fmt: skip
    first = await _login(wallet_gql, login)
    await _gql(wallet_gql, SET, first["accessToken"], p=player, k="SESSION", a="45")
    assert (await _bet(wallet_gql, player, 1))["reservationId"]

    await _shift_session(db, player, "46 minutes", None)
    refused = await _bet(wallet_gql, player, 2)
    assert (refused["__typename"], refused["limitMinutes"]) == ("SessionLimitReached", 45)
    # Signing out and straight back in continues the session: still refused.
    await _gql(wallet_gql, LOGOUT, first["accessToken"])
    await _login(wallet_gql, login)
    assert (await _bet(wallet_gql, player, 3))["__typename"] == "SessionLimitReached"
    sessions = await scalar(db, "SELECT count(DISTINCT started_at) FROM play_sessions "
                                "WHERE player_id = :p", p=player)  # fmt: skip
    assert sessions == 1

    # Signed out 31 minutes ago (the break is 30): the next sign-in is a new session.
    await _shift_session(db, player, "90 minutes", "31 minutes")
    await _login(wallet_gql, login)
    assert (await _bet(wallet_gql, player, 4))["__typename"] == "WalletOperation"
    holds = await scalar(db, "SELECT count(*) FROM ledger_holds WHERE player_id = :p", p=player)
    assert holds == 2  # the refused bets held nothing


async def test_an_expired_session_counts_as_ended(wallet_gql, db, player_factory):
    player, login = await _signed_up(wallet_gql, player_factory)
    await wallet_gql.op("deposit", playerId=player, amount="5.00", currency="EUR",
                        paymentReference="p1")  # fmt: skip
    tokens = await _login(wallet_gql, login)
    await _gql(wallet_gql, SET, tokens["accessToken"], p=player, k="SESSION", a="45")
    expire = ("UPDATE play_sessions SET started_at = now() - interval '100 minutes', "
              "expires_at = now() - interval '40 minutes' WHERE player_id = :p")  # fmt: skip
    async with db.transaction() as s:  # the token expired 40 minutes ago, never refreshed
        await s.execute(text(expire), {"p": player})
    # A refresh after a break-long expiry starts the session again ...
    refreshed = await wallet_gql.gql(REFRESH, {"r": tokens["refreshToken"]})
    assert refreshed["data"]["refreshTokens"]["__typename"] == "AuthTokens"
    fresh = ("SELECT bool_and(started_at > now() - interval '1 minute' "
             "AND expires_at > now()) FROM play_sessions WHERE player_id = :p")  # fmt: skip
    assert await scalar(db, fresh, p=player) is True
    # ... and so does a new sign-in after one.
    async with db.transaction() as s:
        await s.execute(text(expire), {"p": player})
    await _login(wallet_gql, login)
    starts = await scalar(db, "SELECT max(started_at) > now() - interval '1 minute' "
                              "FROM play_sessions WHERE player_id = :p", p=player)  # fmt: skip
    assert starts is True
    assert (await _bet(wallet_gql, player, 1))["__typename"] == "WalletOperation"
