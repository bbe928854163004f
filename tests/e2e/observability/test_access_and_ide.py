"""Who can read ``/metrics`` (token, environment, separate port) and GraphiQL served with
its vendored assets only (an air-gapped browser renders it)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.core import graphiql
from pms.asgi import create_app


async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
        yield http


@pytest.fixture
async def prod_client(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"env": "prod"}), database=db)
    async for http in _client(app):
        yield http


@pytest.fixture
async def token_client(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    update = {"env": "prod", "metrics_token": SecretStr("scrape-me-please")}
    app = create_app(settings.model_copy(update=update), database=db)
    async for http in _client(app):
        yield http


async def test_metrics_are_open_in_test_and_dev(client):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "# TYPE pms_http_requests_total counter" in response.text


async def test_outside_dev_without_a_token_metrics_are_not_exposed(prod_client):
    response = await prod_client.get("/metrics")
    assert response.status_code == 404
    assert "pms_" not in response.text


async def test_with_a_token_only_the_bearer_of_it_reads_metrics(token_client):
    assert (await token_client.get("/metrics")).status_code == 401
    wrong = await token_client.get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "pms_" not in wrong.text
    basic = await token_client.get("/metrics", headers={"authorization": "Basic c2NyYXBlLW1l"})
    assert basic.status_code == 401
    ok = await token_client.get("/metrics", headers={"authorization": "Bearer scrape-me-please"})
    assert ok.status_code == 200
    assert "pms_wallet_operations_total" in ok.text or "pms_wallet_operations" in ok.text


async def test_a_metrics_port_takes_metrics_off_the_api_port(settings, db):
    app = create_app(settings.model_copy(update={"metrics_port": 9464}), database=db)
    async for http in _client(app):
        assert (await http.get("/metrics")).status_code == 404


# --- GraphiQL -------------------------------------------------------------------------------


@pytest.fixture
async def dev_client(settings, db) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"env": "dev"}), database=db)
    async for http in _client(app):
        yield http


async def test_graphiql_page_references_only_assets_the_app_serves(dev_client):
    page = await dev_client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "GraphiQL" in html
    # nothing from another origin: no absolute or protocol-relative URL anywhere in the page
    assert not re.search(r"(https?:)?//[A-Za-z0-9]", html), html
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(referenced) == sorted(f"{graphiql.ASSETS_PATH}/{a}" for a in graphiql.ASSETS)
    for path in referenced:
        asset = await dev_client.get(path)
        assert asset.status_code == 200, path
        expected = "text/css" if path.endswith(".css") else "javascript"
        assert expected in asset.headers["content-type"], path
        assert len(asset.content) > 5000, path
    js = await dev_client.get(f"{graphiql.ASSETS_PATH}/graphiql.min.js")
    assert b"createFetcher" in js.content


async def test_graphiql_assets_do_not_escape_their_directory(dev_client):
    assert (await dev_client.get(f"{graphiql.ASSETS_PATH}/../graphiql.py")).status_code == 404
    assert (await dev_client.get(f"{graphiql.ASSETS_PATH}/nope.js")).status_code == 404


async def test_no_graphiql_outside_dev(client):
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert "GraphiQL" not in page.text
    assert (await client.get(f"{graphiql.ASSETS_PATH}/graphiql.min.js")).status_code == 404
