"""Issue 13's remaining anti-fraud points through the real ASGI app: rollbacks
concentrated on one provider (across players), staff reads of risk fields audited like
``player.read``, and card numbers refused in a case note and in limit/lift reasons
(free text), with nothing changed."""

from __future__ import annotations

import asyncio

from tests.auth import player_principal, staff_principal, token_for
from tests.integration.fraud import simulator as sim
from tests.integration.fraud.conftest import COMPLIANCE, SUPPORT, drain, risk, save_rule
from tests.integration.wallets.conftest import GAME_ENGINE, scalar

PAN = "4111 1111 1111 1111"  # a Luhn-valid test card number
ADMIN = staff_principal("ADMIN", "admin-1")
DECIDE = """mutation($c: ID!, $n: String!) { decideFraudCase(caseId: $c, decision: CLEAR,
  note: $n) { __typename ... on ValidationError { field message } } }"""
BLOCK = """mutation($c: ID!) { decideFraudCase(caseId: $c, decision: BLOCK,
  note: "bot confirmed") { __typename } }"""
CASES = """query($f: FraudCaseFilter) { fraudCases(filter: $f) { id status } }"""
SET_REASON = """mutation($p: ID!, $r: String) { setGamblingLimit(playerId: $p, kind: DEPOSIT,
  period: DAY, amount: "10.00", reason: $r) { __typename
  ... on ValidationError { field message } } }"""
LIFT = """mutation($p: ID!, $r: String!) { liftExclusion(playerId: $p, reason: $r) {
  __typename ... on ValidationError { field message } } }"""


async def _rolled_back_round(wallet_gql, player: str, n: int) -> None:
    """A settled round the provider then refunds."""
    await sim.deposit(wallet_gql, player, "10.00", f"tok-rb-{player[:8]}-{n}")
    bet = await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                              gameRoundId=f"rb{n}", transactionId=f"rbb{n}")  # fmt: skip
    await wallet_gql.op("settleBet", playerId=player, reservationId=bet["reservationId"],
                        winAmount="0.00", currency="EUR", transactionId=f"rbw{n}")  # fmt: skip
    await wallet_gql.op("rollbackRound", playerId=player, gameRoundId=f"rb{n}",
                        transactionId=f"rbr{n}")  # fmt: skip


async def test_rollbacks_concentrated_on_one_provider_are_a_signal_across_players(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="provider-rb", signal="provider_rollbacks", threshold=3.0,
                    weight=15)  # fmt: skip
    players = [await player_factory() for _ in range(3)]
    for i, player in enumerate(players):  # one rollback each: no player-level pattern
        await _rolled_back_round(wallet_gql, player, i)
    await drain(db, settings)

    first, last = await risk(wallet_gql, players[0]), await risk(wallet_gql, players[2])
    # The third rollback by the one provider crosses the threshold, on that player.
    assert first["riskSignals"] == []
    assert [(s["rule"], s["signal"], s["value"]) for s in last["riskSignals"]] == [
        ("provider-rb", "provider_rollbacks", 3.0)
    ]
    evidence = last["riskSignals"][0]["evidence"]
    assert (evidence["provider"], evidence["players"]) == ("service:game-engine", 3)
    assert last["riskScore"] == 15


async def test_staff_reads_of_risk_fields_are_audited_and_denied_reads_are_not(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    await risk(wallet_gql, player, as_=COMPLIANCE)
    await risk(wallet_gql, player, as_=SUPPORT)  # may not see them: null, nothing read
    await risk(wallet_gql, player, as_=player_principal(player))

    # Sibling fields resolve concurrently: compare in a fixed order.
    rows = await scalar(db, "SELECT string_agg(actor || ' ' || (details->>'field'), ',' "
                            "ORDER BY details->>'field') FROM audit_log "
                            "WHERE action = 'fraud.risk_read' AND target = :t",
                        t=player)  # fmt: skip
    assert rows == f"{COMPLIANCE.key} riskScore,{COMPLIANCE.key} riskSignals"


LIST_RISK = """query { players(first: 100) { edges { node { id riskScore riskSignals { rule } }
  } } }"""
TWICE = """query($id: ID!) { a: player(id: $id) { riskScore } b: player(id: $id) { riskScore } }"""


async def test_a_list_of_players_audits_its_risk_reads_in_one_transaction(
    wallet_gql, db, player_factory
):
    players = {await player_factory() for _ in range(100)}
    body = await wallet_gql.raw(LIST_RISK, as_=COMPLIANCE)
    assert "errors" not in body, body
    assert {e["node"]["id"] for e in body["data"]["players"]["edges"]} == players

    # one row per (staff, player, field), as for a single read; all of them one transaction
    # (xmin: the transaction that wrote the row)
    rows = await scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'fraud.risk_read'")
    pairs = await scalar(db, "SELECT count(DISTINCT (target, details->>'field')) FROM audit_log "
                             "WHERE action = 'fraud.risk_read' AND actor = :a",
                         a=COMPLIANCE.key)  # fmt: skip
    writers = await scalar(db, "SELECT count(DISTINCT xmin::text) FROM audit_log "
                               "WHERE action = 'fraud.risk_read'")  # fmt: skip
    assert (rows, pairs, writers) == (200, 200, 1)


async def test_one_request_reading_a_player_twice_audits_it_once(wallet_gql, db, player_factory):
    player = await player_factory()
    body = await wallet_gql.raw(TWICE, {"id": player}, as_=COMPLIANCE)
    assert body["data"]["a"] == body["data"]["b"]
    for action in ("player.read", "fraud.risk_read"):
        assert await scalar(db, "SELECT count(*) FROM audit_log WHERE action = :a AND "
                                "target = :t", a=action, t=player) == 1  # fmt: skip


async def test_a_card_number_in_a_case_note_is_refused_and_the_case_stays_open(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=3.0)
    player = await player_factory()
    await sim.bot(wallet_gql, player, 20)
    case_id = await _case_of(wallet_gql, db, settings, player)

    body = await wallet_gql.raw(DECIDE, {"c": case_id, "n": f"card {PAN} seen"}, as_=COMPLIANCE)

    assert body["data"]["decideFraudCase"]["__typename"] == "ValidationError"
    assert body["data"]["decideFraudCase"]["field"] == "note"
    assert await scalar(db, "SELECT status FROM fraud_cases") == "OPEN"


async def test_a_card_number_in_a_limit_or_lift_reason_is_refused_and_nothing_changes(
    wallet_gql, db, player_factory
):
    player = await player_factory()
    limit = await wallet_gql.raw(SET_REASON, {"p": player, "r": f"asked, card {PAN}"},
                                 as_=SUPPORT)  # fmt: skip
    lift = await wallet_gql.raw(LIFT, {"p": player, "r": PAN.replace(" ", "-")}, as_=ADMIN)

    for answer in (limit["data"]["setGamblingLimit"], lift["data"]["liftExclusion"]):
        assert (answer["__typename"], answer["field"]) == ("ValidationError", "reason")
    assert await scalar(db, "SELECT count(*) FROM gambling_limits") == 0
    assert await scalar(db, "SELECT count(*) FROM audit_log WHERE action LIKE 'rg.%'") == 0


ME = """query($id: ID!) { player(id: $id) { status } }"""


async def _status_code(wallet_gql, player: str, token: str) -> int:
    response = await wallet_gql.gql.http.post(
        "/graphql", json={"query": ME, "variables": {"id": player}},
        headers={"authorization": f"Bearer {token}"},
    )  # fmt: skip
    return response.status_code


async def test_an_auto_block_ends_the_players_sessions(wallet_gql, db, settings, player_factory):
    from pms.tasks import consume_fraud

    await save_rule(wallet_gql, key="bot-block", signal="bet_rate", threshold=3.0, weight=70,
                    action="AUTO_BLOCK")  # fmt: skip
    player = await player_factory()
    token = await token_for(wallet_gql.app, player_principal(player))
    assert await _status_code(wallet_gql, player, token) == 200
    await sim.bot(wallet_gql, player, 20)

    while await consume_fraud(db, settings) > 0:  # the periodic task, as it runs
        pass

    assert await scalar(db, "SELECT status FROM players WHERE id = :p", p=player) == "BLOCKED"
    await asyncio.sleep(settings.revocation_cache_seconds + 0.1)  # another replica's view
    assert await _status_code(wallet_gql, player, token) == 401


async def _case_of(wallet_gql, db, settings, player: str) -> str:
    """The player's case once the consumer has scored the bot's bets (it may leave the
    newest events for its next pass: poll, as the periodic task would run again)."""
    for _ in range(100):
        await drain(db, settings)
        cases = (await wallet_gql.raw(CASES, {"f": {"playerId": player}}, as_=COMPLIANCE))[
            "data"]["fraudCases"]  # fmt: skip
        if cases:
            return str(cases[0]["id"])
        await asyncio.sleep(0.1)
    raise AssertionError("no fraud case was opened for the bot")


async def test_a_block_decision_ends_the_players_sessions(wallet_gql, db, settings, player_factory):
    await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=3.0)
    player = await player_factory()
    token = await token_for(wallet_gql.app, player_principal(player))
    await sim.bot(wallet_gql, player, 20)
    case_id = await _case_of(wallet_gql, db, settings, player)
    assert await _status_code(wallet_gql, player, token) == 200

    body = await wallet_gql.raw(BLOCK, {"c": case_id}, as_=COMPLIANCE)

    assert body["data"]["decideFraudCase"]["__typename"] == "FraudCase"
    assert await _status_code(wallet_gql, player, token) == 401


DEPOSIT = """mutation($i: DepositInput!) { deposit(input: $i) { __typename
  ... on ValidationError { field message } } }"""


async def _deposit_from(wallet_gql, player: str, ip: str) -> dict:
    body = await wallet_gql.raw(DEPOSIT, {"i": {
        "playerId": player, "amount": "10.00", "currency": "EUR", "paymentReference": "tok-ip",
        "idempotencyKey": f"ip-{player}-{ip}", "ipAddress": ip,
    }}, as_=GAME_ENGINE)  # fmt: skip
    assert "errors" not in body, body
    result: dict = body["data"]["deposit"]
    return result


async def test_money_calls_carrying_an_ip_feed_the_shared_ip_signal(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="one-ip", signal="shared_ip", threshold=2.0, weight=10)
    first, second = await player_factory(), await player_factory()
    for player in (first, second):
        assert (await _deposit_from(wallet_gql, player, "203.0.113.9"))["__typename"] == (
            "WalletOperation"
        )
    await drain(db, settings)

    for player in (first, second):
        signals = (await risk(wallet_gql, player))["riskSignals"]
        assert [(s["rule"], s["value"]) for s in signals] == [("one-ip", 2.0)]
        assert "203.0.113.9" not in str(signals)  # only the hash is kept


async def test_a_money_call_with_a_malformed_ip_is_refused_and_writes_nothing(
    wallet_gql, db, player_factory
):
    player = await player_factory()

    refused = await _deposit_from(wallet_gql, player, "203.0.113.999")

    assert (refused["__typename"], refused["field"]) == ("ValidationError", "ipAddress")
    assert await scalar(db, "SELECT count(*) FROM ledger_transfers WHERE player_id = :p",
                        p=player) == 0  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM outbox_events WHERE subject = :p "
                            "AND type LIKE 'wallet.%'", p=player) == 0  # fmt: skip
