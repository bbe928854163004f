"""Issue 10 item 12: factor changes need a recent password + second-factor sign-in, and
passwords equal to / containing the login or email or on the common list are refused."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import func, select

from app.identity.models import MfaFactor, RecoveryCode, StaffMember
from app.identity.tokens import verify_access_token
from app.players.models import Player
from tests.auth import player_principal, token_for
from tests.e2e.test_register_player import REGISTER
from tests.factories import create_player, registration
from tests.identity_helpers import LOGIN, PASSWORD, VERIFY_MFA, audit_rows, bearer

BEGIN_TOTP = """mutation { beginTotpEnrollment { __typename
  ... on TotpEnrollment { factorId otpauthUri } ... on StepUpRequired { code maxAgeSeconds } } }"""
CONFIRM_TOTP = """mutation C($f: ID!, $c: String!) { confirmTotpEnrollment(factorId: $f, code: $c) {
  __typename } }"""
BEGIN_SMS = """mutation { beginSmsEnrollment(phone: "+4915112345678") { __typename } }"""
BEGIN_WEBAUTHN = "mutation { beginWebauthnRegistration { __typename } }"
REGENERATE = """mutation { regenerateRecoveryCodes { __typename
  ... on RecoveryCodes { codes } ... on StepUpRequired { code message maxAgeSeconds } } }"""
REFRESH = """mutation($t: String!) { refreshTokens(refreshToken: $t) { __typename
  ... on AuthTokens { accessToken } } }"""
CREATE_STAFF = """mutation($pw: String!) { createStaff(email: "new@casino.example",
  displayName: "New", role: SUPPORT, password: $pw) { __typename
  ... on ValidationError { field message } } }"""


async def _counts(db) -> tuple[int, int]:
    async with db.read_session() as session:
        factors = await session.scalar(select(func.count()).select_from(MfaFactor))
        codes = await session.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.used_at.is_(None))
        )
    return factors, codes


@pytest.fixture
async def enrolled(gql, db, settings):
    """A player with TOTP, the password-only token from before enrolment, and the TOTP."""
    player = await create_player(db, settings, login="stepper")
    first = (await gql(LOGIN, {"id": "stepper", "pw": PASSWORD}))["data"]["login"]
    headers = bearer(first["accessToken"])
    begun = (await gql(BEGIN_TOTP, **headers))["data"]["beginTotpEnrollment"]
    totp = pyotp.parse_uri(begun["otpauthUri"])
    step = int(time.time() // 30)
    done = await gql(CONFIRM_TOTP, {"f": begun["factorId"], "c": totp.at(step * 30)}, **headers)
    assert done["data"]["confirmTotpEnrollment"]["__typename"] == "MfaEnrolled"
    return player, headers, totp, step


async def _full_sign_in(gql, totp, step) -> dict[str, str]:
    challenge = (await gql(LOGIN, {"id": "stepper", "pw": PASSWORD}))["data"]["login"]
    code = totp.at((step + 1) * 30)
    return (await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "TOTP", "code": code}))[
        "data"
    ]["verifyMfa"]


async def test_a_password_only_token_cannot_change_factors(gql, db, settings, enrolled):
    player, password_only, _, _ = enrolled
    before = await _counts(db)
    answers = {
        name: next(iter((await gql(doc, **password_only))["data"].values()))
        for name, doc in [
            ("totp", BEGIN_TOTP),
            ("sms", BEGIN_SMS),
            ("webauthn", BEGIN_WEBAUTHN),
            ("codes", REGENERATE),
        ]
    }
    assert {k: v["__typename"] for k, v in answers.items()} == dict.fromkeys(
        answers, "StepUpRequired"
    )
    assert answers["codes"]["maxAgeSeconds"] == settings.step_up_max_age_seconds
    assert await _counts(db) == before
    denied = await audit_rows(db, "mfa.step_up")
    assert {(r.target, r.outcome) for r in denied} == {(f"player:{player.id}", "denied")}


async def test_a_recent_full_sign_in_may_change_factors(gql, db, enrolled):
    _, _, totp, step = enrolled
    tokens = await _full_sign_in(gql, totp, step)
    full = bearer(tokens["accessToken"])
    codes = (await gql(REGENERATE, **full))["data"]["regenerateRecoveryCodes"]
    another = (await gql(BEGIN_TOTP, **full))["data"]["beginTotpEnrollment"]
    assert (codes["__typename"], len(codes["codes"])) == ("RecoveryCodes", 10)
    assert another["__typename"] == "TotpEnrollment"


async def test_refreshed_tokens_keep_the_sign_in_time(gql, app, db, settings, enrolled):
    _, _, totp, step = enrolled
    tokens = await _full_sign_in(gql, totp, step)
    refreshed = (await gql(REFRESH, {"t": tokens["refreshToken"]}))["data"]["refreshTokens"]
    runtime = app.state.pms.identity
    original = await verify_access_token(tokens["accessToken"], runtime.keyring, settings)
    rotated = await verify_access_token(refreshed["accessToken"], runtime.keyring, settings)
    assert original.auth_time is not None
    assert rotated.auth_time == original.auth_time
    assert rotated.methods == ("pwd", "totp")


async def test_an_old_full_sign_in_needs_a_new_one(gql, app, db, settings, enrolled):
    player, _, _, _ = enrolled
    old = int(time.time()) - settings.step_up_max_age_seconds - 60
    token = await token_for(app, player_principal(player), methods=("pwd", "totp"), auth_time=old)
    body = (await gql(REGENERATE, **bearer(token)))["data"]["regenerateRecoveryCodes"]
    assert body["__typename"] == "StepUpRequired"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"login": "HighRoller", "password": "highroller-forever"}, "login or email"),
        ({"email": "jane.doe@example.com", "password": "jane.doe@example.com"}, "login or email"),
        ({"email": "margarita@example.com", "password": "my margarita rocks"}, "login or email"),
        ({"password": "password123"}, "commonly used"),
        ({"password": "QWERTYUIOP"}, "commonly used"),
    ],
)
async def test_weak_passwords_are_refused_naming_the_field(gql, db, overrides, message):
    body = (await gql(REGISTER, {"input": registration(**overrides)}))["data"]["registerPlayer"]
    assert body["__typename"] == "ValidationError"
    assert [e["field"] for e in body["fieldErrors"]] == ["password"]
    assert message in body["fieldErrors"][0]["message"]
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Player)) == 0


async def test_staff_passwords_follow_the_same_policy(gql, db, auth):
    admin = await auth.staff_headers("ADMIN")
    for weak in ("1234567890", "new@casino.example!"):
        body = (await gql(CREATE_STAFF, {"pw": weak}, **admin))["data"]["createStaff"]
        assert (body["__typename"], body["field"]) == ("ValidationError", "password")
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(StaffMember)) == 0
