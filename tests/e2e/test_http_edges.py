"""HTTP-level behaviour: probes, malformed requests, body limits, request ids."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.players.models import Player
from tests.factories import registration

REGISTER = "mutation($i: RegisterPlayerInput!) { registerPlayer(input: $i) { __typename } }"


async def player_count(db) -> int:
    async with db.read_session() as s:
        return (await s.execute(select(func.count()).select_from(Player))).scalar_one()


async def test_healthz_answers_without_touching_the_database(client):
    response = await client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_reports_database_and_migrations_at_head(client):
    from app.core.migrations import head_revisions

    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok", "database": "ok", "migrations": sorted(head_revisions()),
    }  # fmt: skip


async def test_malformed_json_is_400_and_writes_nothing(client, db):
    response = await client.post(
        "/graphql", content=b'{"query": "mutation {', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert await player_count(db) == 0


async def test_oversized_body_is_413_and_writes_nothing(client, db, settings):
    padding = "x" * (settings.max_body_bytes + 1)
    variables = {"i": registration(), "padding": padding}

    response = await client.post("/graphql", json={"query": REGISTER, "variables": variables})

    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert await player_count(db) == 0


async def test_chunked_oversized_body_is_413(client, db, settings):
    async def chunks():
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({"i": {**registration(), "favouriteColour": "red"}}, "favouriteColour"),
        ({"i": {**registration(), "birthDate": 19900517}}, "birthDate"),
        ({"i": {k: v for k, v in registration().items() if k != "email"}}, "email"),
        ({"i": {**registration(), "login": None}}, "login"),
    ],
)
async def test_unknown_fields_wrong_types_and_missing_fields_are_graphql_errors(
    gql, db, variables, fragment
):
    body = await gql(REGISTER, variables)

    assert body.get("data") is None
    assert fragment in json.dumps(body["errors"])
    assert await player_count(db) == 0


async def test_unknown_query_field_is_a_validation_error(gql, db):
    body = await gql("{ players(first: 1) { edges { node { passwordHash } } } }")

    assert "passwordHash" in body["errors"][0]["message"]


async def test_depth_limit_refuses_documents_nested_too_deep(settings, db):
    # Our own types are shallow, so prove the rule with a lower configured limit.
    import httpx

    from pms.asgi import create_app
    from tests.auth import staff_principal, token_for
    from tests.conftest import GraphQLClient

    app = create_app(settings.model_copy(update={"max_query_depth": 3}), database=db)
    auth = {"authorization": f"Bearer {await token_for(app, staff_principal('ADMIN'))}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pms.test"
    ) as http:
        gql = GraphQLClient(http)
        ok = await gql("{ players(first: 1) { edges { node { id } } } }", **auth)
        refused = await gql("{ players(first: 1) { edges { node { wallets { kind } } } } }", **auth)

    assert "errors" not in ok
    assert "exceeds maximum operation depth of 3" in refused["errors"][0]["message"]
    assert refused.get("data") is None


async def test_alias_limit_refuses_alias_floods(gql, db, settings):
    aliases = " ".join(f"a{i}: __typename" for i in range(settings.max_aliases + 1))

    body = await gql("{ " + aliases + " }")

    assert "aliases" in body["errors"][0]["message"]


async def test_token_limit_refuses_huge_documents(gql, db, settings):
    fields = " ".join("__typename" for _ in range(settings.max_tokens))

    body = await gql("{ " + fields + " }")

    assert "token" in body["errors"][0]["message"].lower()


async def test_request_id_is_echoed_or_generated(client):
    given = await client.get("/healthz", headers={"x-request-id": "trace-42"})
    hostile = await client.get("/healthz", headers={"x-request-id": "bad id;" * 20})

    assert given.headers["x-request-id"] == "trace-42"
    assert len(hostile.headers["x-request-id"]) == 32  # replaced by a fresh uuid4 hex
