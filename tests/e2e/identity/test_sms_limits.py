"""Issue 10 item 10: the ``log`` SMS sender is refused at startup outside dev/test, and SMS
sends are capped per account and per client ip (typed TooManyAttempts)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.identity.models import MfaFactor, SmsMessage
from app.identity.sms import SmsSenderNotAllowed
from pms.asgi import create_app
from tests.factories import create_player
from tests.identity_helpers import LOGIN, PASSWORD, bearer

BEGIN_SMS = """mutation B($p: String!) { beginSmsEnrollment(phone: $p) { __typename
  ... on SmsEnrollment { factorId } ... on TooManyAttempts { code retryAfterSeconds } } }"""


async def _headers(gql, login: str) -> dict[str, str]:
    tokens = (await gql(LOGIN, {"id": login, "pw": PASSWORD}))["data"]["login"]
    return bearer(tokens["accessToken"])


async def _counts(db) -> tuple[int, int]:
    async with db.read_session() as session:
        sms = await session.scalar(select(func.count()).select_from(SmsMessage))
        factors = await session.scalar(select(func.count()).select_from(MfaFactor))
    return sms, factors


async def test_the_log_sender_is_refused_at_startup_in_prod(settings, db):
    prod = settings.model_copy(update={"env": "prod", "secret_key": "k" * 32})
    app = create_app(prod, database=db)
    with pytest.raises(SmsSenderNotAllowed, match="PMS_SMS_SENDER"):
        async with app.router.lifespan_context(app):
            pass


async def test_enrolment_texts_to_many_numbers_are_capped_per_account(gql, db, settings):
    await create_player(db, settings, login="pumper")
    headers = await _headers(gql, "pumper")
    limit = settings.sms_max_sends_per_account_per_hour
    answers = [
        (await gql(BEGIN_SMS, {"p": f"+49151123456{n:02d}"}, **headers))["data"][
            "beginSmsEnrollment"
        ]
        for n in range(limit + 3)
    ]
    kinds = [a["__typename"] for a in answers]
    assert kinds == ["SmsEnrollment"] * limit + ["TooManyAttempts"] * 3
    assert answers[-1]["code"] == "TOO_MANY_ATTEMPTS" and answers[-1]["retryAfterSeconds"] > 0
    # A refused enrolment leaves neither a text nor a pending factor behind.
    assert await _counts(db) == (limit, limit)


async def test_texts_are_capped_per_client_ip_across_accounts(gql, db, settings):
    original = settings.sms_max_sends_per_ip_per_hour
    object.__setattr__(settings, "sms_max_sends_per_ip_per_hour", 3)
    try:
        kinds = []
        for n in range(5):
            await create_player(db, settings, login=f"ipuser{n}")
            headers = await _headers(gql, f"ipuser{n}")
            body = await gql(BEGIN_SMS, {"p": f"+49151987654{n:02d}"}, **headers)
            kinds.append(body["data"]["beginSmsEnrollment"]["__typename"])
    finally:
        object.__setattr__(settings, "sms_max_sends_per_ip_per_hour", original)
    assert kinds == ["SmsEnrollment"] * 3 + ["TooManyAttempts"] * 2
    assert await _counts(db) == (3, 3)
