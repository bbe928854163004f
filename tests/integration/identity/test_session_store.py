"""The session store contract, on PostgreSQL and on the real Redis; and a full sign-in
session (rotation, reuse detection, logout) with the app configured for Redis."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from app.identity.store import PostgresStore, RedisStore, purge_expired
from pms.asgi import create_app
from tests import services
from tests.factories import create_player
from tests.identity_helpers import LOGIN, ME, PASSWORD, bearer


@pytest.fixture(params=["postgres", "redis"])
async def store(request, db):
    if request.param == "postgres":
        yield PostgresStore(db)
        return
    url = services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)
    redis_store = RedisStore(url, f"pms-test:{uuid.uuid4().hex}:")
    yield redis_store
    await redis_store.close()


async def test_put_get_delete(store):
    await store.put("a", {"x": 1}, 60)
    assert await store.get("a") == {"x": 1}
    assert await store.get_many(["a", "missing"]) == [{"x": 1}, None]
    await store.delete("a")
    assert await store.get("a") is None


async def test_take_is_atomic(store):
    await store.put("once", {"v": 1}, 60)
    results = await asyncio.gather(*(store.take("once") for _ in range(20)))
    assert results.count({"v": 1}) == 1 and results.count(None) == 19


async def test_add_only_when_absent(store):
    assert await store.add("k", {"v": 1}, 60) is True
    assert await store.add("k", {"v": 2}, 60) is False
    assert await store.get("k") == {"v": 1}


async def test_incr_counts_concurrently_with_a_window(store):
    counts = await asyncio.gather(*(store.incr("c", 60) for _ in range(25)))
    assert sorted(counts) == list(range(1, 26))
    assert 0 < await store.ttl("c") <= 60


async def test_values_expire(store):
    await store.put("short", {"v": 1}, 1)
    await asyncio.sleep(1.2)
    assert await store.get("short") is None
    assert await store.take("short") is None
    assert await store.ttl("short") == 0


async def test_postgres_purge_removes_old_rows(db):
    store = PostgresStore(db)
    await store.put("old", {"v": 1}, 1)
    await asyncio.sleep(1.1)
    assert await purge_expired(db) == 0  # kept a minute past expiry, then purged
    assert await store.get("old") is None


async def test_sign_in_session_lives_in_redis(settings, db):
    url = services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)
    prefix = f"pms-test:{uuid.uuid4().hex}:"
    redis_settings = settings.model_copy(update={"redis_url": url, "redis_key_prefix": prefix})
    app = create_app(redis_settings, database=db)
    await create_player(db, settings, login="redis-user")
    refresh = """mutation R($t: String!) { refreshTokens(refreshToken: $t) {
      __typename ... on AuthTokens { accessToken refreshToken } } }"""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        async def gql(query, variables=None, **headers):
            r = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                  headers=headers)  # fmt: skip
            return r

        tokens = (await gql(LOGIN, {"id": "redis-user", "pw": PASSWORD})).json()["data"]["login"]
        rotated = (await gql(refresh, {"t": tokens["refreshToken"]})).json()["data"]
        replay = (await gql(refresh, {"t": tokens["refreshToken"]})).json()["data"]
        me_after = await gql(ME, **bearer(rotated["refreshTokens"]["accessToken"]))

    store = app.state.pms.identity.store
    assert isinstance(store, RedisStore)
    assert rotated["refreshTokens"]["__typename"] == "AuthTokens"
    assert replay["refreshTokens"]["__typename"] == "InvalidCredentials"
    assert me_after.status_code == 401  # the family was revoked by the replay
    raw = store._redis
    assert await raw.keys(prefix + "rf:*") == []  # the family is gone
    assert await raw.keys(prefix + "rs:*")  # and its access tokens are refused
    assert await raw.keys(prefix + "ru:*")  # the used ones remembered, hashed
    assert not any(tokens["refreshToken"] in k.decode() for k in await raw.keys(prefix + "*"))
    for key in await raw.keys(prefix + "*"):
        await raw.delete(key)
    await store.close()


@pytest.mark.race
@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_concurrent_uses_of_one_refresh_token_revoke_the_family(settings, db, backend):
    overrides: dict = {}
    if backend == "redis":
        url = services.require_url("Redis (PMS_TEST_REDIS_URL)", services.REDIS_URL)
        overrides = {"redis_url": url, "redis_key_prefix": f"pms-test:{uuid.uuid4().hex}:"}
    app = create_app(settings.model_copy(update=overrides), database=db)
    await create_player(db, settings, login=f"racer-{backend}")
    refresh = """mutation R($t: String!) { refreshTokens(refreshToken: $t) {
      __typename ... on AuthTokens { accessToken refreshToken } } }"""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        async def gql(query, variables=None, **headers):
            body = {"query": query, "variables": variables or {}}
            return (await client.post("/graphql", json=body, headers=headers)).json()

        login = await gql(LOGIN, {"id": f"racer-{backend}", "pw": PASSWORD})
        token = login["data"]["login"]["refreshToken"]
        results = await asyncio.gather(*(gql(refresh, {"t": token}) for _ in range(10)))
        winners = [r["data"]["refreshTokens"] for r in results
                   if r["data"]["refreshTokens"]["__typename"] == "AuthTokens"]  # fmt: skip
        # whatever won the race belongs to a revoked family now
        after = [await gql(refresh, {"t": w["refreshToken"]}) for w in winners]
        me = [await gql(ME, **bearer(w["accessToken"])) for w in winners]

    assert len(winners) <= 1
    answers = [a["data"]["refreshTokens"]["__typename"] for a in after]
    assert all(answer == "InvalidCredentials" for answer in answers), after
    assert all("errors" in m or m.get("data", {}).get("me") is None for m in me)
    store = app.state.pms.identity.store
    if backend == "redis":
        for key in await store._redis.keys(overrides["redis_key_prefix"] + "*"):
            await store._redis.delete(key)
        await store.close()


async def test_logout_is_immediate_here_and_reaches_other_replicas_within_the_cache_ttl(
    settings, db
):
    replica_a = create_app(settings, database=db)
    replica_b = create_app(settings, database=db)
    await create_player(db, settings, login="two-replicas")
    logout = "mutation { logout { __typename } }"

    async def me_status(app, token) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            r = await http.post("/graphql", json={"query": ME}, headers=bearer(token))
            return r.status_code

    transport = httpx.ASGITransport(app=replica_a)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        login = await http.post(
            "/graphql", json={"query": LOGIN, "variables": {"id": "two-replicas", "pw": PASSWORD}}
        )
        token = login.json()["data"]["login"]["accessToken"]
        assert (await me_status(replica_a, token), await me_status(replica_b, token)) == (200, 200)
        await http.post("/graphql", json={"query": logout}, headers=bearer(token))

    assert await me_status(replica_a, token) == 401  # evicted where the logout happened
    await asyncio.sleep(settings.revocation_cache_seconds + 0.1)
    assert await me_status(replica_b, token) == 401  # and everywhere after the ttl


async def test_a_cached_verified_token_still_expires(settings, db):
    from tests.auth import player_principal, token_for

    app = create_app(settings.model_copy(update={"token_leeway_seconds": 0}), database=db)
    player = await create_player(db, settings)
    token = await token_for(app, player_principal(player), ttl_seconds=1)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        fresh = await http.post("/graphql", json={"query": ME}, headers=bearer(token))
        await asyncio.sleep(1.2)
        stale = await http.post("/graphql", json={"query": ME}, headers=bearer(token))

    assert fresh.status_code == 200
    assert stale.status_code == 401
