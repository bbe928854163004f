"""Each rule kind driven by real traffic through the API (registrations, money operations,
webhook deliveries, a stuck outbox), evaluated by the task's own function at chosen times:
the alert fires only after ``forEvaluations`` breaching rounds, stays open inside the
hysteresis band, clears below ``clearThreshold``, and every step is history and an event."""

from __future__ import annotations

import asyncio
import json

from app.events.delivery import WebhookDispatcher
from app.events.relay import CallableSink, Relay
from app.events.webhooks import queue_deliveries
from tests.auth import staff_principal, token_for
from tests.e2e.alerts.conftest import age_counters, outbox_types
from tests.e2e.test_register_player import REGISTER
from tests.factories import registration
from tests.integration.wallets.conftest import make_wallet_gql, new_key
from tests.realtime.test_webhooks import REGISTER as REGISTER_HOOK
from tests.realtime.test_webhooks import SECRET, Receiver


async def register(alerts_api, *, valid: bool) -> str:
    data = registration() if valid else registration(email="not-an-email")
    body = await alerts_api.gql(REGISTER, {"input": data})
    result = body["data"]["registerPlayer"]
    assert result["__typename"] == ("RegisterPlayerSuccess" if valid else "ValidationError"), body
    return result["player"]["id"] if valid else ""


async def only_alert(alerts_api) -> dict:
    (alert,) = await alerts_api.alerts()
    return alert


def actions(alert: dict) -> list[tuple[str, str]]:
    return [(h["action"], h["actor"]) for h in alert["history"]]


async def test_registration_error_rate_fires_after_n_rounds_holds_in_the_band_and_clears(
    alerts_api, db
):
    rule = await alerts_api.save_rule(
        key="registration-errors", kind="FAILURE_RATE", metric="registration_errors",
        threshold=20.0, clearThreshold=10.0, windowSeconds=900, forEvaluations=2, minSamples=5,
    )  # fmt: skip
    assert rule["__typename"] == "AlertRule"
    for valid in (True, True, True, False, False):  # 40 % refused
        await register(alerts_api, valid=valid)

    await alerts_api.tick()
    assert await alerts_api.alerts() == []  # one breaching round is not enough
    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert (alert["status"], alert["value"], alert["threshold"]) == ("FIRING", 40.0, 20.0)
    assert actions(alert) == [("FIRED", "system")]

    for _ in range(7):  # 2 of 12 = 16.7 %: below the threshold, above the clear level
        await register(alerts_api, valid=True)
    for _ in range(3):
        await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert alert["status"] == "FIRING" and round(alert["lastValue"], 1) == 16.7

    for _ in range(8):  # 2 of 20 = 10 %: at the clear level
        await register(alerts_api, valid=True)
    await alerts_api.tick()
    assert (await only_alert(alerts_api))["status"] == "FIRING"  # one recovered round
    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert (alert["status"], alert["resolvedBy"], alert["lastValue"]) == ("RESOLVED", "system",
                                                                          10.0)  # fmt: skip
    assert actions(alert) == [("FIRED", "system"), ("CLEARED", "system")]
    assert [h["value"] for h in alert["history"]] == [40.0, 10.0]
    assert await outbox_types(db) == ["alert.rule_saved", "alert.fired", "alert.resolved"]


async def test_wallet_error_rate_from_refused_money_operations(alerts_api, alert_client, db,
                                                               settings, alert_app):  # fmt: skip
    await alerts_api.save_rule(key="wallet-errors", kind="FAILURE_RATE", metric="wallet_errors",
                               threshold=30.0, clearThreshold=25.0, windowSeconds=600)  # fmt: skip
    wallet = make_wallet_gql(alert_client, alert_app)
    player = await register(alerts_api, valid=True)
    money = {"playerId": player, "currency": "EUR", "paymentReference": "tok_alert"}
    for _ in range(2):
        assert (await wallet.op("deposit", amount="10.00", **money))["__typename"] == (
            "WalletOperation"
        )
    for n in range(2):  # bets above the balance: a stored INSUFFICIENT_FUNDS
        bet = await wallet.op("reserveBet", playerId=player, amount="500.00", currency="EUR",
                              gameRoundId=f"r-{n}", transactionId=f"t-{n}")  # fmt: skip
        assert bet["__typename"] == "InsufficientFunds"
    key = new_key()  # a replay is no second operation: it changes no rate
    await wallet.op("deposit", amount="1.00", idempotencyKey=key, **money)
    await wallet.op("deposit", amount="1.00", idempotencyKey=key, **money)

    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert (alert["status"], alert["value"]) == ("FIRING", 40.0)  # 2 of 5

    for _ in range(4):
        await wallet.op("deposit", amount="10.00", **money)
    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert (alert["status"], alert["lastValue"]) == ("RESOLVED", 2 / 9 * 100)


async def test_webhook_dead_letters_fire_and_the_alert_itself_reaches_the_webhook(
    alerts_api, db, settings
):
    fast = settings.model_copy(update={"webhook_max_attempts": 1, "webhook_timeout_seconds": 2})
    await alerts_api.save_rule(key="dead-letters", kind="FAILURE_RATE",
                               metric="webhook_dead_letters", threshold=50.0, clearThreshold=30.0,
                               windowSeconds=600, minSamples=2)  # fmt: skip
    admin = await token_for(alerts_api.app, staff_principal("ADMIN", "admin-1"))
    relay = Relay(db, [CallableSink("webhooks", queue_deliveries)])
    dispatcher = WebhookDispatcher(db, fast)

    async def deliver(expected: int) -> None:
        for _ in range(100):
            await relay.run()
            await dispatcher.run()
            if len(receiver.requests) >= expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(receiver.requests)} of {expected} deliveries")

    async with Receiver(failures=2) as receiver:
        body = await alerts_api.gql(REGISTER_HOOK, {"input": {
            "url": receiver.url, "secret": SECRET,
            "eventTypes": ["player.registered", "alert.fired", "alert.resolved"],
        }}, authorization=f"Bearer {admin}")  # fmt: skip
        assert body["data"]["registerWebhookEndpoint"]["__typename"] == (
            "RegisterWebhookEndpointSuccess"
        )
        try:
            for _ in range(2):  # both deliveries fail once: dead at once (max 1 attempt)
                await register(alerts_api, valid=True)
            await deliver(2)
            await alerts_api.tick()
            assert (await only_alert(alerts_api))["value"] == 100.0
            await deliver(3)  # alert.fired goes out like every event
            for _ in range(6):
                await register(alerts_api, valid=True)
            await deliver(9)
            await alerts_api.tick()
            await deliver(10)
        finally:
            await dispatcher.close()

    alert = await only_alert(alerts_api)
    # 2 dead of 9 finished: 8 registrations and the alert.fired delivery
    assert alert["status"] == "RESOLVED" and alert["lastValue"] == 2 / 9 * 100
    sent = [json.loads(b)["type"] for _, b in receiver.requests]
    assert sent.count("alert.fired") == 1 and sent[-1] == "alert.resolved"
    fired = next(json.loads(b) for _, b in receiver.requests if b"alert.fired" in b)
    assert fired["data"]["ruleKey"] == "dead-letters" and fired["data"]["status"] == "FIRING"


async def test_deposit_swing_against_the_trailing_window(alerts_api, alert_client, alert_app, db):
    await alerts_api.save_rule(
        key="avg-deposit-eur", kind="DEPOSIT_SWING", metric="average_deposit", currency="EUR",
        threshold=100.0, clearThreshold=50.0, windowSeconds=300, baselineSeconds=3600,
        minSamples=3,
    )  # fmt: skip
    wallet = make_wallet_gql(alert_client, alert_app)
    player = await register(alerts_api, valid=True)
    money = {"playerId": player, "currency": "EUR", "paymentReference": "tok_swing"}
    for amount in ("10.00", "12.00", "8.00"):  # the usual deposits, an hour ago
        await wallet.op("deposit", amount=amount, **money)
    await alerts_api.tick()  # consumed into the counters; no baseline yet: no judgement
    await age_counters(db, "deposit.%", 1800)
    await wallet.op("deposit", amount="15.00", **money)  # a usual one now: no alert
    for _ in range(2):
        await wallet.op("deposit", amount="10.00", **money)
    await alerts_api.tick()
    assert await alerts_api.alerts() == []

    for _ in range(3):  # unusually large deposits: the window's average jumps
        await wallet.op("deposit", amount="250.00", **money)
    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    # window (15 + 10 + 10 + 3 x 250) / 6 = 130.83 vs 10.00 before
    assert alert["status"] == "FIRING" and round(alert["value"]) == 1208

    await alerts_api.tick(seconds=400)  # the window moves past them: no judgement, clears
    alert = await only_alert(alerts_api)
    assert alert["status"] == "RESOLVED" and alert["lastValue"] is None


async def test_reversal_spike_against_the_baseline(alerts_api, alert_client, alert_app, db):
    wallet = make_wallet_gql(alert_client, alert_app)
    player = await register(alerts_api, valid=True)
    await wallet.op("deposit", playerId=player, amount="100.00", currency="EUR",
                    paymentReference="tok_rb")  # fmt: skip

    async def bet_rolled_back(n: int) -> None:
        tx = f"bet-{n}-{new_key()}"
        await wallet.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                        gameRoundId=f"round-{tx}", transactionId=tx)  # fmt: skip
        result = await wallet.op("rollbackBet", playerId=player, transactionId=tx)
        assert result["__typename"] == "WalletOperation", result

    for n in range(10):  # the usual: 10 in 100 minutes, 1 per 10-minute window
        await bet_rolled_back(n)
    await alerts_api.tick()  # counted (no rule yet)
    await age_counters(db, "reversal", 3000)
    rule = await alerts_api.save_rule(
        key="reversal-spike", kind="REVERSAL_SPIKE", metric="reversals", threshold=3.0,
        clearThreshold=1.0, windowSeconds=600, baselineSeconds=6000, minSamples=2,
    )  # fmt: skip
    assert rule["__typename"] == "AlertRule"
    await bet_rolled_back(10)
    await alerts_api.tick()
    assert await alerts_api.alerts() == []  # 1 in the window: below minSamples

    for n in range(11, 14):
        await bet_rolled_back(n)
    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert alert["status"] == "FIRING" and alert["value"] == 4.0  # 4 where 1 is usual

    await alerts_api.tick(seconds=700)
    assert (await only_alert(alerts_api))["status"] == "RESOLVED"


async def test_outbox_lag_fires_while_the_relay_is_stuck_and_clears_when_it_delivers(
    alerts_api, db
):
    await alerts_api.save_rule(key="outbox-lag", kind="OUTBOX_LAG", metric="outbox_lag",
                               threshold=60.0, clearThreshold=5.0)  # fmt: skip
    await register(alerts_api, valid=True)  # its event waits: no relay runs in this app

    await alerts_api.tick()
    assert await alerts_api.alerts() == []
    await alerts_api.tick(seconds=90)  # 90 s later, still undelivered
    alert = await only_alert(alerts_api)
    assert alert["status"] == "FIRING" and alert["value"] >= 90

    delivered: list[str] = []

    async def sink(session, envelopes):
        delivered.extend(e["type"] for e in envelopes)

    await Relay(db, [CallableSink("test", sink)]).run()  # the relay catches up
    await alerts_api.tick()
    alert = await only_alert(alerts_api)
    assert alert["status"] == "RESOLVED" and alert["lastValue"] == 0.0
    assert "player.registered" in delivered and "alert.fired" in delivered
