"""Staff accounts: created by admins (API) or the CLI, sign-in always needs MFA."""

from __future__ import annotations

import time

from tests.identity_helpers import (
    ME,
    PASSWORD,
    STAFF_LOGIN,
    VERIFY_MFA,
    audit_rows,
    bearer,
    create_staff,
)

CREATE_STAFF = """
mutation C($e: String!, $r: StaffRole!) {
  createStaff(email: $e, displayName: "New Person", role: $r, password: "a long enough pw") {
    __typename
    ... on StaffCreated { staff { id email role } otpauthUri recoveryCodes }
    ... on Forbidden { code requiredPermission }
    ... on AlreadyExists { field }
  }
}
"""
CREATE_CLIENT = """
mutation C($n: String!, $s: [String!]!) { createServiceClient(name: $n, scopes: $s) {
  __typename ... on ServiceClientCreated { clientId clientSecret scopes }
  ... on ValidationError { field message } ... on Forbidden { code } } }
"""


async def test_staff_login_requires_mfa_then_yields_a_staff_principal(gql, db, settings):
    staff, totp, _ = await create_staff(db, settings, "COMPLIANCE", email="c@casino.example")

    step1 = (await gql(STAFF_LOGIN, {"id": "c@casino.example", "pw": PASSWORD}))["data"]
    challenge = step1["staffLogin"]
    assert challenge["__typename"] == "MfaRequired"
    step2 = await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "TOTP",
                                   "code": totp.at(int(time.time()))})  # fmt: skip
    tokens = step2["data"]["verifyMfa"]
    me = (await gql(ME, **bearer(tokens["accessToken"])))["data"]["me"]

    assert me == {"__typename": "StaffUser", "id": str(staff.id),
                  "staffEmail": "c@casino.example", "role": "COMPLIANCE"}  # fmt: skip


async def test_player_login_does_not_accept_staff_accounts(gql, db, settings):
    await create_staff(db, settings, "ADMIN", email="a@casino.example")
    body = await gql(
        'mutation L($p: String!) { login(loginOrEmail: "a@casino.example", password: $p) '
        "{ __typename } }",
        {"p": PASSWORD},
    )
    assert body["data"]["login"]["__typename"] == "InvalidCredentials"


async def test_admin_creates_staff_and_clients(gql, db, auth):
    admin = await auth.staff_headers("ADMIN")

    staff = await gql(CREATE_STAFF, {"e": "new@casino.example", "r": "MARKETER"}, **admin)
    client = await gql(CREATE_CLIENT, {"n": "payments", "s": ["wallet:operate"]}, **admin)

    created = staff["data"]["createStaff"]
    assert created["staff"]["role"] == "MARKETER"
    assert created["otpauthUri"].startswith("otpauth://totp/")
    assert len(created["recoveryCodes"]) == 10
    made = client["data"]["createServiceClient"]
    assert made["scopes"] == ["wallet:operate"] and len(made["clientSecret"]) > 30
    actions = [e.action for e in await audit_rows(db) if e.outcome == "success"]
    assert {"staff.create", "client.create"} <= set(actions)


async def test_clients_cannot_get_staff_only_scopes(gql, db, auth):
    admin = await auth.staff_headers("ADMIN")
    body = await gql(CREATE_CLIENT, {"n": "greedy", "s": ["staff:manage"]}, **admin)
    assert body["data"]["createServiceClient"]["field"] == "scopes"


async def test_non_admins_get_forbidden_and_it_is_audited(gql, db, auth):
    for role in ("SUPPORT", "MARKETER", "COMPLIANCE", "FINANCE"):
        headers = await auth.staff_headers(role)
        result = await gql(CREATE_STAFF, {"e": f"{role}@x.example", "r": "ADMIN"}, **headers)
        assert result["data"]["createStaff"] == {
            "__typename": "Forbidden", "code": "FORBIDDEN", "requiredPermission": "staff:manage"
        }  # fmt: skip
    as_player = await auth.player_headers("8d7f3c1e-0000-4000-8000-000000000001")
    player = await gql(CREATE_STAFF, {"e": "p@x.example", "r": "ADMIN"}, **as_player)
    assert player["data"]["createStaff"]["__typename"] == "Forbidden"
    denied = await audit_rows(db, "graphql.createStaff")
    assert len(denied) == 5 and {e.outcome for e in denied} == {"denied"}
