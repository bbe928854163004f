"""Limits and exclusions through the real ASGI app with real tokens: the player sets,
raises (cool-down, then confirmation) and removes; staff may only lower, with a reason;
breaks and self-exclusions stop debits, keep credits, forfeit bonuses, end sessions;
only ADMIN lifts, with a reason, audited. Bad input is a typed error that changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.identity.auth import current_generation
from tests.auth import player_principal, staff_principal, token_for
from tests.integration.bonus.conftest import BonusGQL
from tests.integration.wallets.conftest import GAME_ENGINE, WalletGQL, new_key, scalar, wallets_of

LIMIT = """
    __typename
    ... on GamblingLimit { id kind period limit { amount currency } used { amount } minutes
                           remaining { amount } resetsAt pendingLimit { amount }
                           pendingRemoval pendingEffectiveAt }
    ... on ValidationError { code field message }
    ... on UserError { code message }
"""
SET = f"""mutation($p: ID!, $k: GamblingLimitKind!, $d: GamblingLimitPeriod!, $a: String!,
                   $r: String) {{
  setGamblingLimit(playerId: $p, kind: $k, period: $d, amount: $a, reason: $r) {{ {LIMIT} }} }}"""
CONFIRM = f"""mutation($id: ID!) {{ confirmGamblingLimit(id: $id) {{ {LIMIT}
    ... on GamblingLimitRemoved {{ id }} ... on CoolDownActive {{ code effectiveAt }} }} }}"""
REMOVE = f"""mutation($p: ID!, $k: GamblingLimitKind!, $d: GamblingLimitPeriod!) {{
  removeGamblingLimit(playerId: $p, kind: $k, period: $d) {{ {LIMIT} }} }}"""
EXCLUSION = """__typename ... on PlayerExclusion { id kind startsAt endsAt }
    ... on ValidationError { code field } ... on UserError { code message }"""
BREAK = f"mutation($p: ID!, $h: Int!) {{ takeBreak(playerId: $p, hours: $h) {{ {EXCLUSION} }} }}"
EXCLUDE = f"""mutation($p: ID!, $m: Int, $perm: Boolean!) {{
  selfExclude(playerId: $p, months: $m, permanent: $perm) {{ {EXCLUSION} }} }}"""
LIFT = f"""mutation($p: ID!, $r: String!) {{
  liftExclusion(playerId: $p, reason: $r) {{ {EXCLUSION} }} }}"""
PLAYER = """query($id: ID!) { player(id: $id) { status
  gamblingLimits { kind period limit { amount } used { amount } pendingLimit { amount } }
  exclusions { kind endsAt } } }"""
EXCEEDED = """... on LimitExceeded { code kind period limit { amount currency }
    remaining { amount } resetsAt }"""

SUPPORT = staff_principal("SUPPORT", "support-1")
ADMIN = staff_principal("ADMIN", "admin-1")


async def _set(gql: WalletGQL, player: str, kind: str, period: str, amount: str, *,
               as_: Any = None, reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    body = await gql.raw(SET, {"p": player, "k": kind, "d": period, "a": amount, "r": reason},
                         as_=as_ or player_principal(player))  # fmt: skip
    assert "errors" not in body, body
    return body["data"]["setGamblingLimit"]


async def _call(gql: WalletGQL, query: str, name: str, as_: Any, **variables: Any) -> Any:
    body = await gql.raw(query, variables, as_=as_)
    assert "errors" not in body, body
    return body["data"][name]


async def _signed_in_again(gql: WalletGQL, player: str) -> None:
    """A new sign-in after an exclusion ended the old sessions (a token of the new
    session generation)."""
    principal = player_principal(player)
    generation = await current_generation(gql.app.state.pms.identity, principal.key)
    token = await token_for(gql.app, principal, generation=generation)
    gql._headers[principal.key] = {"authorization": f"Bearer {token}"}


async def _limits(db: Any, player: str) -> list[tuple[Any, ...]]:
    async with db.read_session() as s:
        rows = await s.execute(text(
            "SELECT kind, period, amount, pending_amount, pending_remove FROM gambling_limits "
            "WHERE player_id = :p ORDER BY kind, period"), {"p": player})  # fmt: skip
        return [tuple(r) for r in rows]


async def _cool_down_passes(db: Any, player: str) -> None:
    async with db.transaction() as s:
        await s.execute(text("UPDATE gambling_limits SET pending_effective_at = now() "
                             "- interval '1 second' WHERE player_id = :p AND "
                             "pending_effective_at IS NOT NULL"), {"p": player})  # fmt: skip


async def test_player_sets_lowers_raises_after_cool_down_and_confirms(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    first = await _set(wallet_gql, player, "DEPOSIT", "DAY", "100.00")
    assert first["__typename"] == "GamblingLimit"
    assert first["limit"] == {"amount": "100.00", "currency": "EUR"}
    lower = await _set(wallet_gql, player, "DEPOSIT", "DAY", "40.00")
    assert (lower["limit"]["amount"], lower["pendingLimit"]) == ("40.00", None)

    higher = await _set(wallet_gql, player, "DEPOSIT", "DAY", "60.00")
    assert higher["limit"]["amount"] == "40.00"  # still in force
    assert higher["pendingLimit"] == {"amount": "60.00"} and higher["pendingEffectiveAt"]
    early = await _call(wallet_gql, CONFIRM, "confirmGamblingLimit", player_principal(player),
                        id=higher["id"])  # fmt: skip
    assert early["__typename"] == "CoolDownActive"
    assert await _limits(db, player) == [("DEPOSIT", "DAY", 4000, 6000, False)]
    # The deposit limit in force is still 40.00 during the cool-down.
    refused = await wallet_gql.raw(
        f"mutation($i: DepositInput!) {{ deposit(input: $i) {{ __typename {EXCEEDED} }} }}",
        {"i": {"playerId": player, "amount": "40.01", "currency": "EUR",
               "paymentReference": "p1", "idempotencyKey": new_key()}}, as_=GAME_ENGINE,
    )  # fmt: skip
    assert refused["data"]["deposit"]["__typename"] == "LimitExceeded"
    assert refused["data"]["deposit"]["remaining"] == {"amount": "40.00"}

    await _cool_down_passes(db, player)
    done = await _call(wallet_gql, CONFIRM, "confirmGamblingLimit", player_principal(player),
                       id=higher["id"])  # fmt: skip
    assert (done["limit"]["amount"], done["pendingLimit"]) == ("60.00", None)
    events = await scalar(db, "SELECT string_agg(data->>'change', ',' ORDER BY id) "
                              "FROM outbox_events WHERE type = 'limit.changed'")  # fmt: skip
    assert events == "SET,LOWERED,INCREASE_REQUESTED,RAISED"


async def test_removal_waits_for_the_cool_down_and_the_players_confirmation(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    limit = await _set(wallet_gql, player, "LOSS", "WEEK", "20.00")
    asked = await _call(wallet_gql, REMOVE, "removeGamblingLimit", player_principal(player),
                        p=player, k="LOSS", d="WEEK")  # fmt: skip
    assert asked["pendingRemoval"] is True and asked["limit"]["amount"] == "20.00"
    await _cool_down_passes(db, player)
    removed = await _call(wallet_gql, CONFIRM, "confirmGamblingLimit", player_principal(player),
                          id=limit["id"])  # fmt: skip
    assert removed == {"__typename": "GamblingLimitRemoved", "id": limit["id"]}
    assert await _limits(db, player) == []


async def test_staff_may_only_lower_with_a_reason_and_it_is_audited(wallet_gql, db, player_factory):
    player = await player_factory()
    await _set(wallet_gql, player, "WAGER", "MONTH", "500.00")

    no_reason = await _set(wallet_gql, player, "WAGER", "MONTH", "100.00", as_=SUPPORT)
    raise_ = await _set(wallet_gql, player, "WAGER", "MONTH", "900.00", as_=SUPPORT,
                        reason="player asked on the phone")  # fmt: skip
    removal = await _call(wallet_gql, REMOVE, "removeGamblingLimit", SUPPORT,
                          p=player, k="WAGER", d="MONTH")  # fmt: skip
    lowered = await _set(wallet_gql, player, "WAGER", "MONTH", "100.00", as_=SUPPORT,
                         reason="affordability concern")  # fmt: skip

    assert (no_reason["__typename"], no_reason["field"]) == ("ValidationError", "reason")
    assert raise_["__typename"] == "StaffMayOnlyLower"
    assert removal["__typename"] == "StaffMayOnlyLower"
    assert lowered["limit"]["amount"] == "100.00"
    assert await _limits(db, player) == [("WAGER", "MONTH", 10000, None, False)]
    reason = await scalar(db, "SELECT details->>'reason' FROM audit_log WHERE action = "
                              "'rg.limit_changed' AND actor = :a", a=SUPPORT.key)  # fmt: skip
    assert reason == "affordability concern"


async def test_bad_limits_are_typed_errors_and_change_nothing(wallet_gql, db, player_factory):
    player, other = await player_factory(), await player_factory()
    await _set(wallet_gql, player, "DEPOSIT", "DAY", "50.00")
    pending = await _set(wallet_gql, player, "DEPOSIT", "DAY", "70.00")
    before = await _limits(db, player)

    negative = await _set(wallet_gql, player, "DEPOSIT", "WEEK", "-1.00")
    decimals = await _set(wallet_gql, player, "DEPOSIT", "WEEK", "10.001")
    weekly_below_daily = await _set(wallet_gql, player, "DEPOSIT", "WEEK", "60.00")
    someone_elses = await _call(wallet_gql, CONFIRM, "confirmGamblingLimit",
                                player_principal(other), id=pending["id"])  # fmt: skip
    not_mine = await _set(wallet_gql, player, "DEPOSIT", "DAY", "1.00",
                          as_=player_principal(other))  # fmt: skip

    assert (negative["__typename"], negative["field"]) == ("ValidationError", "amount")
    assert (decimals["__typename"], decimals["field"]) == ("ValidationError", "amount")
    assert weekly_below_daily["__typename"] == "ValidationError"  # 70.00 pending > 60.00
    assert someone_elses["__typename"] == "LimitChangeNotFound"
    assert not_mine["__typename"] == "Forbidden"
    assert await _limits(db, player) == before
    assert await _limits(db, other) == []


async def test_a_bet_over_the_wager_limit_answers_limit_exceeded(wallet_gql, db, player_factory):
    player = await player_factory()
    await wallet_gql.op("deposit", playerId=player, amount="50.00", currency="EUR",
                        paymentReference="p1")  # fmt: skip
    await _set(wallet_gql, player, "WAGER", "DAY", "5.00")
    ok = await wallet_gql.op("reserveBet", playerId=player, amount="5.00", currency="EUR",
                             gameRoundId="r1", transactionId="b1")  # fmt: skip
    body = await wallet_gql.raw(
        f"mutation($i: ReserveBetInput!) {{ reserveBet(input: $i) {{ __typename {EXCEEDED} }} }}",
        {"i": {"playerId": player, "amount": "0.01", "currency": "EUR", "gameRoundId": "r2",
               "transactionId": "b2", "idempotencyKey": new_key()}}, as_=GAME_ENGINE,
    )  # fmt: skip

    refused = body["data"]["reserveBet"]
    assert ok["__typename"] == "WalletOperation"
    assert refused["__typename"] == "LimitExceeded"
    assert (refused["kind"], refused["period"], refused["limit"], refused["remaining"]) == (
        "WAGER", "DAY", {"amount": "5.00", "currency": "EUR"}, {"amount": "0.00"})  # fmt: skip
    assert refused["resetsAt"].endswith("00:00:00+00:00")
    assert (await wallets_of(db, player))["REAL"]["held"] == 500
    seen = await _call(wallet_gql, PLAYER, "player", player_principal(player), id=player)
    assert seen["gamblingLimits"] == [{
        "kind": "WAGER", "period": "DAY", "limit": {"amount": "5.00"},
        "used": {"amount": "5.00"}, "pendingLimit": None,
    }]  # fmt: skip


async def test_a_break_stops_debits_keeps_credits_forfeits_bonuses_and_ends_sessions(
    wallet_gql, db, player_factory, app
):
    player = await player_factory()
    bonuses = BonusGQL(wallet_gql)
    campaign = await bonuses.campaign(kind="FIXED", trigger="MANUAL", fixedAmount="10.00",
                                      wageringMultiplier="5")  # fmt: skip
    granted = await bonuses.op("grantBonus", campaignId=campaign["id"], playerId=player)
    assert granted["status"] == "ACTIVE"
    await wallet_gql.op("deposit", playerId=player, amount="50.00", currency="EUR",
                        paymentReference="p1")  # fmt: skip
    bet = await wallet_gql.op("reserveBet", playerId=player, amount="5.00", currency="EUR",
                              gameRoundId="r1", transactionId="b1")  # fmt: skip
    withdrawal = await wallet_gql.op("withdraw", playerId=player, amount="10.00",
                                     currency="EUR", paymentReference="w1")  # fmt: skip
    me = "query { me { __typename } }"
    token_headers = await wallet_gql.headers(player_principal(player))
    assert (await wallet_gql.gql(me, **token_headers))["data"]["me"] is not None

    took = await _call(wallet_gql, BREAK, "takeBreak", player_principal(player), p=player, h=48)

    assert took["kind"] == "BREAK" and took["endsAt"]
    assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "SELF_EXCLUDED"
    assert await scalar(db, "SELECT status FROM player_bonuses WHERE player_id = :p",
                        p=player) == "FORFEITED"  # fmt: skip
    # The old token no longer works: the session ended everywhere.
    ended = await wallet_gql.gql.http.post("/graphql", json={"query": me}, headers=token_headers)
    assert ended.status_code == 401
    refused = await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                                  gameRoundId="r2", transactionId="b2")  # fmt: skip
    assert refused["__typename"] == "AccountBlocked"
    settled = await wallet_gql.op("settleBet", playerId=player,
                                  reservationId=bet["reservationId"], winAmount="7.00",
                                  currency="EUR", transactionId="w1")  # fmt: skip
    deposited = await wallet_gql.op("deposit", playerId=player, amount="5.00", currency="EUR",
                                    paymentReference="p2")  # fmt: skip
    paid = await wallet_gql.op("confirmWithdrawal", playerId=player,
                               withdrawalId=withdrawal["reservationId"])  # fmt: skip
    assert [settled["__typename"], deposited["__typename"], paid["__typename"]] == [
        "WalletOperation"] * 3  # fmt: skip
    events = await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = "
                              "'player.break_started'")  # fmt: skip
    assert events == 1


async def test_an_exclusion_cannot_be_shortened_and_bad_durations_change_nothing(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    me = player_principal(player)
    too_short = await _call(wallet_gql, BREAK, "takeBreak", me, p=player, h=23)
    too_long = await _call(wallet_gql, BREAK, "takeBreak", me, p=player, h=6 * 7 * 24 + 1)
    five_months = await _call(wallet_gql, EXCLUDE, "selfExclude", me, p=player, m=5, perm=False)
    assert [too_short["__typename"], too_long["__typename"], five_months["__typename"]] == [
        "ValidationError"] * 3  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM player_exclusions") == 0
    assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "ACTIVE"

    excluded = await _call(wallet_gql, EXCLUDE, "selfExclude", me, p=player, m=None, perm=True)
    await _signed_in_again(wallet_gql, player)
    shorter = await _call(wallet_gql, BREAK, "takeBreak", me, p=player, h=24)
    assert (excluded["kind"], excluded["endsAt"]) == ("SELF_EXCLUSION", None)
    assert shorter["__typename"] == "ExclusionActive"
    assert await scalar(db, "SELECT count(*) FROM player_exclusions") == 1


async def test_staff_see_but_cannot_lift_and_admin_lifts_with_a_reason(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    await _call(wallet_gql, EXCLUDE, "selfExclude", player_principal(player), p=player, m=6,
                perm=False)  # fmt: skip

    seen = await _call(wallet_gql, PLAYER, "player", SUPPORT, id=player)
    support = await _call(wallet_gql, LIFT, "liftExclusion", SUPPORT, p=player, r="asked nicely")
    no_reason = await _call(wallet_gql, LIFT, "liftExclusion", ADMIN, p=player, r=" ")
    assert seen["exclusions"][0]["kind"] == "SELF_EXCLUSION"
    assert support["__typename"] == "Forbidden"
    assert no_reason["__typename"] == "ValidationError"
    assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "SELF_EXCLUDED"

    lifted = await _call(wallet_gql, LIFT, "liftExclusion", ADMIN, p=player,
                         r="court order 12/2026")  # fmt: skip
    assert lifted["__typename"] == "PlayerExclusion"
    assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "ACTIVE"
    assert await scalar(db, "SELECT lift_reason FROM player_exclusions") == "court order 12/2026"
    audited = await scalar(db, "SELECT count(*) FROM audit_log WHERE action = "
                               "'rg.exclusion_lifted' AND actor = :a", a=ADMIN.key)  # fmt: skip
    assert audited == 1
    denied = await scalar(db, "SELECT count(*) FROM audit_log WHERE actor = :a "
                              "AND outcome = 'denied'", a=SUPPORT.key)  # fmt: skip
    assert denied == 1


async def test_session_limit_and_reality_check_through_graphql(wallet_gql, db, player_factory):
    player = await player_factory()
    await wallet_gql.op("deposit", playerId=player, amount="20.00", currency="EUR",
                        paymentReference="p1")  # fmt: skip
    session = await _set(wallet_gql, player, "SESSION", "DAY", "45")
    first = await wallet_gql.op("reserveBet", playerId=player, amount="2.00", currency="EUR",
                                gameRoundId="r1", transactionId="b1")  # fmt: skip
    await wallet_gql.op("settleBet", playerId=player, reservationId=first["reservationId"],
                        winAmount="0.50", currency="EUR", transactionId="w1")  # fmt: skip
    async with db.transaction() as s:
        await s.execute(text("UPDATE gambling_limits SET window_start = now() - interval "
                             "'46 minutes' WHERE kind = 'SESSION'"))  # fmt: skip
    body = await wallet_gql.raw(
        "mutation($i: ReserveBetInput!) { reserveBet(input: $i) { __typename "
        "... on SessionLimitReached { code limitMinutes availableAt } } }",
        {"i": {"playerId": player, "amount": "1.00", "currency": "EUR", "gameRoundId": "r2",
               "transactionId": "b2", "idempotencyKey": new_key()}}, as_=GAME_ENGINE,
    )  # fmt: skip
    check = await _call(wallet_gql, """query($id: ID!) { player(id: $id) {
        realityCheck { minutesPlayed netResult { amount currency } nextCheckAt } } }""",
        "player", player_principal(player), id=player)  # fmt: skip

    assert (session["minutes"], session["limit"]) == (45, None)
    refused = body["data"]["reserveBet"]
    assert (refused["__typename"], refused["limitMinutes"]) == ("SessionLimitReached", 45)
    assert check["realityCheck"]["netResult"] == {"amount": "-1.50", "currency": "EUR"}
    assert check["realityCheck"]["minutesPlayed"] == 0


async def test_request_return_through_graphql_is_the_players_own(wallet_gql, db, player_factory):
    player, other = await player_factory(), await player_factory()
    await _call(wallet_gql, EXCLUDE, "selfExclude", player_principal(player), p=player, m=6,
                perm=False)  # fmt: skip
    await _signed_in_again(wallet_gql, player)
    query = f"mutation($p: ID!) {{ requestReturn(playerId: $p) {{ {EXCLUSION} }} }}"
    early = await _call(wallet_gql, query, "requestReturn", player_principal(player), p=player)
    foreign = await _call(wallet_gql, query, "requestReturn", player_principal(other), p=player)
    async with db.transaction() as s:
        await s.execute(text("UPDATE player_exclusions SET ends_at = now() - interval '1 s'"))
    asked = await _call(wallet_gql, query, "requestReturn", player_principal(player), p=player)

    assert early["__typename"] == "ExclusionActive"
    assert foreign["__typename"] == "Forbidden"
    assert asked["__typename"] == "PlayerExclusion"
    assert await scalar(db, "SELECT count(*) FROM player_exclusions "
                            "WHERE return_requested_at IS NOT NULL") == 1  # fmt: skip
