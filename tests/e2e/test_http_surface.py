"""The HTTP surface (issue 10 items 15 and 21): request ids on every answer, security
headers, GraphQL-over-HTTP media types, and the real `pms serve`: no server banner and no
query strings in the access log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import httpx
import pytest
from starlette.routing import Route

from tests.realtime.conftest import free_port

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_a_rest_500_outside_graphql_is_json_with_the_request_id_logged(app, client, caplog):
    async def broken(request):
        raise RuntimeError("a bug in a REST handler")

    app.router.routes.append(Route("/broken", broken))
    with caplog.at_level(logging.ERROR, logger="app.core.http_guard"):
        response = await client.get("/broken", headers={"x-request-id": "req-rest-500"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-rest-500"
    assert response.json() == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": "Unexpected error.",
            "requestId": "req-rest-500",
        }
    }
    [record] = [r for r in caplog.records if r.name == "app.core.http_guard"]
    assert "req-rest-500" in record.getMessage()
    assert record.exc_info is not None and "a bug in a REST handler" in str(record.exc_info[1])


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/healthz"), ("POST", "/graphql"), ("GET", "/players"), ("GET", "/nowhere")],
)
async def test_every_response_has_nosniff_no_store_and_a_request_id(client, db, method, path):
    response = await client.request(method, path, json={"query": "{ __typename }"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert len(response.headers["x-request-id"]) >= 16


async def test_jwks_keeps_its_own_cache_policy(client):
    response = await client.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_graphql_response_json_is_negotiated(client, db):
    accept = {"accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    ok = await client.post("/graphql", json={"query": "{ __typename }"}, headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"__typename": "Query"}}

    legacy = await client.post("/graphql", json={"query": "{ __typename }"})
    assert legacy.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ notAField }"}',  # validation error
        b'{"query": "{ __typename "}',  # syntax error
        b'{"query": ',  # not JSON
        b"{}",  # no query
    ],
)
async def test_request_errors_are_400_with_the_graphql_response_media_type(client, db, body):
    response = await client.post(
        "/graphql",
        content=body,
        headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    parsed = response.json()
    assert "data" not in parsed
    assert parsed["errors"][0]["message"]


async def test_request_errors_stay_200_for_legacy_json_clients(client, db):
    response = await client.post("/graphql", json={"query": "{ notAField }"})
    assert response.status_code == 200
    assert response.json()["errors"]


async def test_an_accept_header_we_cannot_satisfy_is_406(client):
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "application/xml"}
    )
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.timeout_sensitive
def test_pms_serve_has_no_server_banner_and_logs_no_query_strings(database_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env.update(PMS_DATABASE_URL=database_url, PMS_ENV="test", PMS_RUN_BACKGROUND_TASKS="false")
    cmd = [sys.executable, "-m", "pms", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        response = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and response is None:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/healthz?password=hunter2-secret&token=abc"
                )
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None, "the server did not start"
        time.sleep(0.3)  # the access line is written after the response
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()

    assert response.status_code == 200
    assert "server" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '"GET /healthz HTTP/1.1" 200' in output
    assert "hunter2-secret" not in output
    assert "token=abc" not in output
