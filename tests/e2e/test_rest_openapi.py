"""REST contract (issue 17 item 9): /openapi.json is generated from the response models
the handlers serialise through, and schemathesis (OpenAPI mode, with a token) finds no
response that breaks it, against a real `pms serve` over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.core.db import Database
from app.core.settings import Settings
from app.identity.keys import KeyRing
from app.identity.tokens import issue_access_token
from app.segments import service as segments
from resolvers.rest.openapi import OPENAPI
from tests.auth import service_principal
from tests.conftest import truncate_all
from tests.e2e.test_serve_lifecycle import free_port
from tests.factories import create_player

ROOT = Path(__file__).resolve().parents[2]
GERMANS = {"attr": "country", "op": "eq", "value": "DE"}
READ_SCOPES = ("player:read", "player:read_pii", "wallet:read", "segment:read")


async def seed(settings: Settings) -> tuple[str, str]:
    """A player in a segment (so 200s carry data) and a service token that reads all."""
    db = Database(settings.database_url or "")
    try:
        async with db.transaction() as session:
            player = await create_player(session, settings, country="DE")
            await segments.create_segment(session, name="DE", actor="staff:t",
                                          settings=settings, rule=GERMANS)  # fmt: skip
        token, _ = await issue_access_token(service_principal(*READ_SCOPES), KeyRing(db, settings),
                                            settings)  # fmt: skip
        return str(player.id), token
    finally:
        await db.dispose()


async def cleanup(settings: Settings) -> None:
    database = Database(settings.database_url or "")
    await truncate_all(database)  # the next tests start from an empty database
    await database.dispose()


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[tuple[str, str, str]]:
    player_id, token = asyncio.run(seed(settings))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env.update(PMS_ENV="test", PMS_DATABASE_URL=settings.database_url or "",
               PMS_RUN_BACKGROUND_TASKS="false")  # fmt: skip
    cmd = [sys.executable, "-m", "pms", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, player_id, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        asyncio.run(cleanup(settings))


@pytest.fixture(scope="module")
def api_schema(served):
    url, _, _ = served
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


def test_rest_conforms_to_its_openapi_document(served, api_schema):
    """Every operation, generated cases (valid and invalid input), all default checks
    (status codes, content type, body schema, auth enforced); one failure fails the test."""
    _, _, token = served
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 7  # /players (4) and /imports (3)

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=25, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))  # fmt: skip
        def conforms(case):
            # On the case (not the call): the auth check can then send it without the token.
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            # An opaque cursor (`after`) that decodes to nothing is a 400 by design: the one
            # check that expects every schema-valid request to be accepted skips /players.
            skip = [positive_data_acceptance] if case.operation.path == "/players" else []
            case.call_and_validate(excluded_checks=skip)

        conforms()


def test_real_200_responses_conform(served, api_schema):
    url, player_id, token = served
    headers = {"authorization": f"Bearer {token}"}
    paths = ["/players", f"/players/{player_id}", f"/players/{player_id}/balance",
             f"/players/{player_id}/segment"]  # fmt: skip
    bodies = {}
    for path in paths:
        response = httpx.get(url + path, headers=headers)
        assert response.status_code == 200, response.text
        template = path.replace(player_id, "{id}")
        api_schema[template]["GET"].validate_response(response)
        bodies[template] = response.json()
    assert [p["id"] for p in bodies["/players"]["items"]] == [player_id]
    assert "ownerView" not in bodies["/players/{id}"] and "Row" not in bodies["/players/{id}"]
    assert bodies["/players/{id}/segment"]["segments"][0]["name"] == "DE"
    assert {w["kind"] for w in bodies["/players/{id}/balance"]["wallets"]} >= {"REAL", "BONUS"}


def test_the_document_is_generated_from_the_models():
    schemas = OPENAPI["components"]["schemas"]
    assert "MANUAL_REVIEW" in schemas["ConfirmStatus"]["enum"]
    player = schemas["Player"]
    assert set(player["required"]) == set(player["properties"])  # every key always sent
    assert {"locale", "preferences", "birthDate", "trafficSource", "affiliateCode"} <= set(
        player["properties"]
    )
    assert player["properties"]["email"]["anyOf"][1] == {"type": "null"}  # masked -> null
