"""Apollo automatic persisted queries through a real uvicorn: an unknown hash answers
PersistedQueryNotFound (so Apollo clients resend with the document), the document is
registered under its verified sha256 once it executed, GET and POST alike, a wrong hash
or an invalid document is never registered, and the store is a bounded LRU."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from schema.persisted_queries import sha256_hex
from tests.auth import player_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import LiveServer, start_server, stop_server

ME = "query Me { me { ... on Player { id login } } }"


def apq(sha: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


@pytest.fixture
async def live(settings, db) -> AsyncIterator[LiveServer]:
    server, task, live = await start_server(
        settings.model_copy(update={"persisted_queries_max": 2}), db
    )
    yield live
    await stop_server(server, task)


@pytest.fixture
async def http(live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url) as client:
        yield client


def _not_found(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "data" not in body
    assert body["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]


async def test_apollo_round_trip_over_post_then_get(http, live, db, settings):
    player = await create_player(db, settings, login="apq-player")
    headers = {"authorization": f"Bearer {await token_for(live.app, player_principal(player))}"}
    sha = sha256_hex(ME)

    # 1. The hash alone: unknown, so the client is told to send the document.
    _not_found(await http.post("/graphql", json={"extensions": apq(sha)}, headers=headers))
    # 2. Document and hash: executed and registered.
    first = await http.post("/graphql", json={"query": ME, "extensions": apq(sha)}, headers=headers)
    assert first.json()["data"]["me"] == {"id": str(player.id), "login": "apq-player"}
    # 3. From now on the hash alone is enough, by POST and by GET (upper case hex too).
    again = await http.post("/graphql", json={"extensions": apq(sha.upper())}, headers=headers)
    assert again.json() == first.json()
    params = {"extensions": json.dumps(apq(sha)), "operationName": "Me"}
    by_get = await http.get("/graphql", params=params, headers=headers)
    assert by_get.status_code == 200, by_get.text
    assert by_get.json() == first.json()


async def test_a_hash_that_does_not_match_the_document_is_refused_and_not_kept(http):
    wrong = sha256_hex("{ __typename }")
    refused = await http.post(
        "/graphql", json={"query": "query X { __typename }", "extensions": apq(wrong)}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    _not_found(await http.post("/graphql", json={"extensions": apq(wrong)}))


async def test_a_document_that_fails_validation_is_not_registered(http):
    bad = "query Bad { noSuchField }"
    sha = sha256_hex(bad)
    answered = await http.post("/graphql", json={"query": bad, "extensions": apq(sha)})
    assert "data" not in answered.json() or answered.json()["data"] is None
    _not_found(await http.post("/graphql", json={"extensions": apq(sha)}))


async def test_the_store_is_a_bounded_lru(http, live):
    docs = [f"query Q{i} {{ __typename }}" for i in range(3)]
    for doc in docs[:2]:
        ok = await http.post("/graphql", json={"query": doc, "extensions": apq(sha256_hex(doc))})
        assert ok.json()["data"] == {"__typename": "Query"}
    # Touch Q0, so Q1 is the least recently used when Q2 comes in.
    touched = await http.post("/graphql", json={"extensions": apq(sha256_hex(docs[0]))})
    assert touched.json()["data"] == {"__typename": "Query"}
    await http.post("/graphql", json={"query": docs[2], "extensions": apq(sha256_hex(docs[2]))})
    assert len(live.app.state.pms.persisted_queries) == 2
    _not_found(await http.post("/graphql", json={"extensions": apq(sha256_hex(docs[1]))}))
    for doc in (docs[0], docs[2]):
        found = await http.post("/graphql", json={"extensions": apq(sha256_hex(doc))})
        assert found.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
        {"persistedQuery": "yes"},
    ],
)
async def test_malformed_persisted_query_extensions_are_bad_requests(http, extensions):
    refused = await http.post("/graphql", json={"extensions": extensions})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
