"""The whole path, no hand-written events: a real money mutation commits through the
ledger, the relay picks up its outbox row and a WebSocket subscriber sees the balance."""

from __future__ import annotations

import httpx

from tests.auth import player_principal, service_principal, token_for
from tests.factories import create_player
from tests.realtime.test_subscriptions import BALANCE, subscribed

DEPOSIT = """
mutation($input: DepositInput!) {
  deposit(input: $input) { __typename ... on WalletOperation { operationId } }
}
"""


async def test_deposit_reaches_balance_subscriber_with_its_operation(live, db, settings):
    player = await create_player(db, settings)
    client = await subscribed(live, player_principal(player), BALANCE, {"id": str(player.id)})
    token = await token_for(live.app, service_principal("wallet:operate"))

    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/graphql",
            headers={"authorization": f"Bearer {token}"},
            json={
                "query": DEPOSIT,
                "variables": {
                    "input": {
                        "playerId": str(player.id),
                        "amount": "25.00",
                        "currency": "EUR",
                        "paymentReference": "tok_live_1",
                        "idempotencyKey": "dep-live-1",
                    }
                },
            },
        )
    operation = response.json()["data"]["deposit"]
    assert operation["__typename"] == "WalletOperation"

    change = (await client.next_payload())["payload"]["data"]["balanceChanged"]
    assert change["playerId"] == str(player.id)
    assert change["transactionId"] == operation["operationId"]
    real = next(w for w in change["wallets"] if w["kind"] == "REAL")
    assert real["balance"] == {"amount": "25.00", "currency": "EUR"}
    assert real["available"] == {"amount": "25.00"}
    assert {w["kind"] for w in change["wallets"]} == {"REAL", "BONUS", "FREESPINS", "TOURNAMENT"}
    await client.close()
