"""Alert rules as data through the API: validated on save (typed errors, nothing saved),
versioned, readable with alert:read, writable only with alert:manage."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from tests.auth import staff_principal, token_for
from tests.e2e.alerts.conftest import SAVE_RULE

RULES = """
query Rules($all: Boolean! = false) {
  alertRules(allVersions: $all) { key version kind metric threshold clearThreshold createdBy }
}
"""
REGISTRATION_RULE = {"key": "registration-errors", "kind": "FAILURE_RATE",
                     "metric": "registration_errors", "threshold": 5.0, "clearThreshold": 3.0,
                     "windowSeconds": 900, "forEvaluations": 2, "minSamples": 20}  # fmt: skip


async def count(db, sql: str) -> int:
    async with db.read_session() as session:
        return int((await session.execute(text(sql))).scalar_one())


async def test_saving_a_rule_again_writes_its_next_version(alerts_api, db):
    first = await alerts_api.save_rule(**REGISTRATION_RULE)
    second = await alerts_api.save_rule(**{**REGISTRATION_RULE, "threshold": 7.5})

    assert (first["__typename"], first["version"], first["createdBy"]) == (
        "AlertRule",
        1,
        "staff:ops-on-call",
    )
    assert (second["version"], second["threshold"], second["clearThreshold"]) == (2, 7.5, 3.0)
    latest = (await alerts_api.call(RULES))["alertRules"]
    assert [(r["key"], r["version"]) for r in latest] == [("registration-errors", 2)]
    every = (await alerts_api.call(RULES, {"all": True}))["alertRules"]
    assert [r["version"] for r in every] == [1, 2]
    saved = "SELECT count(*) FROM outbox_events WHERE type = 'alert.rule_saved'"
    assert await count(db, saved) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": "cpu_temperature"}, "metric"),
        ({"metric": "outbox_lag"}, "metric"),  # a metric of another kind
        ({"windowSeconds": -900}, "windowSeconds"),
        ({"windowSeconds": 30}, "windowSeconds"),
        ({"threshold": -1.0}, "threshold"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 250.0}, "threshold"),  # a rate is a percentage
        ({"clearThreshold": 9.0}, "clearThreshold"),  # above the threshold: no band
        ({"forEvaluations": 0}, "forEvaluations"),
        ({"minSamples": 0}, "minSamples"),
        ({"key": "no spaces"}, "key"),
        ({"baselineSeconds": 3600}, "baselineSeconds"),  # a rate has no baseline
        ({"currency": "EUR"}, "currency"),
    ],
)
async def test_invalid_rule_is_a_typed_error_and_nothing_is_saved(alerts_api, db, change, field):
    result = await alerts_api.save_rule(**{**REGISTRATION_RULE, **change})

    assert result["__typename"] == "InvalidAlertRuleError", result
    assert (result["code"], result["field"]) == ("INVALID_ALERT_RULE", field)
    assert await count(db, "SELECT count(*) FROM alert_rules") == 0
    assert await count(db, "SELECT count(*) FROM outbox_events") == 0


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "DEPOSIT_SWING", "metric": "average_deposit", "threshold": 50.0,
          "windowSeconds": 600, "baselineSeconds": 600, "currency": "EUR"}, "baselineSeconds"),
        ({"kind": "DEPOSIT_SWING", "metric": "average_deposit", "threshold": 50.0,
          "windowSeconds": 600, "baselineSeconds": 86400, "currency": "XXX"}, "currency"),
        ({"kind": "REVERSAL_SPIKE", "metric": "reversals", "threshold": 3.0,
          "windowSeconds": 600}, "baselineSeconds"),
        ({"kind": "OUTBOX_LAG", "metric": "outbox_lag", "threshold": 60.0,
          "baselineSeconds": 600}, "baselineSeconds"),
    ],
)  # fmt: skip
async def test_swing_spike_and_lag_rules_are_checked_too(alerts_api, db, rule, field):
    result = await alerts_api.save_rule(key="k", **rule)
    assert (result["__typename"], result["field"]) == ("InvalidAlertRuleError", field)
    assert await count(db, "SELECT count(*) FROM alert_rules") == 0


async def test_unknown_kind_is_refused_by_the_schema(alerts_api, db):
    body = await alerts_api.gql(SAVE_RULE, {"input": {**REGISTRATION_RULE, "kind": "CPU"}},
                                **await alerts_api.headers())  # fmt: skip
    assert body["errors"] and body.get("data") is None
    assert await count(db, "SELECT count(*) FROM alert_rules") == 0


@pytest.mark.parametrize("role", ["SUPPORT", "FINANCE", "MARKETER"])
async def test_saving_needs_alert_manage_and_the_refusal_is_audited(alerts_api, db, role):
    token = await token_for(alerts_api.app, staff_principal(role, f"{role.lower()}-1"))
    body = await alerts_api.gql(SAVE_RULE, {"input": REGISTRATION_RULE},
                                authorization=f"Bearer {token}")  # fmt: skip

    assert body["data"]["saveAlertRule"]["__typename"] == "Forbidden"
    assert await count(db, "SELECT count(*) FROM alert_rules") == 0
    assert await count(db, "SELECT count(*) FROM audit_log WHERE action = 'graphql.saveAlertRule'"
                           " AND outcome = 'denied'") == 1  # fmt: skip


async def test_reading_needs_alert_read(alerts_api):
    await alerts_api.save_rule(**REGISTRATION_RULE)
    support = await token_for(alerts_api.app, staff_principal("SUPPORT", "s-1"))
    marketer = await token_for(alerts_api.app, staff_principal("MARKETER", "m-1"))

    allowed = await alerts_api.gql(RULES, authorization=f"Bearer {support}")
    refused = await alerts_api.gql(RULES, authorization=f"Bearer {marketer}")

    assert [r["key"] for r in allowed["data"]["alertRules"]] == ["registration-errors"]
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["data"] is None


@pytest.mark.race
async def test_concurrent_saves_of_one_key_get_consecutive_versions(alerts_api, db):
    answers = await asyncio.gather(*(
        alerts_api.save_rule(**{**REGISTRATION_RULE, "threshold": 4.0 + n}) for n in range(1, 11)
    ))  # fmt: skip
    assert sorted(a.get("version", 0) for a in answers) == list(range(1, 11)), answers
    assert await count(db, "SELECT count(DISTINCT version) FROM alert_rules") == 10
