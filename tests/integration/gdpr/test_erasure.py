"""GDPR erasure through the public API: identifiers pseudonymised at once, AML records kept
then purged by the background job, ledger and audit tree unchanged, refusals typed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from app.audit import tasks as audit_tasks
from app.audit import verify as audit_verify
from app.audit.personal import commitment
from app.gdpr.erasure import purge_retained
from app.ledger.reconcile import verify as ledger_verify
from tests.factories import create_player
from tests.identity_helpers import LOGIN, ME, PASSWORD, bearer
from tests.integration.wallets.conftest import MUTATIONS, new_key

ERASE = """mutation($p: ID!, $r: String!) { erasePlayer(playerId: $p, reason: $r) {
  __typename ... on PlayerErasure { playerId pseudonym retainUntil alreadyErased }
  ... on UserError { code message } } }"""
PROFILE = {"first": "Ada", "last": "Lovelace", "phone": "+447700900123", "city": "London"}


@pytest.fixture
async def player(db, settings):
    return await create_player(db, settings, login="AdaL", email="ada@example.com")


async def rows(db, sql: str, **params):
    async with db.read_session() as session:
        return (await session.execute(text(sql), params)).all()


async def one(db, sql: str, **params):
    (row,) = await rows(db, sql, **params)
    return row


async def erase(gql, auth, player_id, role="COMPLIANCE", reason="subject request #1"):
    body = await gql(ERASE, {"p": str(player_id), "r": reason},
                     **await auth.staff_headers(role, f"{role}-1"))  # fmt: skip
    assert "errors" not in body, body
    return body["data"]["erasePlayer"]


async def deposit(gql, auth, player_id, amount="25.00"):
    headers = await auth.service_headers("wallet:operate", "player:read", client_id="ge")
    body = await gql(MUTATIONS["deposit"], {"input": {
        "playerId": str(player_id), "amount": amount, "currency": "EUR",
        "paymentReference": "tok_e", "idempotencyKey": new_key()}}, **headers)  # fmt: skip
    assert body["data"]["deposit"]["__typename"] == "WalletOperation", body


async def seed(db, player) -> None:
    """Personal data in the places erasure must reach: profile, its history, a KYC case."""
    async with db.transaction() as s:
        await s.execute(text(
            "INSERT INTO player_profiles (player_id, first_name, last_name, phone, city) "
            "VALUES (:p, :f, :l, :ph, :c)"), {"p": player.id, "f": PROFILE["first"],
            "l": PROFILE["last"], "ph": PROFILE["phone"], "c": PROFILE["city"]})  # fmt: skip
        await s.execute(text(
            "INSERT INTO player_settings_changes (player_id, actor, field, old_value, "
            "new_value, pii) VALUES (:p, 'staff:1', 'phone', NULL, :ph, true)"),
            {"p": player.id, "ph": PROFILE["phone"]})  # fmt: skip
        await s.execute(text(
            "INSERT INTO kyc_cases (id, player_id, provider, status, risk_level, reasons, "
            "documents) VALUES (gen_random_uuid(), :p, 'manual', 'VERIFIED', 'LOW', '[]', '[]')"),
            {"p": player.id})  # fmt: skip


async def test_erasure_pseudonymises_at_once_and_keeps_aml_records(
    gql, auth, db, settings, client, player
):
    await seed(db, player)
    await deposit(gql, auth, player.id)
    login = await gql(LOGIN, {"id": "AdaL", "pw": PASSWORD})  # an audit row with the ip
    token = login["data"]["login"]["accessToken"]
    assert (await gql(ME, **bearer(token)))["data"]["me"]["id"] == str(player.id)
    async with db.transaction() as s:
        before = await ledger_verify(s)
    sums = await rows(db, "SELECT currency, sum(amount) FROM ledger_transfers GROUP BY 1")
    await audit_tasks.maintain(db, settings)

    hashed = "SELECT 1 FROM outbox_events WHERE subject = :s AND data ? 'ipHash'"
    assert await rows(db, hashed, s=str(player.id))  # the sign-in's anti-fraud event

    answer = await erase(gql, auth, player.id)
    assert answer["__typename"] == "PlayerErasure" and answer["alreadyErased"] is False
    pseudonym = answer["pseudonym"]
    assert await rows(db, hashed, s=str(player.id)) == []

    me = await one(db, "SELECT email, login, birth_date, status, password_hash, preferences "
                   "FROM players WHERE id = :p", p=player.id)  # fmt: skip
    assert (me.email, me.login) == (f"{pseudonym}@erased.invalid", pseudonym)
    assert (str(me.birth_date), me.status, me.preferences) == ("1900-01-01", "CLOSED", {})
    profile = await one(db, "SELECT first_name, last_name, phone, city FROM player_profiles "
                        "WHERE player_id = :p", p=player.id)  # fmt: skip
    assert tuple(profile) == (None, None, None, None)
    history = await one(db, "SELECT old_value, new_value FROM player_settings_changes "
                        "WHERE player_id = :p AND pii", p=player.id)  # fmt: skip
    assert tuple(history) == (None, None)
    # the player's audit entries keep their commitment; the ip behind it is gone
    login_row = await one(db, "SELECT id, ip FROM audit_log WHERE action = 'auth.login' "
                          "AND target = :k", k=f"player:{player.id}")  # fmt: skip
    assert login_row.ip.startswith("sha256:")
    assert (
        await rows(
            db,
            "SELECT 1 FROM audit_personal_values v JOIN audit_log a ON "
            "a.id = v.entry_id WHERE a.actor = :k",
            k=f"player:{player.id}",
        )
        == []
    )
    # AML: KYC and transactions kept
    assert len(await rows(db, "SELECT 1 FROM kyc_cases WHERE player_id = :p", p=player.id)) == 1
    assert await rows(db, "SELECT currency, sum(amount) FROM ledger_transfers GROUP BY 1") == sums
    async with db.transaction() as s:
        after = await ledger_verify(s)
    assert after.ok and before.ok and after.transfers_checked == before.transfers_checked
    # the tree still verifies after the erasure (and after more entries)
    await audit_tasks.maintain(db, settings)
    async with db.read_session() as s:
        report = await audit_verify.verify(s, None)
    assert report.ok, report
    # sessions ended, no new sign-in with the old identifiers
    ended = await client.post("/graphql", json={"query": ME}, headers=bearer(token))
    assert ended.status_code == 401 and "session was ended" in ended.text
    for identifier in ("AdaL", "ada@example.com", pseudonym):
        again = (await gql(LOGIN, {"id": identifier, "pw": PASSWORD}))["data"]["login"]
        assert again["__typename"] == "InvalidCredentials", again


async def test_new_audit_values_are_committed_and_revealed_until_erased(gql, auth, db, player):
    await gql(LOGIN, {"id": "AdaL", "pw": PASSWORD})
    row = await one(db, "SELECT a.id, a.ip, v.salt, v.value FROM audit_log a JOIN "
                    "audit_personal_values v ON v.entry_id = a.id AND v.field = 'ip' "
                    "WHERE a.action = 'auth.login'")  # fmt: skip
    assert row.ip == commitment(bytes(row.salt), row.value) and row.value == "127.0.0.1"
    query = "query($t: String) { auditLog(target: $t) { action ip } }"
    headers = await auth.staff_headers("COMPLIANCE", "c-2")
    shown = (await gql(query, {"t": f"player:{player.id}"}, **headers))["data"]["auditLog"]
    assert {"action": "auth.login", "ip": "127.0.0.1"} in shown
    await erase(gql, auth, player.id)
    shown = (await gql(query, {"t": f"player:{player.id}"}, **headers))["data"]["auditLog"]
    assert {"action": "auth.login", "ip": "[erased]"} in shown


async def test_second_erasure_is_idempotent(gql, auth, db, player):
    first = await erase(gql, auth, player.id)
    snapshot = await one(db, "SELECT email, login, updated_at FROM players WHERE id = :p",
                         p=player.id)  # fmt: skip
    second = await erase(gql, auth, player.id, reason="again")
    assert second["alreadyErased"] is True and second["pseudonym"] == first["pseudonym"]
    assert await one(db, "SELECT email, login, updated_at FROM players WHERE id = :p",
                     p=player.id) == snapshot  # fmt: skip
    assert len(await rows(db, "SELECT 1 FROM gdpr_erasures")) == 1


async def test_concurrent_erasures_erase_once(gql, auth, db, player):
    answers = await asyncio.gather(*(erase(gql, auth, player.id, reason=f"r{i}")
                                     for i in range(8)))  # fmt: skip
    assert [a["__typename"] for a in answers] == ["PlayerErasure"] * 8
    assert sorted(a["alreadyErased"] for a in answers) == [False] + [True] * 7
    assert len({a["pseudonym"] for a in answers}) == 1
    assert len(await rows(db, "SELECT 1 FROM gdpr_erasures")) == 1
    assert len(await rows(db, "SELECT 1 FROM outbox_events WHERE type = 'player.erased'")) == 1


async def test_erasure_refused_with_open_hold_or_pending_withdrawal(gql, auth, db, player):
    await deposit(gql, auth, player.id, "50.00")
    async with db.transaction() as s:
        await s.execute(text("UPDATE players SET confirm_status = 'VERIFIED' WHERE id = :p"),
                        {"p": player.id})  # fmt: skip
    headers = await auth.service_headers("wallet:operate", "player:read", client_id="pay")
    body = await gql(MUTATIONS["withdraw"], {"input": {
        "playerId": str(player.id), "amount": "10.00", "currency": "EUR",
        "paymentReference": "tok_w", "idempotencyKey": new_key()}}, **headers)  # fmt: skip
    assert body["data"]["withdraw"]["__typename"] == "WalletOperation", body
    before = await one(db, "SELECT email, login, status FROM players WHERE id = :p", p=player.id)
    answer = await erase(gql, auth, player.id)
    assert answer["code"] == "ERASURE_BLOCKED" and "withdrawal" in answer["message"]
    assert await one(db, "SELECT email, login, status FROM players WHERE id = :p",
                     p=player.id) == before  # fmt: skip
    assert await rows(db, "SELECT 1 FROM gdpr_erasures") == []


async def test_erasure_refused_with_an_open_bet_hold(gql, auth, db, player):
    await deposit(gql, auth, player.id, "50.00")
    headers = await auth.service_headers("wallet:operate", "player:read", client_id="ge")
    body = await gql(MUTATIONS["reserveBet"], {"input": {
        "playerId": str(player.id), "amount": "5.00", "currency": "EUR", "gameRoundId": "r-1",
        "transactionId": "t-1", "idempotencyKey": new_key()}}, **headers)  # fmt: skip
    assert body["data"]["reserveBet"]["__typename"] == "WalletOperation", body
    answer = await erase(gql, auth, player.id)
    assert answer["code"] == "ERASURE_BLOCKED" and "hold" in answer["message"]
    assert (await one(db, "SELECT status FROM players WHERE id = :p", p=player.id)).status == (
        "ACTIVE"
    )


@pytest.mark.parametrize("raw,code", [("00000000-0000-0000-0000-000000000000", "NOT_FOUND"),
                                      ("nope", "VALIDATION_ERROR")])  # fmt: skip
async def test_unknown_player_is_a_typed_error(gql, auth, db, raw, code):
    assert (await erase(gql, auth, raw))["code"] == code
    assert await rows(db, "SELECT 1 FROM gdpr_erasures") == []


async def test_only_compliance_and_admin_may_erase(gql, auth, db, player):
    assert (await erase(gql, auth, player.id, "SUPPORT"))["__typename"] == "Forbidden"
    assert (await one(db, "SELECT email FROM players WHERE id = :p", p=player.id)).email == (
        "ada@example.com"
    )


async def test_purge_job_removes_retained_records_after_the_period_once(
    gql, auth, db, settings, player
):
    await seed(db, player)
    other = await create_player(db, settings)
    await seed(db, other)
    await erase(gql, auth, player.id)
    await erase(gql, auth, other.id)
    assert await purge_retained(db, settings) == 0  # retention not over: nothing goes
    async with db.transaction() as s:
        await s.execute(text("UPDATE gdpr_erasures SET retain_until = now() - interval '1 day' "
                             "WHERE player_id = :p"), {"p": player.id})  # fmt: skip
    # several replicas at once: each row is purged exactly once
    counts = await asyncio.gather(*(purge_retained(db, settings) for _ in range(4)))
    assert sum(counts) == 1
    assert await rows(db, "SELECT 1 FROM kyc_cases WHERE player_id = :p", p=player.id) == []
    assert len(await rows(db, "SELECT 1 FROM kyc_cases WHERE player_id = :p", p=other.id)) == 1
    purged = await one(db, "SELECT purged_at FROM gdpr_erasures WHERE player_id = :p",
                       p=player.id)  # fmt: skip
    assert purged.purged_at is not None


async def test_cli_erase(settings, db, player):
    env = {"PMS_DATABASE_URL": settings.database_url or "", "PATH": "/usr/bin:/bin"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pms", "gdpr", "erase", *args], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    run = await asyncio.to_thread(cli, str(player.id), "--reason", "ticket 7")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["alreadyErased"] is False
    again = json.loads((await asyncio.to_thread(cli, str(player.id), "--reason", "x")).stdout)
    assert again["alreadyErased"] is True and again["pseudonym"] == out["pseudonym"]
    bad = await asyncio.to_thread(cli, "nope", "--reason", "x")
    assert bad.returncode == 2 and "VALIDATION_ERROR" in bad.stderr


PROFILE_UPDATE = """mutation($id: ID!, $i: UpdateProfileInput!) {
  updatePlayerProfile(playerId: $id, input: $i) { __typename ... on UserError { code } } }"""


async def test_erasure_serialises_with_concurrent_money_and_profile_writes(
    gql, auth, db, settings, player
):
    """Erasure in the middle of 50 concurrent deposits (carrying device telemetry) and
    profile updates: whatever ran after it wrote no personal value, and the money is whole."""
    await seed(db, player)
    await deposit(gql, auth, player.id, "1.00")
    money = await auth.service_headers("wallet:operate", "player:read", client_id="ge")
    staff = await auth.staff_headers("ADMIN", "admin-race")

    async def pay(i: int) -> bool:
        body = await gql(MUTATIONS["deposit"], {"input": {
            "playerId": str(player.id), "amount": "1.00", "currency": "EUR",
            "paymentReference": f"tok_{i}", "idempotencyKey": new_key(),
            "deviceFingerprint": f"device-{i}", "ipAddress": f"203.0.113.{i}"}},
            **money)  # fmt: skip
        return body["data"]["deposit"]["__typename"] == "WalletOperation"

    async def edit(i: int) -> str:
        body = await gql(PROFILE_UPDATE, {"id": str(player.id), "i": {
            "firstName": "Jo" + "abcdefghijklmnopqrstuvwxyz"[i // 2],
            "phone": f"+49151123456{i:02d}"}}, **staff)  # fmt: skip
        return body["data"]["updatePlayerProfile"]["__typename"]

    work = [pay(i) if i % 2 else edit(i) for i in range(50)]
    results = await asyncio.gather(*work[:25], erase(gql, auth, player.id), *work[25:])
    accepted = sum(1 for r in results if r is True)
    assert results[25]["__typename"] == "PlayerErasure"
    # a profile update that waited for the erasure is refused, none fails unexpectedly
    edits = [r for i, r in enumerate(results) if isinstance(r, str)]
    assert len(edits) == 25 and set(edits) <= {"UpdatePlayerSuccess", "NotFound"}, edits

    from app.fraud.consumer import consume_events

    await consume_events(db, settings)  # the telemetry events, as the periodic consumer would
    profile = await one(db, "SELECT first_name, last_name, phone, city FROM player_profiles "
                        "WHERE player_id = :p", p=player.id)  # fmt: skip
    assert tuple(profile) == (None, None, None, None)
    assert await rows(db, "SELECT old_value, new_value FROM player_settings_changes WHERE "
                      "player_id = :p AND pii AND (old_value IS NOT NULL OR new_value IS NOT "
                      "NULL)", p=player.id) == []  # fmt: skip
    assert await rows(db, "SELECT 1 FROM outbox_events WHERE subject = :s AND "
                      "data ?| array['ipHash', 'deviceHash']", s=str(player.id)) == []  # fmt: skip
    assert await rows(db, "SELECT 1 FROM fraud_identifiers WHERE player_id = :p",
                      p=player.id) == []  # fmt: skip
    async with db.transaction() as s:
        assert (await ledger_verify(s)).ok
    real = await one(db, "SELECT balance FROM wallets WHERE player_id = :p AND kind = 'REAL'",
                     p=player.id)  # fmt: skip
    assert real.balance == (1 + accepted) * 100
