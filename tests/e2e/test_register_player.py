"""registerPlayer through the real HTTP app and database."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import func, select, text

from app.players.models import Player
from app.wallets.models import Wallet
from tests.factories import registration

REGISTER = """
mutation Register($input: RegisterPlayerInput!) {
  registerPlayer(input: $input) {
    __typename
    ... on RegisterPlayerSuccess {
      player { id email login country currency status confirmStatus riskLevel vipLevel
               wallets { kind currency balance { amount currency } held { amount } } }
    }
    ... on ValidationError { code field message fieldErrors { field message } }
    ... on AlreadyExists { code field message }
  }
}
"""


async def count_rows(db, model) -> int:
    async with db.read_session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_register_creates_player_with_four_wallets(gql, db):
    body = await gql(REGISTER, {"input": registration(email="Jane.Doe@Example.COM")})

    result = body["data"]["registerPlayer"]
    assert result["__typename"] == "RegisterPlayerSuccess"
    player = result["player"]
    assert player["email"] == "jane.doe@example.com"
    assert (player["status"], player["confirmStatus"], player["riskLevel"]) == (
        "ACTIVE", "UNVERIFIED", "LOW",
    )  # fmt: skip
    assert {(w["kind"], w["currency"], w["balance"]["amount"]) for w in player["wallets"]} == {
        ("REAL", "EUR", "0.00"),
        ("BONUS", "EUR", "0.00"),
        ("FREESPINS", "XFS", "0"),
        ("TOURNAMENT", "EUR", "0.00"),
    }
    assert await count_rows(db, Wallet) == 4


async def test_password_is_stored_as_argon2id_and_never_returned(gql, db, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "very secret passphrase 42"
    body = await gql(REGISTER, {"input": registration(password=secret)})

    assert secret not in str(body)
    assert secret not in caplog.text
    async with db.read_session() as s:
        stored = (await s.execute(select(Player.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert secret not in stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("country", "XX"),
        ("country", "de"),
        ("currency", "ABC"),
        ("password", "short"),
        ("login", "a"),
        ("login", "bad login!"),
        ("birthDate", "2999-01-01"),
        ("locale", "english please"),
        ("affiliateCode", "x" * 65),
    ],
)
async def test_invalid_field_is_rejected_and_nothing_written(gql, db, field, value):
    body = await gql(REGISTER, {"input": registration(**{field: value})})

    result = body["data"]["registerPlayer"]
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_ERROR"
    assert result["field"] == field
    assert await count_rows(db, Player) == 0
    assert await count_rows(db, Wallet) == 0


async def test_every_problem_is_reported_at_once(gql, db):
    body = await gql(REGISTER, {"input": registration(email="nope", password="x", country="ZZ")})

    fields = {e["field"] for e in body["data"]["registerPlayer"]["fieldErrors"]}
    assert fields == {"email", "password", "country"}


async def test_minimum_age_depends_on_country(gql, db, settings):
    # 19 years old: fine in DE (18), too young in the US (21 by default settings).
    from datetime import date

    today = date.today()
    nineteen = today.replace(year=today.year - 19, day=min(today.day, 28)).isoformat()
    ok = await gql(REGISTER, {"input": registration(country="DE", birthDate=nineteen)})
    too_young = await gql(REGISTER, {"input": registration(country="US", birthDate=nineteen)})

    assert ok["data"]["registerPlayer"]["__typename"] == "RegisterPlayerSuccess"
    assert too_young["data"]["registerPlayer"]["field"] == "birthDate"
    assert await count_rows(db, Player) == 1


async def test_malformed_date_is_a_graphql_error(gql, db):
    body = await gql(REGISTER, {"input": registration(birthDate="17.05.1990")})

    assert body["data"] is None
    assert "birthDate" in body["errors"][0]["message"] or "date" in body["errors"][0]["message"]
    assert await count_rows(db, Player) == 0


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"email": "Same@Example.com"}, {"email": "same@example.COM"}, "email"),
        ({"login": "HighRoller"}, {"login": "highroller"}, "login"),
    ],
)
async def test_duplicates_are_case_insensitive(gql, db, first, second, field):
    await gql(REGISTER, {"input": registration(**first)})
    body = await gql(REGISTER, {"input": registration(**second)})

    result = body["data"]["registerPlayer"]
    assert result["__typename"] == "AlreadyExists"
    assert (result["code"], result["field"]) == ("ALREADY_EXISTS", field)
    assert await count_rows(db, Player) == 1
    assert await count_rows(db, Wallet) == 4


@pytest.mark.race
async def test_concurrent_registrations_with_one_email_make_one_player(gql, db):
    attempts = [registration(email="race@example.com") for _ in range(20)]

    bodies = await asyncio.gather(*(gql(REGISTER, {"input": a}) for a in attempts))

    kinds = sorted(b["data"]["registerPlayer"]["__typename"] for b in bodies)
    assert kinds == ["AlreadyExists"] * 19 + ["RegisterPlayerSuccess"]
    assert await count_rows(db, Player) == 1
    assert await count_rows(db, Wallet) == 4


async def test_unexpected_error_is_masked_and_logged_with_request_id(gql, db, caplog):
    # Break the wallets table so the second insert of the transaction fails unexpectedly.
    async with db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE wallets ADD CONSTRAINT boom CHECK (false) NOT VALID"))
    try:
        body = await gql(REGISTER, {"input": registration()}, **{"x-request-id": "req-abc-123"})
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE wallets DROP CONSTRAINT boom"))

    assert body["errors"][0]["message"] == "Unexpected error."
    assert "boom" not in str(body) and "INSERT" not in str(body)
    assert "req-abc-123" in caplog.text
    assert await count_rows(db, Player) == 0  # the player insert was rolled back too
