"""Issue 10 item 8: second-factor failures are counted per account across challenges;
past the limit the factor locks (with a backoff), with an audit row and an alert event."""

from __future__ import annotations

import time

from sqlalchemy import select

from app.events.models import OutboxEvent
from app.identity.mfa_lockout import lock_seconds
from tests.factories import create_player
from tests.identity_helpers import LOGIN, PASSWORD, VERIFY_MFA, audit_rows, bearer, totp_of

BEGIN_TOTP = "mutation { beginTotpEnrollment { ... on TotpEnrollment { factorId otpauthUri } } }"
CONFIRM_TOTP = """mutation C($f: ID!, $c: String!) { confirmTotpEnrollment(factorId: $f, code: $c) {
  __typename ... on MfaEnrolled { recoveryCodes } } }"""


async def _challenge(gql) -> str:
    body = (await gql(LOGIN, {"id": "lock-user", "pw": PASSWORD}))["data"]["login"]
    assert body["__typename"] == "MfaRequired", body
    return body["challengeId"]


async def _enrolled(gql, db, settings):
    player = await create_player(db, settings, login="lock-user")
    tokens = (await gql(LOGIN, {"id": "lock-user", "pw": PASSWORD}))["data"]["login"]
    begun = (await gql(BEGIN_TOTP, **bearer(tokens["accessToken"])))["data"]["beginTotpEnrollment"]
    totp = await totp_of(db, settings, f"player:{player.id}")
    step = int(time.time() // 30)
    confirm = {"f": begun["factorId"], "c": totp.at(step * 30)}
    done = await gql(CONFIRM_TOTP, confirm, **bearer(tokens["accessToken"]))
    assert done["data"]["confirmTotpEnrollment"]["__typename"] == "MfaEnrolled"
    return player, totp, step, done["data"]["confirmTotpEnrollment"]["recoveryCodes"]


def _wrong(totp, step: int) -> str:
    good = {totp.at((step + d) * 30) for d in range(-1, 4)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in good)


async def test_twenty_wrong_codes_over_four_challenges_then_the_right_one_fails(gql, db, settings):
    player, totp, step, _ = await _enrolled(gql, db, settings)
    answers = []
    for _ in range(4):
        challenge = await _challenge(gql)
        for _ in range(settings.mfa_max_attempts):
            body = await gql(VERIFY_MFA, {"c": challenge, "m": "TOTP", "code": _wrong(totp, step)})
            answers.append(body["data"]["verifyMfa"]["__typename"])

    challenge = await _challenge(gql)
    right = await gql(VERIFY_MFA, {"c": challenge, "m": "TOTP", "code": totp.at((step + 1) * 30)})

    limit = settings.mfa_max_failures_per_account
    assert answers[: limit - 1] == ["InvalidCredentials"] * (limit - 1)
    assert set(answers[limit - 1 :]) == {"TooManyAttempts"}
    assert right["data"]["verifyMfa"]["__typename"] == "TooManyAttempts"
    assert right["data"]["verifyMfa"]["retryAfterSeconds"] > 60
    locks = await audit_rows(db, "auth.mfa_locked")
    assert [(r.target, r.outcome, r.details["failures"]) for r in locks] == [
        (f"player:{player.id}", "denied", limit)
    ]
    async with db.read_session() as session:
        events = (await session.execute(
            select(OutboxEvent).where(OutboxEvent.type == "security.mfa_locked")
        )).scalars().all()  # fmt: skip
    assert [(e.subject, e.data["lockedSeconds"]) for e in events] == [
        (f"player:{player.id}", settings.mfa_lockout_base_seconds)
    ]


async def test_a_success_below_the_limit_resets_the_count(gql, db, settings):
    _, totp, step, codes = await _enrolled(gql, db, settings)
    wrong_per_round = min(settings.mfa_max_attempts, settings.mfa_max_failures_per_account) - 1
    rounds = settings.mfa_max_failures_per_account // wrong_per_round + 1
    for n in range(rounds):
        challenge = await _challenge(gql)
        for _ in range(wrong_per_round):
            await gql(VERIFY_MFA, {"c": challenge, "m": "TOTP", "code": _wrong(totp, step)})
        ok = await gql(VERIFY_MFA, {"c": challenge, "m": "RECOVERY_CODE", "code": codes[n]})
        assert ok["data"]["verifyMfa"]["__typename"] == "AuthTokens"
    assert rounds * wrong_per_round > settings.mfa_max_failures_per_account
    assert await audit_rows(db, "auth.mfa_locked") == []


def test_the_lock_doubles_with_each_failure_past_the_limit_up_to_the_cap():
    assert [lock_seconds(n, 10, 900, 7200) for n in (9, 10, 11, 12, 13, 40)] == [
        0, 900, 1800, 3600, 7200, 7200,
    ]  # fmt: skip
