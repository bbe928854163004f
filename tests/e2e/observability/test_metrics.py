"""``/metrics`` after real traffic through the API: the counters move by exactly what the
requests did (the registry is process-wide, so every assertion is on a delta)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from app.core.settings import Settings
from app.events.delivery import WebhookDispatcher
from app.events.hub import EventHub
from app.events.relay import CallableSink, Relay
from app.events.webhooks import queue_deliveries
from tests.e2e.test_register_player import REGISTER
from tests.factories import create_player, registration
from tests.integration.wallets.conftest import MUTATIONS, make_wallet_gql, new_key
from tests.realtime.conftest import record_event
from tests.realtime.test_webhooks import REGISTER as REGISTER_HOOK
from tests.realtime.test_webhooks import SECRET, Receiver

NAMED_QUERY = "query ObsProbe { __typename }"


async def test_http_requests_are_counted_by_route_template_and_status(client, scraper):
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/no/such/path")).status_code == 404

    assert (
        await scraper.delta("pms_http_requests_total", route="/healthz", method="GET", status="2xx")
        == 3
    )
    assert (
        await scraper.delta(
            "pms_http_requests_total", route="unmatched", method="GET", status="4xx"
        )
        == 1
    )
    assert (
        await scraper.delta(
            "pms_http_request_duration_seconds_count", route="/healthz", method="GET"
        )
        == 3
    )
    # /metrics itself is not counted (the scrapes above would have moved it)
    assert await scraper.delta("pms_http_requests_total", route="/metrics", method="GET",
                               status="2xx") == 0  # fmt: skip


async def test_graphql_operations_by_name_type_and_outcome(gql, scraper):
    for _ in range(2):
        assert (await gql(NAMED_QUERY, operationName="ObsProbe"))["data"] == {"__typename": "Query"}
    bad = await gql("query ObsBroken { noSuchField }")
    assert bad["errors"]

    assert (
        await scraper.delta(
            "pms_graphql_operations_total", operation="ObsProbe", type="query", outcome="ok"
        )
        == 2
    )
    assert (
        await scraper.delta(
            "pms_graphql_operations_total", operation="ObsBroken", type="query", outcome="error"
        )
        == 1
    )
    assert (
        await scraper.delta(
            "pms_graphql_operation_duration_seconds_count", operation="ObsProbe", type="query"
        )
        == 2
    )
    assert (
        await scraper.delta(
            "pms_http_requests_total", route="/graphql", method="POST", status="2xx"
        )
        == 3
    )


async def test_registration_outcomes(gql, scraper):
    ok = await gql(REGISTER, {"input": registration(email="obs.one@example.com")})
    assert ok["data"]["registerPlayer"]["__typename"] == "RegisterPlayerSuccess"
    again = await gql(REGISTER, {"input": registration(email="obs.one@example.com")})
    assert again["data"]["registerPlayer"]["__typename"] == "AlreadyExists"
    invalid = await gql(REGISTER, {"input": registration(email="not-an-email")})
    assert invalid["data"]["registerPlayer"]["__typename"] == "ValidationError"

    labels = {"mutation": "registerPlayer"}
    assert await scraper.delta("pms_mutation_results_total", **labels, result="success") == 1
    assert await scraper.delta(
        "pms_mutation_results_total", **labels,
        result=again["data"]["registerPlayer"]["code"],
    ) == 1  # fmt: skip
    assert (
        await scraper.delta("pms_mutation_results_total", **labels, result="VALIDATION_ERROR") == 1
    )


async def test_wallet_operations_replays_and_stored_errors(client, app, db, settings, scraper):
    wallet = make_wallet_gql(client, app)
    player = str((await create_player(db, settings)).id)
    async with db.transaction() as session:  # withdrawals need a KYC-verified player
        await session.execute(text("UPDATE players SET confirm_status = 'VERIFIED' WHERE id = :id"),
                              {"id": player})  # fmt: skip
    key = new_key()
    deposit = {"playerId": player, "amount": "25.00", "currency": "EUR",
               "paymentReference": "tok_obs", "idempotencyKey": key}  # fmt: skip
    first = await wallet.op("deposit", **deposit)
    replay = await wallet.op("deposit", **deposit)
    assert first == replay and first["__typename"] == "WalletOperation"
    await wallet.op("deposit", **{**deposit, "idempotencyKey": new_key()})
    short = await wallet.op("withdraw", playerId=player, amount="1000.00", currency="EUR",
                            paymentReference="tok_obs")  # fmt: skip
    assert short["__typename"] == "InsufficientFunds"

    assert await scraper.delta("pms_wallet_operations_total", operation="deposit",
                               outcome="OK") == 2  # fmt: skip
    assert await scraper.delta("pms_idempotent_replays_total", operation="deposit") == 1
    assert await scraper.delta("pms_wallet_operation_duration_seconds_count",
                               operation="deposit") == 2  # fmt: skip
    assert await scraper.delta("pms_wallet_operations_total", operation="withdraw",
                               outcome="INSUFFICIENT_FUNDS") == 1  # fmt: skip


async def test_wallet_operation_refused_by_a_domain_error_counts_its_code(
    client, app, db, settings, scraper
):
    wallet = make_wallet_gql(client, app)
    player = str((await create_player(db, settings)).id)
    key = new_key()
    fields = {"playerId": player, "amount": "5.00", "currency": "EUR",
              "paymentReference": "tok_obs", "idempotencyKey": key}  # fmt: skip
    await wallet.op("deposit", **fields)
    reused = await wallet.op("deposit", **{**fields, "amount": "6.00"})
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"

    assert await scraper.delta("pms_wallet_operations_total", operation="deposit",
                               outcome="IDEMPOTENCY_KEY_REUSED") == 1  # fmt: skip
    assert "deposit" in MUTATIONS  # the same documents the wallet tests use


async def test_outbox_relay_throughput_and_lag(db, scraper):
    await record_event(db, "player.registered", "p-obs-1", {"playerId": "p-obs-1"})
    await record_event(db, "player.registered", "p-obs-2", {"playerId": "p-obs-2"})
    await asyncio.sleep(0.05)
    seen: list[str] = []

    async def collect(session, envelopes):
        seen.extend(e["type"] for e in envelopes)

    assert await Relay(db, [CallableSink("collect", collect)]).run() == 2

    assert seen == ["player.registered", "player.registered"]
    assert await scraper.delta("pms_outbox_relayed_events_total", type="player.registered") == 2
    assert await scraper.delta("pms_outbox_event_lag_seconds_count") == 2
    samples = await scraper.scrape()
    assert scraper.value(samples, "pms_outbox_lag_seconds") >= 0.05


async def test_relay_failures_are_counted(db, scraper):
    await record_event(db, "player.registered", "p-obs-3", {"playerId": "p-obs-3"})

    async def broken(session, envelopes):
        raise ConnectionError("bus down")

    assert await Relay(db, [CallableSink("broken", broken)]).run() == 0
    assert await scraper.delta("pms_outbox_relay_failures_total") == 1
    assert await scraper.delta("pms_outbox_relayed_events_total", type="player.registered") == 0


async def test_webhook_deliveries_by_outcome(gql, auth, db, settings, scraper):
    fast = settings.model_copy(
        update={"webhook_backoff_base_seconds": 0.05, "webhook_max_attempts": 3,
                "webhook_timeout_seconds": 2}
    )  # fmt: skip
    admin = await auth.staff_headers("ADMIN")
    async with Receiver(failures=1) as receiver:
        body = await gql(REGISTER_HOOK, {"input": {"url": receiver.url, "eventTypes": ["*"],
                                                   "secret": SECRET}}, **admin)  # fmt: skip
        assert body["data"]["registerWebhookEndpoint"]["__typename"] == (
            "RegisterWebhookEndpointSuccess"
        )
        await record_event(db, "player.registered", "p-obs-4", {"playerId": "p-obs-4"})
        relay = Relay(db, [CallableSink("webhooks", queue_deliveries)])
        dispatcher = WebhookDispatcher(db, fast)
        try:
            for _ in range(30):
                await relay.run()
                await dispatcher.run()
                if len(receiver.requests) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await dispatcher.close()

    assert len(receiver.requests) == 2
    assert await scraper.delta("pms_webhook_deliveries_total", outcome="retry") == 1
    assert await scraper.delta("pms_webhook_deliveries_total", outcome="succeeded") == 1
    assert await scraper.delta("pms_webhook_delivery_duration_seconds_count") == 2


async def test_subscriptions_gauge_and_dropped_slow_consumers(scraper):
    hub = EventHub.from_settings(None, "obs.test", queue_size=1)
    await hub.start()
    try:
        async with hub.subscribe(), hub.subscribe():
            samples = await scraper.scrape()
            assert (
                scraper.value(samples, "pms_active_subscriptions")
                - scraper.value(scraper.before, "pms_active_subscriptions")
                == 2
            )
            # queue of one: the second event overflows both subscribers
            hub.dispatch({"type": "t", "subject": "s", "data": {}})
            hub.dispatch({"type": "t", "subject": "s", "data": {}})
        assert await scraper.delta("pms_subscriptions_dropped_slow_consumers_total") == 2
        assert await scraper.delta("pms_active_subscriptions") == 0
    finally:
        await hub.stop()


async def test_database_pool_gauges(app, client, db, scraper):
    async with app.router.lifespan_context(app):
        await client.get("/readyz")
        async with db.engine.connect():
            held = await scraper.scrape()
            assert scraper.value(held, "pms_db_pool_checked_out") >= 1
        samples = await scraper.scrape()
    assert scraper.value(samples, "pms_db_pool_capacity") >= 100  # the tests' 20 + 80
    assert scraper.value(samples, "pms_db_pool_connections") >= 1
    assert (
        scraper.value(held, "pms_db_pool_checked_out")
        == scraper.value(samples, "pms_db_pool_checked_out") + 1
    )


def test_unbounded_operation_names_collapse_to_other():
    from app.core import metrics

    assert metrics.bounded_label(None) == "anonymous"
    assert metrics.bounded_label("has spaces") == "other"
    assert metrics.bounded_label("x" * 65) == "other"
    assert metrics.bounded_label("ObsProbe") == "ObsProbe"
    assert isinstance(Settings, type)


async def test_kyc_status_changes_count_only_committed_transactions(db, settings, scraper):
    from app.kyc import service as kyc
    from app.kyc.provider import DocumentSubmission

    passport = DocumentSubmission("PASSPORT", "DE", "C01X00T471", "2035-01-01")
    first = await create_player(db, settings)
    second = await create_player(db, settings)
    async with db.transaction() as session:
        await kyc.open_case(session, first.id, [passport], provider="sandbox",
                            actor="player:x", settings=settings)  # fmt: skip

    class Abort(Exception):
        pass

    try:
        async with db.transaction() as session:
            await kyc.open_case(session, second.id, [passport], provider="sandbox",
                                actor="player:y", settings=settings)  # fmt: skip
            raise Abort
    except Abort:
        pass

    assert await scraper.delta("pms_kyc_status_changes_total", action="submitted",
                               status="PENDING") == 1  # fmt: skip
