"""Subscription payloads over a real WebSocket are projected through the caller's
permissions (permissions/payloads.py): a live feed shows what the fields show."""

from __future__ import annotations

import asyncio

from tests.auth import player_principal, staff_principal, token_for
from tests.factories import create_player
from tests.realtime.conftest import WsClient, balance_data, record_event

FEED = """
subscription F($filter: PlayerEventFilter) {
  playerEvents(filter: $filter) { type subject data }
}
"""
KYC = """
subscription K($id: ID!) {
  verificationStatusChanged(playerId: $id) { playerId confirmStatus riskLevel }
}
"""
KYC_DATA = {"confirmStatus": "VERIFIED", "riskLevel": "HIGH", "reasons": ["PEP_MATCH"]}


async def _subscribed(live, principal, query, variables) -> WsClient:
    client = await WsClient.open(live.ws_url)
    assert (await client.init(await token_for(live.app, principal)))["type"] == "connection_ack"
    await client.subscribe("1", query, variables)
    await asyncio.sleep(0.2)  # the subscription registers with the hub
    return client


async def _feed(live, principal, player_id) -> WsClient:
    types = ["wallet.balance_changed", "kyc.status_changed"]
    return await _subscribed(
        live, principal, FEED, {"filter": {"types": types, "playerId": player_id}}
    )


async def test_feed_hides_balances_and_kyc_internals_from_a_marketer(live, db, settings):
    player = await create_player(db, settings)
    pid = str(player.id)
    marketer = await _feed(live, staff_principal("MARKETER"), pid)
    compliance = await _feed(live, staff_principal("COMPLIANCE"), pid)

    await record_event(db, "wallet.balance_changed", pid, balance_data(player.id, "tx-9"))
    await record_event(db, "kyc.status_changed", pid, {"playerId": pid, "caseId": "c1", **KYC_DATA})

    seen = [(await marketer.next_payload())["payload"]["data"]["playerEvents"] for _ in range(2)]
    assert [e["type"] for e in seen] == ["wallet.balance_changed", "kyc.status_changed"]
    assert seen[0]["data"] == {"playerId": pid, "transactionId": "tx-9", "operation": "deposit"}
    assert seen[1]["data"] == {"playerId": pid, "caseId": "c1", "confirmStatus": "VERIFIED"}

    full = [(await compliance.next_payload())["payload"]["data"]["playerEvents"] for _ in range(2)]
    assert full[0]["data"]["wallets"][0]["balance"] == "10.00"
    assert (full[1]["data"]["riskLevel"], full[1]["data"]["reasons"]) == ("HIGH", ["PEP_MATCH"])
    await marketer.close()
    await compliance.close()


async def test_verification_feed_shows_risk_level_as_the_field_does(live, db, settings):
    player = await create_player(db, settings)
    pid = str(player.id)
    marketer = await _subscribed(live, staff_principal("MARKETER"), KYC, {"id": pid})
    owner = await _subscribed(live, player_principal(player), KYC, {"id": pid})

    await record_event(db, "kyc.status_changed", pid, {"playerId": pid, **KYC_DATA})

    hidden = (await marketer.next_payload())["payload"]["data"]["verificationStatusChanged"]
    assert hidden == {"playerId": pid, "confirmStatus": "VERIFIED", "riskLevel": None}
    own = (await owner.next_payload())["payload"]["data"]["verificationStatusChanged"]
    assert own["riskLevel"] == "HIGH"  # as Player.riskLevel: the player's own level
    await marketer.close()
    await owner.close()
