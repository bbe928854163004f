"""An alert's life through the API: acknowledged and resolved by staff (who, when, in the
history and as events), typed errors for the rest, and the races: many evaluators in
parallel fire once, many staff acknowledging at once succeed once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from app.alerts import evaluator
from app.core.db import Database
from tests.auth import staff_principal, token_for
from tests.e2e.alerts.conftest import ACK, ALERTS, RESOLVE, outbox_types
from tests.e2e.test_register_player import REGISTER
from tests.factories import registration


async def firing_alert(alerts_api, **rule) -> dict:
    """An outbox-lag alert: the test app runs no relay, so a registration's event waits."""
    saved = await alerts_api.save_rule(key="lag", kind="OUTBOX_LAG", metric="outbox_lag",
                                       threshold=10.0, clearThreshold=5.0, **rule)  # fmt: skip
    assert saved["__typename"] == "AlertRule"
    body = await alerts_api.gql(REGISTER, {"input": registration()})
    assert body["data"]["registerPlayer"]["__typename"] == "RegisterPlayerSuccess"
    for _ in range(rule.get("forEvaluations", 1)):
        await alerts_api.tick(seconds=30)
    (alert,) = await alerts_api.alerts()
    assert alert["status"] == "FIRING"
    return alert


async def test_acknowledge_then_resolve_records_who_and_when(alerts_api, db):
    alert = await firing_alert(alerts_api)

    acked = (await alerts_api.call(ACK, {"id": alert["id"], "note": "looking"}))["acknowledgeAlert"]
    assert (acked["__typename"], acked["status"], acked["acknowledgedBy"]) == (
        "Alert", "ACKNOWLEDGED", "staff:ops-on-call")  # fmt: skip
    await alerts_api.tick(seconds=30)  # still lagging: stays open, acknowledged
    assert (await alerts_api.alerts())[0]["status"] == "ACKNOWLEDGED"

    resolved = (await alerts_api.call(RESOLVE, {"id": alert["id"]}))["resolveAlert"]
    assert (resolved["status"], resolved["resolvedBy"]) == ("RESOLVED", "staff:ops-on-call")
    assert [(h["action"], h["actor"], h["note"]) for h in resolved["history"]] == [
        ("FIRED", "system", ""), ("ACKNOWLEDGED", "staff:ops-on-call", "looking"),
        ("RESOLVED", "staff:ops-on-call", ""),
    ]  # fmt: skip
    assert resolved["acknowledgedAt"] <= resolved["resolvedAt"]
    assert (await outbox_types(db))[1:] == ["alert.fired", "alert.acknowledged", "alert.resolved"]

    # the filter: by status and by rule
    assert await alerts_api.alerts(status=["FIRING", "ACKNOWLEDGED"]) == []
    assert [a["id"] for a in await alerts_api.alerts(status=["RESOLVED"], ruleKey="lag")] == [
        alert["id"]
    ]


async def test_resolved_while_still_breaching_fires_again_after_n_rounds(alerts_api):
    alert = await firing_alert(alerts_api, forEvaluations=2)
    await alerts_api.call(RESOLVE, {"id": alert["id"]})

    await alerts_api.tick(seconds=30)
    assert len(await alerts_api.alerts()) == 1  # no new alert yet: hysteresis starts over
    await alerts_api.tick(seconds=30)
    again = await alerts_api.alerts(status=["FIRING"])
    assert len(again) == 1 and again[0]["id"] != alert["id"]


async def test_acknowledge_and_resolve_refusals_are_typed_and_change_nothing(alerts_api, db):
    alert = await firing_alert(alerts_api)
    await alerts_api.call(ACK, {"id": alert["id"]})

    twice = (await alerts_api.call(ACK, {"id": alert["id"]}))["acknowledgeAlert"]
    unknown = (await alerts_api.call(RESOLVE, {"id": str(uuid.uuid4())}))["resolveAlert"]
    bad_id = (await alerts_api.call(RESOLVE, {"id": "42"}))["resolveAlert"]
    support = await token_for(alerts_api.app, staff_principal("SUPPORT", "support-1"))
    body = await alerts_api.gql(RESOLVE, {"id": alert["id"]}, authorization=f"Bearer {support}")
    read = await alerts_api.gql(ALERTS, authorization=f"Bearer {support}")
    await alerts_api.call(RESOLVE, {"id": alert["id"]})
    after = (await alerts_api.call(RESOLVE, {"id": alert["id"]}))["resolveAlert"]

    assert (twice["__typename"], twice["code"]) == ("AlertNotOpen", "ALERT_NOT_OPEN")
    assert (unknown["__typename"], unknown["code"]) == ("NotFound", "NOT_FOUND")
    assert bad_id["__typename"] == "ValidationError"
    assert body["data"]["resolveAlert"]["__typename"] == "Forbidden"
    assert read["data"]["alerts"][0]["status"] == "ACKNOWLEDGED"  # SUPPORT may read
    assert (after["__typename"], after["code"]) == ("AlertNotOpen", "ALERT_NOT_OPEN")
    (final,) = await alerts_api.alerts()
    assert [h["action"] for h in final["history"]] == ["FIRED", "ACKNOWLEDGED", "RESOLVED"]
    assert (await outbox_types(db))[1:] == ["alert.fired", "alert.acknowledged", "alert.resolved"]


@pytest.mark.race
async def test_many_replicas_evaluating_at_once_fire_one_alert(alerts_api, settings, db):
    await alerts_api.save_rule(key="lag", kind="OUTBOX_LAG", metric="outbox_lag",
                               threshold=10.0)  # fmt: skip
    await alerts_api.gql(REGISTER, {"input": registration()})
    replicas = [Database(settings.database_url or "", pool_size=2, max_overflow=0)
                for _ in range(8)]  # fmt: skip
    try:
        for _ in range(3):  # rounds: each time all 8 evaluate at the same moment
            alerts_api.clock += timedelta(seconds=30)
            results = await asyncio.gather(*(
                evaluator.run(r, alerts_api.settings, now=alerts_api.clock) for r in replicas
            ))  # fmt: skip
            assert sum(results) <= 1
    finally:
        for r in replicas:
            await r.dispose()

    (alert,) = await alerts_api.alerts()
    assert [h["action"] for h in alert["history"]] == ["FIRED"]
    assert (await outbox_types(db))[1:] == ["alert.fired"]


@pytest.mark.race
async def test_staff_acknowledging_at_once_succeed_once(alerts_api):
    alert = await firing_alert(alerts_api)
    answers = await asyncio.gather(
        *(alerts_api.call(ACK, {"id": alert["id"], "note": f"me {n}"}) for n in range(10))
    )
    kinds = sorted(a["acknowledgeAlert"]["__typename"] for a in answers)
    assert kinds == ["Alert"] + ["AlertNotOpen"] * 9
    (final,) = await alerts_api.alerts()
    assert [h["action"] for h in final["history"]] == ["FIRED", "ACKNOWLEDGED"]
