"""GraphQL subscriptions over a real WebSocket: authentication in connection_init,
per-subscription authorization, expiry, committed-only delivery and bad input."""

from __future__ import annotations

import asyncio
import uuid

from app.core.principal import Principal, PrincipalKind
from tests.auth import player_principal, staff_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import WsClient, balance_data, record_event

BALANCE = """
subscription B($id: ID!) {
  balanceChanged(playerId: $id) {
    playerId transactionId operation
    wallets { kind currency balance { amount currency } held { amount } available { amount } }
  }
}
"""
KYC = """
subscription K($id: ID!) {
  verificationStatusChanged(playerId: $id) { playerId confirmStatus riskLevel }
}
"""
FEED = """
subscription F($filter: PlayerEventFilter) {
  playerEvents(filter: $filter) { id type subject data }
}
"""


async def subscribed(live, principal, query, variables, protocol="graphql-transport-ws"):
    client = await WsClient.open(live.ws_url, protocol)
    ack = await client.init(await token_for(live.app, principal))
    assert ack["type"] == "connection_ack"
    await client.subscribe("1", query, variables)
    await asyncio.sleep(0.2)  # the subscription registers with the hub
    return client


async def test_player_receives_committed_balance_change_and_never_a_rolled_back_one(
    live, db, settings
):
    player = await create_player(db, settings)
    client = await subscribed(live, player_principal(player), BALANCE, {"id": str(player.id)})

    # given a change that rolls back, then one that commits
    await record_event(
        db,
        "wallet.balance_changed",
        str(player.id),
        balance_data(player.id, "tx-rolled-back", "99.00"),
        commit=False,
    )
    await record_event(
        db,
        "wallet.balance_changed",
        str(player.id),
        balance_data(player.id, "tx-1", "10.00", "2.50"),
    )

    message = await client.next_payload()
    change = message["payload"]["data"]["balanceChanged"]
    assert change["transactionId"] == "tx-1"
    assert change["playerId"] == str(player.id)
    real = next(w for w in change["wallets"] if w["kind"] == "REAL")
    assert real == {
        "kind": "REAL",
        "currency": "EUR",
        "balance": {"amount": "10.00", "currency": "EUR"},
        "held": {"amount": "2.50"},
        "available": {"amount": "7.50"},
    }
    # and nothing else arrives: the rolled-back change is never seen
    await record_event(
        db, "wallet.balance_changed", str(player.id), balance_data(player.id, "tx-2")
    )
    assert (await client.next_payload())["payload"]["data"]["balanceChanged"][
        "transactionId"
    ] == "tx-2"
    await client.close()


async def test_legacy_graphql_ws_protocol_works_too(live, db, settings):
    player = await create_player(db, settings)
    client = await WsClient.open(live.ws_url, "graphql-ws")
    await client.send(
        {
            "type": "connection_init",
            "payload": {
                "authorization": f"Bearer {await token_for(live.app, player_principal(player))}"
            },
        }
    )
    assert (await client.recv())["type"] == "connection_ack"
    await client.send(
        {
            "id": "1",
            "type": "start",
            "payload": {"query": BALANCE, "variables": {"id": str(player.id)}},
        }
    )
    await asyncio.sleep(0.2)
    await record_event(
        db, "wallet.balance_changed", str(player.id), balance_data(player.id, "tx-legacy")
    )
    while (message := await client.recv())["type"] == "ka":
        pass
    assert message["type"] == "data"
    assert message["payload"]["data"]["balanceChanged"]["transactionId"] == "tx-legacy"
    await client.close()


async def test_no_token_is_closed_4403_and_bad_token_4401(live):
    client = await WsClient.open(live.ws_url)
    await client.send({"type": "connection_init", "payload": {}})
    assert await client.closed_with() == 4403

    client = await WsClient.open(live.ws_url)
    await client.send({"type": "connection_init", "payload": {"authorization": "Bearer not.a.jwt"}})
    assert await client.closed_with() == 4401


async def test_subscribe_before_init_is_closed_4401(live):
    client = await WsClient.open(live.ws_url)
    await client.subscribe("1", BALANCE, {"id": str(uuid.uuid4())})
    assert await client.closed_with() == 4401


async def test_player_may_not_watch_another_player(live, db, settings):
    me, other = await create_player(db, settings), await create_player(db, settings)
    client = await subscribed(live, player_principal(me), BALANCE, {"id": str(other.id)})
    message = await client.next_payload()
    assert message["type"] in ("error", "next")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["message"] == "Forbidden"
    # the connection itself stays usable
    await client.send({"type": "ping"})
    while (message := await client.recv())["type"] == "complete":
        pass
    assert message["type"] == "pong"
    await client.close()


async def test_staff_watch_by_role(live, db, settings):
    player = await create_player(db, settings)
    support = await subscribed(live, staff_principal("SUPPORT"), BALANCE, {"id": str(player.id)})
    marketer = await subscribed(live, staff_principal("MARKETER"), BALANCE, {"id": str(player.id)})

    await record_event(
        db, "wallet.balance_changed", str(player.id), balance_data(player.id, "tx-s")
    )

    assert (await support.next_payload())["payload"]["data"]["balanceChanged"][
        "transactionId"
    ] == "tx-s"
    denied = await marketer.next_payload()
    assert "Forbidden" in str(denied["payload"])


async def test_socket_closes_when_token_expires(live, db, settings):
    player = await create_player(db, settings)
    token = await token_for(live.app, player_principal(player), ttl_seconds=2)
    client = await WsClient.open(live.ws_url)
    assert (await client.init(token))["type"] == "connection_ack"
    assert await client.closed_with(wait=8) == 4401


async def test_verification_status_changes_are_delivered(live, db, settings):
    player = await create_player(db, settings)
    client = await subscribed(live, player_principal(player), KYC, {"id": str(player.id)})
    await record_event(
        db,
        "kyc.status_changed",
        str(player.id),
        {"playerId": str(player.id), "confirmStatus": "VERIFIED", "riskLevel": "MEDIUM"},
    )
    data = (await client.next_payload())["payload"]["data"]["verificationStatusChanged"]
    assert data == {"playerId": str(player.id), "confirmStatus": "VERIFIED", "riskLevel": "MEDIUM"}


async def test_back_office_feed_filters_by_type_and_player(live, db, settings):
    a, b = await create_player(db, settings), await create_player(db, settings)
    feed = await subscribed(
        live,
        staff_principal("COMPLIANCE"),
        FEED,
        {"filter": {"types": ["kyc.status_changed"], "playerId": str(b.id)}},
    )
    player_feed = await subscribed(live, player_principal(a), FEED, {})

    await record_event(db, "kyc.status_changed", str(a.id), {"playerId": str(a.id)})
    await record_event(db, "wallet.balance_changed", str(b.id), balance_data(b.id, "x"))
    await record_event(db, "kyc.status_changed", str(b.id), {"playerId": str(b.id), "n": 1})

    event = (await feed.next_payload())["payload"]["data"]["playerEvents"]
    assert (event["type"], event["subject"], event["data"]["n"]) == (
        "kyc.status_changed",
        str(b.id),
        1,
    )
    assert "Forbidden" in str((await player_feed.next_payload())["payload"])


async def test_malformed_messages_close_with_clear_codes_without_touching_others(
    live, db, settings
):
    player = await create_player(db, settings)
    bystander = await subscribed(live, player_principal(player), BALANCE, {"id": str(player.id)})
    token = await token_for(live.app, Principal(PrincipalKind.PLAYER, id=str(player.id)))

    not_json = await WsClient.open(live.ws_url)
    await not_json.conn.send("{not json")
    assert await not_json.closed_with() == 4400

    duplicate = await WsClient.open(live.ws_url)
    await duplicate.init(token)
    await duplicate.subscribe("same", BALANCE, {"id": str(player.id)})
    await duplicate.subscribe("same", BALANCE, {"id": str(player.id)})
    assert await duplicate.closed_with() == 4409

    oversized = await WsClient.open(live.ws_url)
    await oversized.init(token)
    await oversized.conn.send("x" * (live.settings.ws_max_message_bytes + 1))
    assert await oversized.closed_with() == 1009

    unknown = await WsClient.open(live.ws_url)
    await unknown.init(token)
    await unknown.send({"id": "never-subscribed", "type": "complete"})  # ignored, per protocol
    await unknown.send({"type": "ping"})
    assert (await unknown.recv())["type"] == "pong"

    await record_event(
        db, "wallet.balance_changed", str(player.id), balance_data(player.id, "still")
    )
    assert (await bystander.next_payload())["payload"]["data"]["balanceChanged"][
        "transactionId"
    ] == "still"
