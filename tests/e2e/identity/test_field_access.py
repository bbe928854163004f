"""Field-level RBAC through HTTP: who sees which Player fields, masked or null."""

from __future__ import annotations

import pytest

from tests.factories import create_player
from tests.identity_helpers import audit_rows

PLAYER = """
query P($id: ID!) { player(id: $id) {
  id login email birthDate riskLevel trafficSource affiliateCode
  wallets { kind balance { amount } } } }
"""
PLAYERS = "{ players(first: 5) { totalCount edges { node { login email birthDate } } } }"


@pytest.fixture
async def player(db, settings):
    return await create_player(
        db, settings, email="jane.doe@example.com", traffic_source="google", affiliate_code="AFF1"
    )


def _visible(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("id", "login")}


async def test_player_sees_all_own_fields(gql, db, player, auth):
    body = await gql(PLAYER, {"id": str(player.id)}, **await auth.player_headers(player))
    data = body["data"]["player"]
    assert data["email"] == "jane.doe@example.com"
    assert data["birthDate"] == "1990-05-17"
    assert data["riskLevel"] == "LOW" and data["trafficSource"] == "google"
    assert len(data["wallets"]) == 4
    assert await audit_rows(db, "player.read") == []  # players reading themselves: no audit


async def test_player_sees_nothing_of_another_player(gql, db, player, auth, settings):
    other = await create_player(db, settings)
    body = await gql(PLAYER, {"id": str(player.id)}, **await auth.player_headers(other))
    assert body["data"]["player"] is None
    listed = await gql(PLAYERS, **await auth.player_headers(other))
    assert listed["data"] is None and listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_anonymous_sees_nothing(gql, db, player):
    assert (await gql(PLAYER, {"id": str(player.id)}))["data"]["player"] is None


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("SUPPORT", {"email": "jane.doe@example.com", "birthDate": "1990-05-17",
                     "riskLevel": None, "trafficSource": "google", "affiliateCode": "AFF1",
                     "wallets": 4}),
        ("MARKETER", {"email": "j***@example.com", "birthDate": None, "riskLevel": None,
                      "trafficSource": "google", "affiliateCode": "AFF1", "wallets": 0}),
        ("COMPLIANCE", {"email": "jane.doe@example.com", "birthDate": "1990-05-17",
                        "riskLevel": "LOW", "trafficSource": "google", "affiliateCode": "AFF1",
                        "wallets": 4}),
        ("FINANCE", {"email": "j***@example.com", "birthDate": None, "riskLevel": None,
                     "trafficSource": None, "affiliateCode": None, "wallets": 4}),
        ("ADMIN", {"email": "jane.doe@example.com", "birthDate": "1990-05-17",
                   "riskLevel": "LOW", "trafficSource": "google", "affiliateCode": "AFF1",
                   "wallets": 4}),
    ],
)  # fmt: skip
async def test_staff_roles_see_what_the_matrix_allows(gql, db, player, auth, role, expected):
    body = await gql(PLAYER, {"id": str(player.id)}, **await auth.staff_headers(role))

    data = _visible(body["data"]["player"])
    data["wallets"] = len(data["wallets"] or [])
    assert data == expected
    assert "errors" not in body
    (entry,) = await audit_rows(db, "player.read")
    assert entry.actor.startswith("staff:") and entry.target == str(player.id)


async def test_staff_list_reads_are_audited(gql, db, player, auth):
    body = await gql(PLAYERS, **await auth.staff_headers("MARKETER"))
    node = body["data"]["players"]["edges"][0]["node"]
    assert node == {"login": player.login, "email": "j***@example.com", "birthDate": None}
    (entry,) = await audit_rows(db, "player.list")
    assert entry.details["ids"] == [str(player.id)]


@pytest.mark.parametrize(
    ("scopes", "email", "wallets"),
    [
        (("player:read",), None, 0),
        (("player:read", "player:read_pii", "wallet:read"), "jane.doe@example.com", 4),
        (("player:read", "player:read_masked"), "j***@example.com", 0),
    ],
)
async def test_service_clients_see_what_their_scopes_allow(gql, db, player, auth, scopes, email,
                                                           wallets):  # fmt: skip
    body = await gql(PLAYER, {"id": str(player.id)}, **await auth.service_headers(*scopes))
    data = body["data"]["player"]
    assert data["email"] == email
    assert len(data["wallets"] or []) == wallets


async def test_service_without_player_read_sees_no_player(gql, db, player, auth):
    body = await gql(PLAYER, {"id": str(player.id)}, **await auth.service_headers("wallet:operate"))
    assert body["data"]["player"] is None


async def test_audit_log_is_for_compliance_and_admin_only(gql, db, player, auth):
    query = "{ auditLog(first: 5) { action actor outcome } }"
    allowed = await gql(query, **await auth.staff_headers("COMPLIANCE"))
    denied = await gql(query, **await auth.staff_headers("SUPPORT"))
    assert isinstance(allowed["data"]["auditLog"], list)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_audit_log_rows_cannot_be_changed(db, gql, player, auth):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await gql(PLAYER, {"id": str(player.id)}, **await auth.staff_headers("SUPPORT"))
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement))
