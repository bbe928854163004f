"""Issue 10 item 11: registration is rate-limited per ip, one document runs at most one
password-hashing mutation, and a refused registration costs one hash like an accepted one
(counted on argon2's hasher, not timed)."""

from __future__ import annotations

import argon2
import pytest
from sqlalchemy import func, select

from app.players.models import Player
from tests.e2e.test_register_player import REGISTER
from tests.factories import create_player, registration
from tests.identity_helpers import LOGIN, PASSWORD


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every argon2 hash computed (the library call, wrapped to count it)."""
    calls: list[str] = []
    original = argon2.PasswordHasher.hash

    def counting(self, password, *args, **kwargs):
        calls.append("hash")
        return original(self, password, *args, **kwargs)

    monkeypatch.setattr(argon2.PasswordHasher, "hash", counting)
    return calls


async def _players(db) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(Player))


async def test_fifteen_aliased_registrations_are_refused_before_any_hash(gql, db, hashes):
    fields = " ".join(
        f'r{i}: registerPlayer(input: {{email: "bulk{i}@example.com", login: "bulk{i}", '
        f'password: "a long enough password {i}", country: "DE", currency: "EUR", '
        f'birthDate: "1990-01-01"}}) {{ __typename }}'
        for i in range(15)
    )
    body = await gql(f"mutation {{ {fields} }}")

    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TOO_MANY_PASSWORD_OPERATIONS"]
    assert (hashes, await _players(db)) == ([], 0)


async def test_mixing_login_and_registration_through_a_fragment_is_refused(gql, db, hashes):
    document = """mutation { ...Both }
    fragment Both on Mutation {
      login(loginOrEmail: "x", password: "yyyyyyyyyyyy") { __typename }
      ... on Mutation { staffLogin(email: "a@b.example", password: "yyyyyyyyyyyy") { __typename } }
    }"""
    body = await gql(document)
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_PASSWORD_OPERATIONS"
    assert hashes == []


async def test_one_password_mutation_beside_others_still_runs(gql, db, settings):
    await create_player(db, settings, login="single-op")
    body = await gql(
        'mutation($p: String!) { login(loginOrEmail: "single-op", password: $p) { __typename } '
        'refreshTokens(refreshToken: "rt_unknown") { __typename } }',
        {"p": PASSWORD},
    )
    assert body["data"] == {
        "login": {"__typename": "AuthTokens"},
        "refreshTokens": {"__typename": "InvalidCredentials"},
    }


async def test_refused_taken_and_accepted_registrations_each_cost_one_hash(gql, db, hashes):
    accepted = await gql(REGISTER, {"input": registration(email="one@example.com", login="one")})
    after_accepted = len(hashes)
    taken = await gql(REGISTER, {"input": registration(email="one@example.com")})
    after_taken = len(hashes)
    refused = await gql(REGISTER, {"input": registration(country="XX")})

    assert [
        accepted["data"]["registerPlayer"]["__typename"],
        taken["data"]["registerPlayer"]["__typename"],
        refused["data"]["registerPlayer"]["__typename"],
    ] == ["RegisterPlayerSuccess", "AlreadyExists", "ValidationError"]
    assert taken["data"]["registerPlayer"]["field"] == "email"
    assert (after_accepted, after_taken - after_accepted, len(hashes) - after_taken) == (1, 1, 1)


async def test_registration_is_rate_limited_per_ip(gql, db, settings, hashes):
    original = settings.registrations_per_ip_per_hour
    object.__setattr__(settings, "registrations_per_ip_per_hour", 3)
    try:
        answers = [
            (await gql(REGISTER, {"input": registration()}))["data"]["registerPlayer"]
            for _ in range(5)
        ]
    finally:
        object.__setattr__(settings, "registrations_per_ip_per_hour", original)
    assert [a["__typename"] for a in answers] == ["RegisterPlayerSuccess"] * 3 + [
        "TooManyAttempts"
    ] * 2
    # The refused ones computed nothing and wrote nothing.
    assert (len(hashes), await _players(db)) == (3, 3)


async def test_the_login_document_limit_keeps_the_throttle_answer_for_single_logins(
    gql, db, settings
):
    await create_player(db, settings, login="one-by-one")
    kinds = [
        (await gql(LOGIN, {"id": "one-by-one", "pw": f"wrong password {i}"}))["data"]["login"][
            "__typename"
        ]
        for i in range(settings.login_max_failures_per_account + 1)
    ]
    limit = settings.login_max_failures_per_account
    assert kinds == ["InvalidCredentials"] * limit + ["TooManyAttempts"]
