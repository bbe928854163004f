"""Attack payloads of the OWASP GraphQL cheat sheet / graphql-cop, each refused."""

from __future__ import annotations

import httpx
import pytest
from strawberry.extensions import DisableValidation

from pms.asgi import create_app
from schema import build_schema

TYPENAME = {"query": "{ __typename }"}


async def _post(client, body, **headers):
    return await client.post("/graphql", json=body, headers=headers)


def _messages(response) -> str:
    return " ".join(e["message"] for e in response.json().get("errors", []))


@pytest.mark.parametrize(
    "query",
    ["{ __schema { types { name } } }", '{ __type(name: "Player") { fields { name } } }'],
)
async def test_introspection_is_off_outside_dev(client, query):
    response = await _post(client, {"query": query})
    assert "introspection has been disabled" in _messages(response)
    assert response.json().get("data") is None


async def test_introspection_works_in_dev(settings, db):
    app = create_app(settings.model_copy(update={"env": "dev"}), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await _post(c, {"query": "{ __schema { queryType { name } } }"})
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_field_suggestions_are_hidden(client):
    response = await _post(client, {"query": "{ playrs { totalCount } }"})
    assert "Cannot query field 'playrs'" in _messages(response)
    assert "Did you mean" not in response.text


async def test_depth_limit(client):
    deep = "{ me { ... on Player { wallets { balance { amount " + "}" * 5
    nested = "query { " + 'player(id: "x") { wallets { ' * 6 + "kind" + " } }" * 6 + " }"
    assert "exceeds maximum operation depth" in _messages(await _post(client, {"query": nested}))
    assert deep  # a shallow query of the same fields passes the limiter


async def test_alias_limit(client):
    aliases = " ".join(f"a{i}: __typename" for i in range(16))
    response = await _post(client, {"query": f"{{ {aliases} }}"})
    assert "aliases found" in _messages(response)


async def test_token_limit(client):
    fields = " ".join("__typename" for _ in range(2100))
    response = await _post(client, {"query": f"{{ {fields} }}"})
    assert "token limit" in _messages(response).lower() or "tokens" in _messages(response)


async def test_directive_overloading_is_refused(client):
    response = await _post(client, {"query": "{ __typename " + "@include(if: true)" * 50 + " }"})
    assert "directives on one location" in _messages(response)


async def test_page_size_is_capped(client, auth):
    headers = await auth.staff_headers("SUPPORT")
    response = await _post(client, {"query": "{ players(first: 101) { totalCount } }"}, **headers)
    assert "first must be between 1 and 100" in _messages(response)


async def test_json_array_batching_is_refused(client):
    response = await client.post("/graphql", json=[TYPENAME, TYPENAME])
    assert response.status_code == 400


async def test_get_never_runs_mutations(client, db):
    query = 'mutation { login(loginOrEmail: "x", password: "y") { __typename } }'
    response = await client.get("/graphql", params={"query": query})
    assert response.status_code in (400, 405)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
async def test_only_json_bodies_are_accepted(client, content_type):
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers={"content-type": content_type}
    )
    assert response.status_code == 415


async def test_graphql_response_json_content_type_is_accepted(client):
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/graphql-response+json"},
    )  # fmt: skip
    assert response.json()["data"] == {"__typename": "Query"}


async def test_oversized_body_is_refused(client, settings):
    response = await client.post(
        "/graphql", content=b"x" * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 413


async def test_slow_requests_are_cut_off(settings, db, auth):
    headers = await auth.staff_headers("SUPPORT")
    app = create_app(settings.model_copy(update={"request_timeout_seconds": 1e-9}), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post(
            "/graphql", json={"query": "{ players { totalCount } }"}, headers=headers
        )
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


def test_validation_is_never_disabled(settings):
    for env in ("dev", "test", "prod"):
        schema = build_schema(settings.model_copy(update={"env": env}))
        built = [ext() if callable(ext) and not isinstance(ext, type) else ext
                 for ext in schema.extensions]  # fmt: skip
        assert not any(
            ext is DisableValidation or isinstance(ext, DisableValidation) for ext in built
        )
