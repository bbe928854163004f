"""Rules as data: validated on save (typed errors, nothing written), versioned, COMPLIANCE
only; a dry run reports who a rule would have hit."""

from __future__ import annotations

import pytest

from tests.integration.fraud.conftest import COMPLIANCE, SAVE_RULE, SUPPORT, drain, save_rule
from tests.integration.wallets.conftest import scalar

DRY_RUN = """query($s: String!, $t: Float!, $d: Int!) {
  fraudRuleDryRun(signal: $s, threshold: $t, days: $d) { playerId value observations } }"""


async def test_saving_a_rule_again_writes_its_next_version(wallet_gql, db):
    first = await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=5)
    second = await save_rule(wallet_gql, key="burst", signal="bet_rate", threshold=8,
                             action="AUTO_BLOCK")  # fmt: skip
    listed = await wallet_gql.raw("{ fraudRules { key version threshold action } }", as_=COMPLIANCE)
    every = await wallet_gql.raw(
        "{ fraudRules(allVersions: true) { key version } }", as_=COMPLIANCE
    )

    assert (first["__typename"], first["version"]) == ("FraudRule", 1)
    assert (second["version"], second["threshold"], second["action"]) == (2, 8.0, "AUTO_BLOCK")
    assert listed["data"]["fraudRules"] == [
        {"key": "burst", "version": 2, "threshold": 8.0, "action": "AUTO_BLOCK"}
    ]
    assert [r["version"] for r in every["data"]["fraudRules"]] == [2, 1]
    assert (
        await scalar(db, "SELECT count(*) FROM outbox_events WHERE type = 'fraud.rule_saved'") == 2
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"signal": "telepathy"}, "signal"),
        ({"action": "SHOOT"}, "action"),
        ({"weight": 101}, "weight"),
        ({"weight": -1}, "weight"),
        ({"threshold": -0.5}, "threshold"),
        ({"key": "bad key!"}, "key"),
        ({"key": ""}, "key"),
    ],
)
async def test_an_invalid_rule_is_a_typed_error_and_saves_nothing(wallet_gql, db, fields, field):
    rule = {"key": "r1", "signal": "bet_rate", "threshold": 5.0, **fields}

    answer = await save_rule(wallet_gql, **rule)

    assert (answer["__typename"], answer["code"], answer["field"]) == (
        "InvalidFraudRuleError", "INVALID_FRAUD_RULE", field,
    )  # fmt: skip
    assert await scalar(db, "SELECT count(*) FROM fraud_rules") == 0
    assert await scalar(db, "SELECT count(*) FROM outbox_events") == 0


async def test_only_compliance_and_admin_manage_rules(wallet_gql, db):
    rule = {"key": "r1", "signal": "bet_rate", "threshold": 5.0, "weight": 10, "action": "FLAG"}

    denied = await wallet_gql.raw(SAVE_RULE, {"i": rule}, as_=SUPPORT)
    listed = await wallet_gql.raw("{ fraudRules { key } }", as_=SUPPORT)

    assert denied["data"]["saveFraudRule"]["__typename"] == "Forbidden"
    assert listed["data"]["fraudRules"] in (None, [])
    assert await scalar(db, "SELECT count(*) FROM fraud_rules") == 0


async def test_dry_run_reports_who_a_threshold_would_have_hit(
    wallet_gql, db, settings, player_factory
):
    calm, busy = await player_factory(), await player_factory()
    for player, bets in ((calm, 3), (busy, 30)):
        await wallet_gql.op("deposit", playerId=player, amount="100.00", currency="EUR",
                            paymentReference=f"tok-{player[:8]}")  # fmt: skip
        for i in range(bets):
            await wallet_gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                                gameRoundId=f"dr-{i}", transactionId=f"dr-b{i}")  # fmt: skip
            await wallet_gql.op("settleBet", playerId=player, gameRoundId=f"dr-{i}",
                                winAmount="0", currency="EUR",
                                transactionId=f"dr-w{i}")  # fmt: skip
    await drain(db, settings)

    body = await wallet_gql.raw(DRY_RUN, {"s": "bet_rate", "t": 2.5, "d": 7}, as_=COMPLIANCE)
    unknown = await wallet_gql.raw(DRY_RUN, {"s": "nope", "t": 1.0, "d": 7}, as_=COMPLIANCE)

    hits = body["data"]["fraudRuleDryRun"]
    assert [h["playerId"] for h in hits] == [busy]
    assert hits[0]["value"] >= 3.0  # at least 12 bets in one minute over the prior of 4
    assert unknown["data"]["fraudRuleDryRun"] is None
    assert await scalar(db, "SELECT count(*) FROM fraud_hits") == 0  # a dry run writes nothing
