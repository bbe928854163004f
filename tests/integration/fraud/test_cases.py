"""Rule actions and cases: auto-block through the status path, held withdrawals, step-up
sign-in, COMPLIANCE's case list, assignment and final, audited decisions."""

from __future__ import annotations

from tests.auth import player_principal
from tests.integration.fraud import simulator as sim
from tests.integration.fraud.conftest import COMPLIANCE, SUPPORT, drain, risk, save_rule
from tests.integration.wallets.conftest import scalar

CASES = """query($f: FraudCaseFilter) { fraudCases(filter: $f) {
  id playerId status assignee decision note hits { rule signal value } } }"""
ASSIGN = """mutation($c: ID!, $a: String!) { assignFraudCase(caseId: $c, assignee: $a) {
  __typename ... on FraudCase { status assignee } ... on UserError { code } } }"""
DECIDE = """mutation($c: ID!, $d: FraudDecision!, $n: String!) {
  decideFraudCase(caseId: $c, decision: $d, note: $n) {
  __typename ... on FraudCase { status decision note decidedBy } ... on UserError { code } } }"""


async def _burst(wallet_gql, db, settings, player, n=20):
    await sim.bot(wallet_gql, player, n)
    await drain(db, settings)


async def _case_of(wallet_gql, player):
    body = await wallet_gql.raw(CASES, {"f": {"playerId": player}}, as_=COMPLIANCE)
    assert "errors" not in body, body
    return body["data"]["fraudCases"]


async def test_an_auto_block_rule_blocks_the_player_and_refuses_their_debits(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="bot-block", signal="bet_rate", threshold=3.0, weight=70,
                    action="AUTO_BLOCK")  # fmt: skip
    player = await player_factory()

    await _burst(wallet_gql, db, settings, player)
    refused = await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                                  gameRoundId="after", transactionId="after-b")  # fmt: skip

    seen = await risk(wallet_gql, player)
    assert (seen["status"], seen["riskScore"]) == ("BLOCKED", 70)
    assert refused["__typename"] == "AccountBlocked"
    changed = await scalar(db, "SELECT data->>'actor' FROM outbox_events "
                               "WHERE type = 'player.status_changed'")  # fmt: skip
    assert changed == "fraud:rule:bot-block"
    cases = await _case_of(wallet_gql, player)
    assert [(c["status"], [h["rule"] for h in c["hits"]]) for c in cases] == [
        ("OPEN", ["bot-block"])
    ]


async def test_a_hold_rule_refuses_withdrawals_with_a_typed_error_and_holds_nothing(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="hold", signal="bet_rate", threshold=3.0,
                    action="HOLD_WITHDRAWALS")  # fmt: skip
    player = await player_factory()
    await _burst(wallet_gql, db, settings, player)
    holds_before = await scalar(db, "SELECT count(*) FROM ledger_holds")

    answer = await wallet_gql.op("withdraw", playerId=player, amount="10.00", currency="EUR")

    assert (answer["__typename"], answer["code"]) == ("WithdrawalsHeld", "WITHDRAWALS_ON_HOLD")
    assert await scalar(db, "SELECT count(*) FROM ledger_holds") == holds_before
    assert await scalar(db, "SELECT count(*) FROM outbox_events "
                            "WHERE type = 'wallet.withdrawal_requested'") == 0  # fmt: skip


async def test_failed_sign_ins_then_a_new_device_ask_for_a_second_factor_next_time(
    wallet_gql, db, settings, player_factory, default_rules
):
    player = await player_factory(login="victim")
    await sim.login(wallet_gql, "victim", sim.PASSWORD, "home-laptop")
    await drain(db, settings)
    for _ in range(3):
        assert await sim.login(wallet_gql, "victim", "wrong", "x") == "InvalidCredentials"

    taken_over = await sim.login(wallet_gql, "victim", sim.PASSWORD, "attacker-phone")
    await drain(db, settings)
    next_time = await sim.login(wallet_gql, "victim", sim.PASSWORD, "home-laptop")

    assert taken_over == "AuthTokens"  # scored downstream, after the sign-in
    signals = (await risk(wallet_gql, player))["riskSignals"]
    assert [(s["rule"], s["value"]) for s in signals] == [("failed-logins-new-device", 3.0)]
    assert next_time == "MfaFailed"  # no factor enrolled: refused until compliance clears it


async def test_compliance_assigns_and_decides_a_case_once(wallet_gql, db, settings,
                                                          player_factory):  # fmt: skip
    await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=3.0,
                    action="HOLD_WITHDRAWALS")  # fmt: skip
    player = await player_factory()
    await _burst(wallet_gql, db, settings, player)
    case_id = (await _case_of(wallet_gql, player))[0]["id"]

    assigned = await wallet_gql.raw(ASSIGN, {"c": case_id, "a": "analyst-7"}, as_=COMPLIANCE)
    too_short = await wallet_gql.raw(DECIDE, {"c": case_id, "d": "CLEAR", "n": "ok"},
                                     as_=COMPLIANCE)  # fmt: skip
    cleared = await wallet_gql.raw(DECIDE, {"c": case_id, "d": "CLEAR", "n": "known streamer"},
                                   as_=COMPLIANCE)  # fmt: skip
    again = await wallet_gql.raw(DECIDE, {"c": case_id, "d": "BLOCK", "n": "changed my mind"},
                                 as_=COMPLIANCE)  # fmt: skip

    assert assigned["data"]["assignFraudCase"] == {
        "__typename": "FraudCase", "status": "OPEN", "assignee": "analyst-7",
    }  # fmt: skip
    assert too_short.get("errors") is None, too_short
    assert too_short["data"]["decideFraudCase"]["__typename"] == "ValidationError"
    assert cleared["data"]["decideFraudCase"] == {
        "__typename": "FraudCase", "status": "DECIDED", "decision": "CLEAR",
        "note": "known streamer", "decidedBy": COMPLIANCE.key,
    }  # fmt: skip
    assert again["data"]["decideFraudCase"]["code"] == "FRAUD_CASE_NOT_OPEN"
    # CLEAR lifted the hold; BLOCK after the decision changed nothing.
    assert await scalar(db, "SELECT count(*) FROM fraud_flags") == 0
    assert (await risk(wallet_gql, player))["status"] == "ACTIVE"
    decided = await scalar(
        db, "SELECT count(*) FROM outbox_events WHERE type = 'fraud.case_decided'"
    )
    audited = await scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'fraud.decide_case'")
    assert (decided, audited) == (1, 1)
    open_cases = await wallet_gql.raw(CASES, {"f": {"status": "OPEN"}}, as_=COMPLIANCE)
    assert open_cases["data"]["fraudCases"] == []


async def test_a_block_decision_blocks_through_the_status_path(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=3.0)
    player = await player_factory()
    await _burst(wallet_gql, db, settings, player)
    case_id = (await _case_of(wallet_gql, player))[0]["id"]

    decided = await wallet_gql.raw(DECIDE, {"c": case_id, "d": "BLOCK", "n": "bot farm"},
                                   as_=COMPLIANCE)  # fmt: skip

    assert decided["data"]["decideFraudCase"]["decision"] == "BLOCK"
    assert (await risk(wallet_gql, player))["status"] == "BLOCKED"


async def test_risk_fields_and_cases_are_for_compliance_and_admin_only(
    wallet_gql, db, settings, player_factory
):
    await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=3.0)
    player = await player_factory()
    await _burst(wallet_gql, db, settings, player)
    case_id = (await _case_of(wallet_gql, player))[0]["id"]

    as_support = await risk(wallet_gql, player, as_=SUPPORT)
    as_player = await risk(wallet_gql, player, as_=player_principal(player))
    support_cases = await wallet_gql.raw(CASES, {"f": None}, as_=SUPPORT)
    support_decides = await wallet_gql.raw(DECIDE, {"c": case_id, "d": "CLEAR", "n": "nothing"},
                                           as_=SUPPORT)  # fmt: skip

    # A field the caller may not see is empty: no score, no signal, no evidence.
    assert (as_support["riskScore"], as_support["riskSignals"]) == (None, [])
    assert (as_player["riskScore"], as_player["riskSignals"]) == (None, [])
    assert support_cases["data"]["fraudCases"] in (None, [])
    assert support_decides["data"]["decideFraudCase"]["__typename"] == "Forbidden"
    assert await scalar(db, "SELECT status FROM fraud_cases") == "OPEN"


async def test_unknown_or_malformed_case_ids_are_typed_errors(wallet_gql, db):
    missing = await wallet_gql.raw(
        ASSIGN, {"c": "00000000-0000-0000-0000-000000000000", "a": "x"}, as_=COMPLIANCE
    )
    malformed = await wallet_gql.raw(ASSIGN, {"c": "nope", "a": "x"}, as_=COMPLIANCE)

    assert missing["data"]["assignFraudCase"]["code"] == "NOT_FOUND"
    assert malformed["data"]["assignFraudCase"]["code"] == "VALIDATION_ERROR"
