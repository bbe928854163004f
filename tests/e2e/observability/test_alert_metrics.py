"""Alert metrics on ``/metrics``: open alerts by kind, alerts fired, and the age of the
oldest undelivered outbox event (which, unlike the relay's lag gauge, grows while the relay
is stuck)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.alerts import evaluator
from app.core import counters
from app.events.relay import CallableSink, Relay
from tests.e2e.alerts.conftest import SAVE_RULE
from tests.e2e.test_register_player import REGISTER
from tests.factories import registration


async def test_open_alerts_fired_count_and_oldest_pending_event(gql, auth, db, settings,
                                                                scraper):  # fmt: skip
    counters.drain()
    admin = await auth.staff_headers("ADMIN")
    saved = await gql(SAVE_RULE, {"input": {"key": "lag", "kind": "OUTBOX_LAG",
                                            "metric": "outbox_lag", "threshold": 30.0}},
                      **admin)  # fmt: skip
    assert saved["data"]["saveAlertRule"]["__typename"] == "AlertRule"
    assert (await gql(REGISTER, {"input": registration()}))["data"]["registerPlayer"][
        "__typename"
    ] == "RegisterPlayerSuccess"

    later = datetime.now(UTC) + timedelta(seconds=60)
    await evaluator.run(db, settings, now=later)  # the relay is stuck (none runs here)
    firing = await scraper.scrape()
    relay = Relay(db, [CallableSink("noop", lambda s, e: _noop())])
    await relay.run()
    await evaluator.run(db, settings, now=later + timedelta(seconds=30))
    await relay.run()  # the alert.resolved event too
    await evaluator.refresh_gauges(db)
    cleared = await scraper.scrape()

    assert scraper.value(firing, "pms_alerts_firing", kind="OUTBOX_LAG") == 1
    assert scraper.value(firing, "pms_alerts_firing", kind="FAILURE_RATE") == 0
    assert (
        scraper.value(firing, "pms_alerts_fired_total", kind="OUTBOX_LAG")
        - scraper.value(scraper.before, "pms_alerts_fired_total", kind="OUTBOX_LAG")
        == 1
    )
    assert scraper.value(firing, "pms_outbox_oldest_pending_seconds") > 0
    assert scraper.value(cleared, "pms_alerts_firing", kind="OUTBOX_LAG") == 0
    assert scraper.value(cleared, "pms_outbox_oldest_pending_seconds") == 0


async def _noop() -> None:
    return None
