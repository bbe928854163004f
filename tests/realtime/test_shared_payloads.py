"""Identical subscriptions share one execution and one encoding per event (app/events/
fanout.py), over a real server and real sockets: callers of one projection class get the
same payload in their own frames, callers whose permissions differ get different ones."""

from __future__ import annotations

import asyncio

from app.core import metrics
from tests.auth import player_principal, staff_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import WsClient, balance_data, record_event

FEED = """
subscription F($filter: PlayerEventFilter) {
  playerEvents(filter: $filter) { type subject data }
}
"""
BALANCE = """
subscription B($id: ID!) {
  balanceChanged(playerId: $id) { transactionId wallets { kind balance { amount } } }
}
"""


def payload_counts() -> tuple[float, float]:
    executed = metrics.SUBSCRIPTION_PAYLOADS.labels("executed")._value.get()
    shared = metrics.SUBSCRIPTION_PAYLOADS.labels("shared")._value.get()
    return executed, shared


async def _subscribed(live, principal, operation_id, query, variables) -> WsClient:
    client = await WsClient.open(live.ws_url)
    assert (await client.init(await token_for(live.app, principal)))["type"] == "connection_ack"
    await client.subscribe(operation_id, query, variables)
    return client


async def test_two_permission_views_of_one_event_and_one_execution_per_view(live, db, settings):
    player = await create_player(db, settings)
    pid = str(player.id)
    variables = {"filter": {"types": ["wallet.balance_changed"], "playerId": pid}}
    marketers = [
        await _subscribed(live, staff_principal("MARKETER"), op, FEED, variables)
        for op in ("1", "marketer-2")
    ]
    compliance = await _subscribed(live, staff_principal("COMPLIANCE"), "c", FEED, variables)
    await asyncio.sleep(0.3)  # the subscriptions register with the hub
    before = payload_counts()

    await record_event(db, "wallet.balance_changed", pid, balance_data(player.id, "tx-1"))

    frames = [await client.next_payload() for client in (*marketers, compliance)]
    assert [f["id"] for f in frames] == ["1", "marketer-2", "c"]  # each socket's own id
    seen = [f["payload"]["data"]["playerEvents"]["data"] for f in frames]
    assert seen[0] == seen[1] == {"playerId": pid, "transactionId": "tx-1", "operation": "deposit"}
    assert seen[2]["wallets"][0]["balance"] == "10.00"  # wallet:read shows the balances
    executed, shared = (now - then for now, then in zip(payload_counts(), before, strict=True))
    assert (executed, shared) == (2, 1)  # one per projection class; the twin marketer shared
    for client in (*marketers, compliance):
        await client.close()


async def test_owner_and_other_views_of_one_balance_event(live, db, settings):
    """balanceChanged of one player: the owning player (wallet:read by ownership) and
    finance staff (by role) are two projection classes that both see the balances; each
    executes once per event and receives every event in order."""
    player = await create_player(db, settings)
    pid = str(player.id)
    owner = await _subscribed(live, player_principal(player), "o", BALANCE, {"id": pid})
    finance = await _subscribed(live, staff_principal("FINANCE"), "f", BALANCE, {"id": pid})
    await asyncio.sleep(0.3)
    before = payload_counts()

    for n in range(3):
        await record_event(db, "wallet.balance_changed", pid, balance_data(player.id, f"tx-{n}"))

    for client in (owner, finance):
        got = [(await client.next_payload())["payload"]["data"]["balanceChanged"] for _ in "abc"]
        assert [g["transactionId"] for g in got] == ["tx-0", "tx-1", "tx-2"]
        assert got[0]["wallets"][0] == {"kind": "REAL", "balance": {"amount": "10.00"}}
    executed, shared = (now - then for now, then in zip(payload_counts(), before, strict=True))
    assert (executed, shared) == (6, 0)
    await owner.close()
    await finance.close()


async def test_sockets_of_one_group_get_one_frame_counted_per_delivery(live, db, settings):
    """Three sockets of one player with the same operation id are one sink group (one
    frame per event); a fourth with another id is a second group of the same payload.
    Every socket gets every event in order, and all but the one execution count shared."""
    player = await create_player(db, settings)
    pid = str(player.id)
    principal = player_principal(player)
    ids = ("1", "1", "1", "other")
    clients = [await _subscribed(live, principal, op, BALANCE, {"id": pid}) for op in ids]
    await asyncio.sleep(0.3)
    before = payload_counts()

    for n in range(2):
        await record_event(db, "wallet.balance_changed", pid, balance_data(player.id, f"tx-{n}"))

    for op, client in zip(ids, clients, strict=True):
        got = [await client.next_payload() for _ in range(2)]
        assert [g["id"] for g in got] == [op, op]
        transactions = [g["payload"]["data"]["balanceChanged"]["transactionId"] for g in got]
        assert transactions == ["tx-0", "tx-1"]
    executed, shared = (now - then for now, then in zip(payload_counts(), before, strict=True))
    assert (executed, shared) == (2, 6)  # one execution per event, 3 of 4 sockets shared
    for client in clients:
        await client.close()
