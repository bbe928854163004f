"""Federation entities, the REST paths with bearer auth, and the player cache."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from app.players.cache import PlayerCache
from app.players.models import Player
from app.wallets.models import Wallet
from tests.auth import player_principal, token_for
from tests.factories import create_player

ENTITIES = """
query E($reps: [_Any!]!) {
  _entities(representations: $reps) {
    __typename
    ... on Player { id login country }
    ... on Wallet { id kind balance { amount currency } }
  }
}
"""


async def test_service_sdl_is_a_federation_v2_subgraph(gql, auth):
    gateway = await auth.service_headers("player:read", client_id="federation-gateway")
    anonymous = await gql("{ _service { sdl } }")
    as_player = await gql(
        "{ ... on Query { _service { sdl } } }",
        **await auth.player_headers("33333333-3333-4333-8333-333333333333"),
    )
    # introspection is off outside dev: the SDL is for the gateway (and staff) only
    assert anonymous["data"] is None and anonymous["errors"][0]["message"] == "Forbidden"
    assert as_player["data"] is None
    sdl = (await gql("{ _service { sdl } }", **gateway))["data"]["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2' in sdl
    assert 'type Player @key(fields: "id")' in sdl and 'type Wallet @key(fields: "id")' in sdl


async def test_entities_resolve_players_and_wallets(gql, db, settings, auth):
    player = await create_player(db, settings, login="fedplayer")
    async with db.read_session() as s:
        from sqlalchemy import select

        wallet = (await s.execute(select(Wallet).where(Wallet.kind == "REAL"))).scalar_one()
    reps = [
        {"__typename": "Player", "id": str(player.id)},
        {"__typename": "Wallet", "id": str(wallet.id)},
        {"__typename": "Player", "id": str(uuid.uuid4())},
        {"__typename": "Player", "id": "not-a-uuid"},
    ]
    partner = await auth.service_headers("player:read", "wallet:read", client_id="partner")
    anonymous = (await gql(ENTITIES, {"reps": reps}))["data"]["_entities"]
    entities = (await gql(ENTITIES, {"reps": reps}, **partner))["data"]["_entities"]
    # entity resolution applies the same permissions as player(id): nothing for anonymous
    assert anonymous == [None, None, None, None]
    assert entities[0] == {
        "__typename": "Player",
        "id": str(player.id),
        "login": "fedplayer",
        "country": "DE",
    }
    assert entities[1]["kind"] == "REAL" and entities[1]["balance"] == {
        "amount": "0.00",
        "currency": "EUR",
    }
    assert entities[2] is None and entities[3] is None


async def test_rest_requires_a_valid_bearer_token(client, app, db, settings):
    player = await create_player(db, settings)
    assert (await client.get(f"/players/{player.id}")).status_code == 401
    bad = await client.get(f"/players/{player.id}", headers={"authorization": "Bearer x.y.z"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "INVALID_TOKEN"


async def test_rest_player_paths(client, app, db, settings, auth):
    player = await create_player(db, settings, traffic_source="seo")
    other = await create_player(db, settings)
    mine = await auth.player_headers(player)
    service = await auth.service_headers("player:read", "wallet:read", "segment:read")

    body = (await client.get(f"/players/{player.id}", headers=mine)).json()
    assert (body["id"], body["country"], body["confirmStatus"]) == (
        str(player.id),
        "DE",
        "UNVERIFIED",
    )
    assert "passwordHash" not in body and "password_hash" not in body
    assert (await client.get(f"/players/{other.id}", headers=mine)).status_code == 403
    assert (await client.get("/players", headers=mine)).status_code == 403

    balance = (await client.get(f"/players/{player.id}/balance", headers=mine)).json()
    assert {w["kind"] for w in balance["wallets"]} == {"REAL", "BONUS", "FREESPINS", "TOURNAMENT"}
    segment = (await client.get(f"/players/{player.id}/segment", headers=service)).json()
    assert segment["segments"] == [] and segment["attributes"]["trafficSource"] == "seo"

    page = (await client.get("/players?limit=1", headers=service)).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["nextCursor"]
    rest = (
        await client.get(f"/players?limit=1&after={page['nextCursor']}", headers=service)
    ).json()
    assert rest["nextCursor"] is None and rest["items"][0]["id"] != page["items"][0]["id"]
    assert (await client.get("/players?limit=0", headers=service)).status_code == 400
    assert (await client.get(f"/players/{uuid.uuid4()}", headers=service)).status_code == 404


async def test_openapi_document_is_openapi_3_1(client):
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/players",
        "/players/{id}",
        "/players/{id}/balance",
        "/players/{id}/segment",
        "/imports",
        "/imports/{id}",
        "/imports/{id}/confirm",
    }


async def test_cached_player_is_never_stale_after_commit(db, settings, redis_url):
    cache = PlayerCache(redis_url, ttl_seconds=60, prefix=f"pms:test:{uuid.uuid4().hex}")
    db.after_commit.append(cache.invalidate)
    try:
        player = await create_player(db, settings)

        async def load():
            async with db.read_session() as s:
                return await s.get(Player, player.id)

        assert (await cache.get(player.id, load)).vip_level == 0
        assert (await cache.get(player.id, load)).vip_level == 0
        assert cache.hits == 1

        from app.core.db import mark_changed

        async with db.transaction() as s:
            await s.execute(update(Player).where(Player.id == player.id).values(vip_level=3))
            mark_changed(s, str(player.id))
        assert (await cache.get(player.id, load)).vip_level == 3

        # a read that began before a write cannot put the old row back afterwards
        async def racing_load():
            row = await load()
            async with db.transaction() as s:
                await s.execute(update(Player).where(Player.id == player.id).values(vip_level=4))
                mark_changed(s, str(player.id))
            return row

        await cache.invalidate([str(player.id)])
        assert (await cache.get(player.id, racing_load)).vip_level == 3
        assert (await cache.get(player.id, load)).vip_level == 4
    finally:
        db.after_commit.remove(cache.invalidate)
        await cache.close()


async def outbox_drained(db, wait_seconds: float = 10.0) -> None:
    import asyncio

    from sqlalchemy import text

    for _ in range(int(wait_seconds / 0.05)):
        async with db.read_session() as s:
            pending = await s.scalar(
                text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")
            )
        if pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the relay did not drain the outbox")


async def test_graphql_player_query_goes_through_the_cache(live, db, settings):
    import httpx

    player = await create_player(db, settings)
    token = await token_for(live.app, player_principal(player))
    await outbox_drained(db)  # player.registered's invalidation must not race the reads
    query = {
        "query": "query P($id: ID!) { player(id: $id) { id vipLevel } }",
        "variables": {"id": str(player.id)},
    }
    async with httpx.AsyncClient(
        base_url=live.url, headers={"authorization": f"Bearer {token}"}
    ) as http:
        first = (await http.post("/graphql", json=query)).json()
        await http.post("/graphql", json=query)
        cache = live.app.state.pms.events.cache
        assert cache.hits >= 1
        async with db.transaction() as s:
            from app.events import outbox

            await s.execute(update(Player).where(Player.id == player.id).values(vip_level=7))
            await outbox.record(s, "player.updated", str(player.id), {"vipLevel": 7})
        # the app's after-commit hook invalidated before the transaction block returned
        body = (await http.post("/graphql", json=query)).json()
    assert first["data"]["player"]["vipLevel"] == 0
    assert body["data"]["player"]["vipLevel"] == 7


async def test_rest_shows_each_field_by_the_same_rule_as_graphql(client, gql, db, settings, auth):
    player = await create_player(db, settings, email="jane.doe@example.com", traffic_source="seo")
    query = "query($id: ID!) { player(id: $id) { email birthDate riskLevel trafficSource } }"

    views = {}
    for role in ("SUPPORT", "MARKETER", "FINANCE"):
        headers = await auth.staff_headers(role)
        rest = (await client.get(f"/players/{player.id}", headers=headers)).json()
        graphql = (await gql(query, {"id": str(player.id)}, **headers))["data"]["player"]
        assert {k: rest[k] for k in graphql} == graphql
        views[role] = rest
    marketer_balance = await client.get(
        f"/players/{player.id}/balance", headers=await auth.staff_headers("MARKETER")
    )

    assert views["SUPPORT"]["email"] == "jane.doe@example.com"
    assert views["SUPPORT"]["birthDate"] == "1990-05-17"
    assert views["MARKETER"]["email"] == "j***@example.com"
    assert views["MARKETER"]["birthDate"] is None
    assert views["MARKETER"]["trafficSource"] == "seo"
    assert views["FINANCE"]["trafficSource"] is None
    assert marketer_balance.status_code == 403  # marketers never see balances


async def test_rest_segment_lists_the_players_segments(client, gql, db, settings, auth):
    player = await create_player(db, settings, country="AT")
    marketer = await auth.staff_headers("MARKETER")
    create = """mutation($i: SegmentInput!) { createSegment(input: $i) {
      __typename ... on SegmentSuccess { segment { id } } } }"""
    rule = {"attr": "country", "op": "eq", "value": "AT"}
    made = await gql(create, {"i": {"name": "Austria", "rule": rule}}, **marketer)
    segment_id = made["data"]["createSegment"]["segment"]["id"]

    body = (await client.get(f"/players/{player.id}/segment", headers=marketer)).json()

    assert body["segments"] == [{"id": segment_id, "name": "Austria"}]
    assert body["attributes"]["country"] == "AT"
