"""MFA through the real HTTP app: TOTP, SMS, WebAuthn (real ceremonies), recovery codes."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import func, select, text

from app.identity.models import MfaFactor, SmsMessage
from tests.factories import create_player
from tests.identity_helpers import (
    LOGIN,
    ME,
    PASSWORD,
    VERIFY_MFA,
    audit_rows,
    bearer,
    last_sms_code,
    totp_of,
)
from tests.webauthn_authenticator import SoftAuthenticator

BEGIN_TOTP = """mutation { beginTotpEnrollment { __typename
  ... on TotpEnrollment { factorId otpauthUri } } }"""
CONFIRM_TOTP = """mutation C($f: ID!, $c: String!) { confirmTotpEnrollment(factorId: $f, code: $c) {
  __typename ... on MfaEnrolled { factorId recoveryCodes } ... on InvalidCredentials { code } } }"""
BEGIN_SMS = """mutation B($p: String!) { beginSmsEnrollment(phone: $p) { __typename
  ... on SmsEnrollment { factorId } ... on ValidationError { field } } }"""
CONFIRM_SMS = """mutation C($f: ID!, $c: String!) { confirmSmsEnrollment(factorId: $f, code: $c) {
  __typename ... on MfaEnrolled { recoveryCodes } ... on InvalidCredentials { code } } }"""
SEND_SMS = """mutation S($c: String!) { sendMfaSmsCode(challengeId: $c) { __typename } }"""
BEGIN_WEBAUTHN = """mutation { beginWebauthnRegistration { __typename
  ... on WebauthnRegistration { options } } }"""
REGISTER_WEBAUTHN = """mutation R($c: JSON!) { registerWebauthnKey(credential: $c) { __typename
  ... on MfaEnrolled { recoveryCodes } ... on MfaFailed { code message } } }"""

PHONE = "+4915112345678"


@pytest.fixture
async def player(db, settings):
    return await create_player(db, settings, login="mfa-user")


async def _tokens(gql):
    body = await gql(LOGIN, {"id": "mfa-user", "pw": PASSWORD})
    return body["data"]["login"]


async def _enrol_totp(gql, headers) -> tuple[pyotp.TOTP, list[str], int]:
    begun = (await gql(BEGIN_TOTP, **headers))["data"]["beginTotpEnrollment"]
    totp = pyotp.parse_uri(begun["otpauthUri"])
    step = int(time.time() // 30)
    confirmed = (
        await gql(CONFIRM_TOTP, {"f": begun["factorId"], "c": totp.at(step * 30)}, **headers)
    )["data"]["confirmTotpEnrollment"]
    assert confirmed["__typename"] == "MfaEnrolled", confirmed
    return totp, confirmed["recoveryCodes"], step


async def test_totp_enrolment_then_login_needs_the_code(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    totp, codes, step = await _enrol_totp(gql, headers)
    assert len(codes) == 10

    challenge = await _tokens(gql)
    assert challenge["__typename"] == "MfaRequired"
    assert challenge["methods"] == ["TOTP", "RECOVERY_CODE"]

    result = (await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "TOTP",
                                     "code": totp.at((step + 1) * 30)}))  # fmt: skip
    tokens = result["data"]["verifyMfa"]
    assert tokens["__typename"] == "AuthTokens"
    me = (await gql(ME, **bearer(tokens["accessToken"])))["data"]["me"]
    assert me["id"] == str(player.id)


async def test_a_totp_code_cannot_be_replayed(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    totp, _, step = await _enrol_totp(gql, headers)
    code = totp.at((step + 1) * 30)
    first = await _tokens(gql)
    ok = await gql(VERIFY_MFA, {"c": first["challengeId"], "m": "TOTP", "code": code})
    assert ok["data"]["verifyMfa"]["__typename"] == "AuthTokens"

    second = await _tokens(gql)
    replay = await gql(VERIFY_MFA, {"c": second["challengeId"], "m": "TOTP", "code": code})
    # The enrolment code (an earlier step) is no good either.
    older = await gql(VERIFY_MFA, {"c": second["challengeId"], "m": "TOTP",
                                   "code": totp.at(step * 30)})  # fmt: skip

    assert replay["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"
    assert older["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"
    failures = [e for e in await audit_rows(db, "auth.verify_mfa") if e.outcome == "failure"]
    assert len(failures) == 2


async def test_totp_outside_the_window_is_refused(gql, db, player, settings):
    headers = bearer((await _tokens(gql))["accessToken"])
    totp, _, step = await _enrol_totp(gql, headers)
    challenge = await _tokens(gql)

    result = await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "TOTP",
                                    "code": totp.at((step + 3) * 30)})  # fmt: skip

    assert result["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"


async def test_challenge_allows_only_a_few_attempts(gql, db, player, settings):
    headers = bearer((await _tokens(gql))["accessToken"])
    totp, _, step = await _enrol_totp(gql, headers)
    challenge = await _tokens(gql)
    for _ in range(settings.mfa_max_attempts):
        await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "TOTP", "code": "000000"})

    last = await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "TOTP",
                                  "code": totp.at((step + 1) * 30)})  # fmt: skip

    assert last["data"]["verifyMfa"]["__typename"] == "TooManyAttempts"


async def test_recovery_code_works_once(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    _, codes, _ = await _enrol_totp(gql, headers)

    first = await _tokens(gql)
    ok = await gql(VERIFY_MFA, {"c": first["challengeId"], "m": "RECOVERY_CODE", "code": codes[0]})
    second = await _tokens(gql)
    again = await gql(VERIFY_MFA, {"c": second["challengeId"], "m": "RECOVERY_CODE",
                                   "code": codes[0]})  # fmt: skip

    assert ok["data"]["verifyMfa"]["__typename"] == "AuthTokens"
    assert again["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"


async def test_sms_enrolment_and_login_code(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    begun = (await gql(BEGIN_SMS, {"p": PHONE}, **headers))["data"]["beginSmsEnrollment"]
    code = await last_sms_code(db, PHONE)
    confirmed = await gql(CONFIRM_SMS, {"f": begun["factorId"], "c": code}, **headers)
    assert confirmed["data"]["confirmSmsEnrollment"]["__typename"] == "MfaEnrolled"

    challenge = await _tokens(gql)
    assert challenge["methods"] == ["SMS", "RECOVERY_CODE"]
    assert (await gql(SEND_SMS, {"c": challenge["challengeId"]}))["data"]["sendMfaSmsCode"] == {
        "__typename": "Done"
    }
    login_code = await last_sms_code(db, PHONE)
    result = await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "SMS", "code": login_code})

    assert result["data"]["verifyMfa"]["__typename"] == "AuthTokens"
    async with db.read_session() as session:
        stored = (await session.execute(select(MfaFactor.secret))).scalar_one()
    assert PHONE not in stored  # sealed at rest


@pytest.mark.parametrize("phone", ["+10000000", "+4900000000000", "+49 151 1234", "0151123456"])
async def test_sms_enrolment_refuses_an_invalid_number_and_sends_nothing(gql, db, player, phone):
    headers = bearer((await _tokens(gql))["accessToken"])
    result = (await gql(BEGIN_SMS, {"p": phone}, **headers))["data"]["beginSmsEnrollment"]
    assert result == {"__typename": "ValidationError", "field": "phone"}
    async with db.read_session() as session:
        assert (await session.execute(select(func.count()).select_from(SmsMessage))).scalar() == 0


async def test_sms_code_allows_three_tries(gql, db, player, settings):
    headers = bearer((await _tokens(gql))["accessToken"])
    begun = (await gql(BEGIN_SMS, {"p": PHONE}, **headers))["data"]["beginSmsEnrollment"]
    code = await last_sms_code(db, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(settings.sms_code_max_attempts):
        r = await gql(CONFIRM_SMS, {"f": begun["factorId"], "c": wrong}, **headers)
        assert r["data"]["confirmSmsEnrollment"]["code"] == "INVALID_CREDENTIALS"

    late = await gql(CONFIRM_SMS, {"f": begun["factorId"], "c": code}, **headers)

    assert late["data"]["confirmSmsEnrollment"]["__typename"] == "InvalidCredentials"


async def test_sms_resends_are_capped_per_code_and_per_number(gql, db, player, settings):
    headers = bearer((await _tokens(gql))["accessToken"])
    begun = (await gql(BEGIN_SMS, {"p": PHONE}, **headers))["data"]["beginSmsEnrollment"]
    code = await last_sms_code(db, PHONE)
    await gql(CONFIRM_SMS, {"f": begun["factorId"], "c": code}, **headers)
    challenge = (await _tokens(gql))["challengeId"]

    sends = [(await gql(SEND_SMS, {"c": challenge}))["data"]["sendMfaSmsCode"]["__typename"]
             for _ in range(settings.sms_max_sends_per_code + 1)]  # fmt: skip
    # Another factor needs a full (password + SMS) sign-in: step-up, issue 10 item 12.
    full = await gql(
        VERIFY_MFA, {"c": challenge, "m": "SMS", "code": await last_sms_code(db, PHONE)}
    )
    headers = bearer(full["data"]["verifyMfa"]["accessToken"])
    other_numbers = [
        (await gql(BEGIN_SMS, {"p": PHONE}, **headers))["data"]["beginSmsEnrollment"]["__typename"]
        for _ in range(2)
    ]

    assert sends == ["Done"] * settings.sms_max_sends_per_code + ["TooManyAttempts"]
    # 1 enrolment + 3 sign-in codes = 4 texts to this number; the 6th in the hour is refused
    assert other_numbers == ["SmsEnrollment", "TooManyAttempts"]
    async with db.read_session() as session:
        texts = await session.execute(text("SELECT count(*) FROM sms_outbox"))
        assert texts.scalar_one() == 1 + settings.sms_max_sends_per_code + 1


async def test_bad_phone_number_is_a_validation_error(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    result = (await gql(BEGIN_SMS, {"p": "0151 not a number"}, **headers))["data"]
    assert result["beginSmsEnrollment"] == {"__typename": "ValidationError", "field": "phone"}


async def _enrol_key(gql, headers, authenticator) -> None:
    options = (await gql(BEGIN_WEBAUTHN, **headers))["data"]["beginWebauthnRegistration"]["options"]
    registered = await gql(REGISTER_WEBAUTHN, {"c": authenticator.register(options)}, **headers)
    assert registered["data"]["registerWebauthnKey"]["__typename"] == "MfaEnrolled", registered


async def test_webauthn_registration_and_authentication_ceremonies(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    key = SoftAuthenticator()
    await _enrol_key(gql, headers, key)

    challenge = await _tokens(gql)
    assert challenge["methods"] == ["WEBAUTHN", "RECOVERY_CODE"]
    assertion = key.assert_(challenge["webauthnOptions"])
    result = await gql(VERIFY_MFA, {"c": challenge["challengeId"], "m": "WEBAUTHN", "a": assertion})

    assert result["data"]["verifyMfa"]["__typename"] == "AuthTokens"
    async with db.read_session() as session:
        count = (await session.execute(select(MfaFactor.sign_count))).scalar_one()
    assert count == 1


async def test_webauthn_stale_sign_count_is_refused(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    key = SoftAuthenticator()
    await _enrol_key(gql, headers, key)
    first = await _tokens(gql)
    await gql(VERIFY_MFA, {"c": first["challengeId"], "m": "WEBAUTHN",
                           "a": key.assert_(first["webauthnOptions"], sign_count=5)})  # fmt: skip

    second = await _tokens(gql)
    cloned = key.assert_(second["webauthnOptions"], sign_count=5)  # a clone shows an old count
    result = await gql(VERIFY_MFA, {"c": second["challengeId"], "m": "WEBAUTHN", "a": cloned})

    assert result["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"


async def test_webauthn_assertion_for_another_users_challenge_is_refused(gql, db, player, settings):
    headers = bearer((await _tokens(gql))["accessToken"])
    key = SoftAuthenticator()
    await _enrol_key(gql, headers, key)
    other = await create_player(db, settings, login="other-user")
    other_headers = bearer(
        (await gql(LOGIN, {"id": "other-user", "pw": PASSWORD}))["data"]["login"]["accessToken"]
    )
    other_key = SoftAuthenticator()
    await _enrol_key(gql, other_headers, other_key)

    # The attacker holds their own key and answers the victim's challenge with it.
    victim_challenge = await _tokens(gql)
    stolen = other_key.assert_(victim_challenge["webauthnOptions"])
    result = await gql(VERIFY_MFA, {"c": victim_challenge["challengeId"], "m": "WEBAUTHN",
                                    "a": stolen})  # fmt: skip

    assert result["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"
    assert other.id != player.id


async def test_webauthn_stale_challenge_and_wrong_origin_are_refused(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    key = SoftAuthenticator()
    await _enrol_key(gql, headers, key)
    old = await _tokens(gql)
    new = await _tokens(gql)

    stale = await gql(VERIFY_MFA, {"c": new["challengeId"], "m": "WEBAUTHN",
                                   "a": key.assert_(old["webauthnOptions"])})  # fmt: skip
    phished = await gql(VERIFY_MFA, {"c": new["challengeId"], "m": "WEBAUTHN",
                                     "a": key.assert_(new["webauthnOptions"],
                                                      origin="https://evil.example")})  # fmt: skip
    ok = await gql(VERIFY_MFA, {"c": new["challengeId"], "m": "WEBAUTHN",
                                "a": key.assert_(new["webauthnOptions"])})  # fmt: skip
    reused = await gql(VERIFY_MFA, {"c": new["challengeId"], "m": "WEBAUTHN",
                                    "a": key.assert_(new["webauthnOptions"])})  # fmt: skip

    assert stale["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"
    assert phished["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"
    assert ok["data"]["verifyMfa"]["__typename"] == "AuthTokens"
    assert reused["data"]["verifyMfa"]["code"] == "INVALID_CREDENTIALS"  # challenge consumed


async def test_webauthn_registration_with_a_wrong_challenge_is_refused(gql, db, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    key = SoftAuthenticator()
    await gql(BEGIN_WEBAUTHN, **headers)

    forged = key.register({"challenge": "bm90LXRoZS1jaGFsbGVuZ2U"})
    result = (await gql(REGISTER_WEBAUTHN, {"c": forged}, **headers))["data"]

    assert result["registerWebauthnKey"]["__typename"] == "MfaFailed"
    async with db.read_session() as session:
        assert (await session.execute(select(MfaFactor))).first() is None


async def test_service_clients_cannot_enrol_factors(gql, db, auth):
    headers = await auth.service_headers("player:read")
    result = (await gql("mutation { beginTotpEnrollment { __typename } }", **headers))["data"]
    assert result["beginTotpEnrollment"]["__typename"] == "Forbidden"


async def test_totp_secret_is_sealed(db, settings, gql, player):
    headers = bearer((await _tokens(gql))["accessToken"])
    totp, _, _ = await _enrol_totp(gql, headers)
    async with db.read_session() as session:
        stored = (await session.execute(select(MfaFactor.secret))).scalar_one()
    assert totp.secret not in stored
    assert (await totp_of(db, settings, f"player:{player.id}")).secret == totp.secret
