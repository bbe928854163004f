"""Issue 10 item 9: identifiers are normalised (NFKC + case fold) before lookup, the
throttle is keyed on the resolved account, and the per-ip bucket does not lock out
everybody behind one proxy."""

from __future__ import annotations

import pytest

from tests.e2e.test_register_player import REGISTER
from tests.factories import create_player, registration
from tests.identity_helpers import LOGIN, PASSWORD, STAFF_LOGIN, create_staff


def full_width(text: str) -> str:
    """The full-width (U+FF01..) spelling of printable ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


FULL_WIDTH_EMAIL = full_width("high@example.com")


@pytest.fixture
async def player(db, settings):
    return await create_player(db, settings, login="HighRoller", email="high@example.com")


async def _login(gql, identifier, password=PASSWORD, query=LOGIN):
    body = await gql(query, {"id": identifier, "pw": password})
    return next(iter(body["data"].values()))


async def test_every_spelling_of_one_account_shares_one_bucket(gql, db, player, settings):
    spellings = [
        "high@example.com",
        "HighRoller",
        "HIGHROLLER",
        FULL_WIDTH_EMAIL,
        full_width("HighRoller"),
    ]
    answers = [
        (await _login(gql, spellings[i % len(spellings)], "wrong password!!"))["__typename"]
        for i in range(settings.login_max_failures_per_account + 3)
    ]
    right = await _login(gql, FULL_WIDTH_EMAIL)

    limit = settings.login_max_failures_per_account
    assert answers == ["InvalidCredentials"] * limit + ["TooManyAttempts"] * 3
    assert right["__typename"] == "TooManyAttempts"


async def test_the_full_width_spelling_signs_in_to_the_same_account(gql, db, player):
    tokens = [await _login(gql, who) for who in (FULL_WIDTH_EMAIL, "high@example.com")]
    assert [t["__typename"] for t in tokens] == ["AuthTokens", "AuthTokens"]


async def test_staff_sign_in_normalises_the_email(gql, db, settings):
    await create_staff(db, settings, "SUPPORT", email="ops@casino.example")
    challenge = await _login(gql, full_width("OPS@casino.example"), query=STAFF_LOGIN)
    assert challenge["__typename"] == "MfaRequired"


async def test_registration_uniqueness_sees_through_spellings(gql, db, player):
    body = await gql(REGISTER, {"input": registration(email=FULL_WIDTH_EMAIL)})
    assert body["data"]["registerPlayer"]["__typename"] == "AlreadyExists"
    assert body["data"]["registerPlayer"]["field"] == "email"


async def test_failures_from_one_proxy_do_not_lock_out_other_people_behind_it(
    gql, db, player, settings
):
    """Every test request comes from the same client address: fifty failed guesses on
    other accounts from it (today's old per-ip limit) leave this player able to sign in."""
    for i in range(50):
        await _login(gql, f"someone{i}@example.com", "wrong password!!")
    assert (await _login(gql, "HighRoller"))["__typename"] == "AuthTokens"
