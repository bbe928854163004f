"""The /admin back-office page in a real browser (issue 14 items 6-7): Debian's chromium
driven by Playwright against a real uvicorn server with the relay and the analytics
consumer running. Screenshots of each page go to ``.pms/artifacts/admin/``."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import text

from app.backoffice.routes import CSP
from tests import services
from tests.auth import service_principal, staff_principal, token_for
from tests.e2e.alerts.conftest import SAVE_RULE
from tests.e2e.test_register_player import REGISTER
from tests.factories import create_player, registration
from tests.identity_helpers import PASSWORD, create_staff
from tests.kyc_helpers import open_case_with
from tests.realtime.conftest import LiveServer, realtime_settings, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".pms" / "artifacts" / "admin"
CHROMIUM = os.environ.get("PMS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()

DEPOSIT = """mutation($input: DepositInput!) { deposit(input: $input) { __typename } }"""
DAILY = """query($d: Date!) { analyticsDaily(fromDay: $d, toDay: $d, currency: "EUR") {
  ... on AnalyticsDailySeries { days { deposits { amount } registrations } } } }"""


@pytest.fixture
async def debian_chromium() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        if services.REQUIRE_SERVICES:
            pytest.fail(f"chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def live_admin(settings: Any, db: Any) -> AsyncIterator[LiveServer]:
    fast = realtime_settings(settings, analytics_consume_interval_seconds=0.2)
    server, task, live = await start_server(fast, db)
    yield live
    await stop_server(server, task)


async def graphql(live: LiveServer, token: str, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables},
                                     headers={"authorization": f"Bearer {token}"})  # fmt: skip
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def deposit(live: LiveServer, token: str, player_id: Any, amount: str) -> None:
    data = await graphql(live, token, DEPOSIT, {"input": {
        "playerId": str(player_id), "amount": amount, "currency": "EUR",
        "paymentReference": f"psp-ref-{uuid.uuid4().hex[:8]}", "idempotencyKey": uuid.uuid4().hex,
    }})  # fmt: skip
    assert data["deposit"]["__typename"] == "WalletOperation", data


async def todays_deposits_in_db(db: Any) -> Decimal:
    """What the overview must show, straight from the ledger (not from the rollups)."""
    async with db.read_session() as session:
        cents = await session.scalar(text(
            "SELECT coalesce(sum(amount), 0) FROM ledger_transfers t "
            "JOIN wallets w ON w.id = t.wallet_id "
            "WHERE t.kind = 'DEPOSIT' AND w.currency = 'EUR' "
            "AND t.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        ))  # fmt: skip
    return Decimal(cents) / 100


async def kyc_queue_in_db(db: Any) -> list[tuple[str, str]]:
    """(player id, status) of the cases awaiting a decision, oldest first."""
    async with db.read_session() as session:
        rows = await session.execute(text(
            "SELECT player_id::text, status FROM kyc_cases "
            "WHERE status IN ('PENDING', 'MANUAL_REVIEW') ORDER BY created_at, id"
        ))  # fmt: skip
    return [(str(p), str(s)) for p, s in rows.all()]


async def rollups_caught_up(live: LiveServer, token: str, expected: Decimal) -> None:
    from datetime import UTC, datetime

    day = datetime.now(UTC).date().isoformat()
    for _ in range(100):
        days = (await graphql(live, token, DAILY, {"d": day}))["analyticsDaily"]["days"]
        if days and Decimal(days[0]["deposits"]["amount"]) == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"analytics rollups never reached {expected}")


async def anonymous_graphql(live: LiveServer, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    return response.json()["data"]


async def rollups_registration_failures(live: LiveServer, token: str, expected: int) -> None:
    from datetime import UTC, datetime

    day = datetime.now(UTC).date().isoformat()
    query = """query($d: Date!) { analyticsSeries(input: {granularity: DAY, fromDay: $d,
      toDay: $d}) { ... on AnalyticsSeries { periods { registrationFailures } } } }"""
    for _ in range(100):
        periods = (await graphql(live, token, query, {"d": day}))["analyticsSeries"]["periods"]
        if periods and periods[0]["registrationFailures"] == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the refused registration never reached the rollups")


async def fire_alert(live: LiveServer, db: Any, token: str) -> str:
    """A rule saved through the API, fired the way the evaluator fires it."""
    from app.alerts import service as alerts
    from app.alerts.models import AlertRule

    saved = await graphql(live, token, SAVE_RULE, {"input": {
        "key": "lag", "kind": "OUTBOX_LAG", "metric": "outbox_lag", "threshold": 10.0,
        "clearThreshold": 5.0}})  # fmt: skip
    assert saved["saveAlertRule"]["__typename"] == "AlertRule", saved
    async with db.transaction() as session:
        rule = await session.get(AlertRule, uuid.UUID(saved["saveAlertRule"]["id"]))
        assert rule is not None
        alert = await alerts.fire(session, rule, 42.0)
    return str(alert.id)


async def sign_in(page: Any, live: LiveServer, email: str, totp: Any) -> None:
    await page.goto(f"{live.url}/admin/")
    await page.fill("#signin-email", email)
    await page.fill("#signin-password", PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_selector("#mfa-form:not([hidden])")
    await page.fill("#signin-code", totp.now())
    await page.click("#mfa-submit")
    await page.wait_for_selector("#app:not([hidden])")


async def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_admin_page_is_self_contained_and_locked_down(live_admin: LiveServer):
    async with httpx.AsyncClient(base_url=live_admin.url) as client:
        redirect = await client.get("/admin")
        page = await client.get("/admin/")
        script = await client.get("/admin/admin.js")
    assert redirect.status_code == 308 and redirect.headers["location"] == "/admin/"
    assert page.status_code == 200 and "PMS back office" in page.text
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert script.status_code == 200


async def test_overview_live_deposit_and_masked_player_in_a_real_browser(
    live_admin: LiveServer, db: Any, settings: Any, debian_chromium: Any
):
    live = live_admin
    admin, admin_totp, _ = await create_staff(db, settings, "ADMIN")
    marketer, marketer_totp, _ = await create_staff(db, settings, "MARKETER")
    bob = await create_player(db, settings, login="bob_the_player", email="bob@example.com",
                              country="DE", currency="EUR")  # fmt: skip
    payments = await token_for(live.app, service_principal("wallet:operate"))
    analyst = await token_for(live.app, staff_principal("ADMIN"))
    await deposit(live, payments, bob.id, "25.00")
    await deposit(live, payments, bob.id, "10.50")
    before = await todays_deposits_in_db(db)
    assert before == Decimal("35.50")
    await rollups_caught_up(live, analyst, before)

    page = await debian_chromium.new_page(viewport={"width": 1280, "height": 900})
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    await sign_in(page, live, admin.email, admin_totp)

    # Overview: today's numbers are the database's.
    await expect(page.locator("#kpi-deposits")).to_have_text("35.50 EUR")
    assert await page.inner_text("#kpi-deposits-count") == "2 deposit(s)"
    assert await page.inner_text("#kpi-registrations") == "1"
    await page.wait_for_selector("#live-status[data-state='live']")
    await screenshot(page, "overview")

    # A deposit made elsewhere shows up without a reload: the card, the chart, the feed.
    await deposit(live, payments, bob.id, "14.50")
    assert await todays_deposits_in_db(db) == Decimal("50.00")
    await expect(page.locator("#kpi-deposits")).to_have_text("50.00 EUR", timeout=2000)
    last_point = await page.evaluate("UI.chartData('chart-overview')[1].at(-1)")
    assert last_point == 50.0
    await page.wait_for_selector("#live-feed li[data-type='wallet.deposited']", timeout=2000)

    # A refused registration shows up among the errors by field and reason.
    refused = await anonymous_graphql(live, REGISTER, {"input": registration(email="not-an-email")})
    assert refused["registerPlayer"]["__typename"] == "ValidationError"
    await rollups_registration_failures(live, analyst, 1)

    # KYC: two cases wait (one PENDING, one in MANUAL_REVIEW), a third is decided.
    await open_case_with(db, settings)
    await open_case_with(db, settings, outcome="review", score=20)
    await open_case_with(db, settings, outcome="verified", score=10)
    queue = await kyc_queue_in_db(db)
    assert [s for _, s in queue] == ["PENDING", "MANUAL_REVIEW"]

    for name in ("registrations", "kyc", "money"):
        await page.click(f"#nav a[data-page='{name}']")
        await page.wait_for_selector(f"section[data-page='{name}']:not([hidden])")
        await screenshot(page, name)
        if name == "kyc":
            await expect(page.locator("#kyc-queue")).to_have_text(str(len(queue)))
            rows = page.locator("#kyc-queue-list tbody tr")
            await expect(rows).to_have_count(len(queue))
            for i, (player, status) in enumerate(queue):
                await expect(rows.nth(i)).to_contain_text(status)
                await expect(rows.nth(i)).to_contain_text(player)
        if name == "registrations":
            errors = page.locator("#registration-errors tbody tr").first
            await expect(errors).to_contain_text("email")
            await expect(errors).to_contain_text("1")
    money_rows = await page.locator("#money-table tbody tr").first.inner_text()
    assert "50.00 (3)" in money_rows

    # An alert fired by the evaluator appears live; ADMIN acknowledges it on the page.
    await page.click("#nav a[data-page='alerts']")
    await page.wait_for_selector("section[data-page='alerts']:not([hidden])")
    alert_id = await fire_alert(live, db, analyst)
    row = page.locator(f"#alerts-table [data-alert='{alert_id}']")
    await expect(row).to_have_attribute("data-status", "FIRING", timeout=3000)
    await screenshot(page, "alerts")
    await page.click(f"#alerts-table button[data-acknowledge='{alert_id}']")
    await expect(row).to_have_attribute("data-status", "ACKNOWLEDGED")
    async with db.read_session() as session:
        status, by = (
            await session.execute(
                text("SELECT status, acknowledged_by FROM alerts WHERE id = :id"), {"id": alert_id}
            )
        ).one()
    assert status == "ACKNOWLEDGED" and by == f"staff:{admin.id}"

    # ADMIN sees the full email and may change the status.
    await page.click("#nav a[data-page='player']")
    await page.fill("#player-query", "bob_the_player")
    await page.click("#player-search button")
    await page.wait_for_selector("#player-detail:not([hidden])")
    assert await page.inner_text("dd[data-field='Email']") == "bob@example.com"
    assert await page.locator("#player-actions button[data-status='BLOCKED']").count() == 1
    await screenshot(page, "player-admin")

    # MARKETER: masked email, no wallets, no status actions: the server decides.
    await page.click("#signout")
    await page.wait_for_selector("#signin:not([hidden])")
    await sign_in(page, live, marketer.email, marketer_totp)
    await page.click("#nav a[data-page='player']")
    await page.fill("#player-query", "bob_the_player")
    await page.click("#player-search button")
    await page.wait_for_selector("#player-detail:not([hidden])")
    email = await page.inner_text("dd[data-field='Email']")
    assert email != "bob@example.com" and "***" in email and email.endswith("@example.com")
    assert "not permitted" in await page.inner_text("#player-wallets")
    assert await page.locator("#player-actions button").count() == 0
    await screenshot(page, "player-marketer")
    assert page_errors == []


async def test_wrong_totp_code_is_refused_on_the_page(
    live_admin: LiveServer, db: Any, settings: Any, debian_chromium: Any
):
    admin, _, _ = await create_staff(db, settings, "ADMIN")
    page = await debian_chromium.new_page()
    await page.goto(f"{live_admin.url}/admin/")
    await page.fill("#signin-email", admin.email)
    await page.fill("#signin-password", PASSWORD)
    await page.click("#signin-submit")
    await page.wait_for_selector("#mfa-form:not([hidden])")
    await page.fill("#signin-code", "000000")
    await page.click("#mfa-submit")
    await expect(page.locator("#signin-error")).not_to_be_empty()
    assert await page.is_hidden("#app")
    assert await page.is_visible("#mfa-form")  # try another code; the password is not asked again
    assert await page.is_hidden("#password-form")


async def test_a_player_token_cannot_use_the_back_office(
    live_admin: LiveServer, db: Any, settings: Any, debian_chromium: Any
):
    from tests.auth import player_principal

    bob = await create_player(db, settings)
    token = await token_for(live_admin.app, player_principal(bob))
    page = await debian_chromium.new_page()
    await page.goto(f"{live_admin.url}/admin/")
    await page.evaluate("t => sessionStorage.setItem('pms.admin.token', t)", token)
    await page.reload()
    await expect(page.locator("#signin-error")).not_to_be_empty()
    assert "for staff" in await page.inner_text("#signin-error")
    assert await page.is_hidden("#app")
