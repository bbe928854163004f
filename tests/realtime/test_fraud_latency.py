"""Issue 13 item 9 on a real server with its background tasks running: a bot's bets over
HTTP are scored by the periodic fraud task seconds after they commit, and an AUTO_BLOCK
rule blocks the player and ends their sessions without anyone acting."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.auth import player_principal, token_for
from tests.factories import create_player
from tests.integration.fraud import simulator as sim
from tests.integration.fraud.conftest import save_rule
from tests.integration.wallets.conftest import make_wallet_gql, scalar
from tests.realtime.conftest import realtime_settings, start_server, stop_server


async def _bet_until_refused(gql, player: str, n: int = 80) -> int | None:
    """A bot's burst of reserve + settle pairs; the bet number the block refused, if any."""
    for i in range(n):
        held = await gql.op("reserveBet", playerId=player, amount="1.00", currency="EUR",
                            gameRoundId=f"lat-{i}", transactionId=f"lat-b{i}")  # fmt: skip
        if held["__typename"] == "AccountBlocked":
            return i
        await gql.op("settleBet", playerId=player, gameRoundId=f"lat-{i}", winAmount="0",
                     currency="EUR", transactionId=f"lat-w{i}")  # fmt: skip
    return None


ME = """query($id: ID!) { player(id: $id) { status } }"""
DEADLINE_SECONDS = 20.0  # "within a few seconds" on a quiet machine; this one is shared


async def test_an_auto_block_rule_blocks_a_bot_seconds_after_its_bets_without_a_human(db, settings):
    live_settings = realtime_settings(settings, fraud_consume_interval_seconds=0.5)
    server, task, live = await start_server(live_settings, db)
    try:
        async with httpx.AsyncClient(base_url=live.url) as http:
            gql = make_wallet_gql(http, live.app)
            await save_rule(gql, key="bot-block", signal="bet_rate", threshold=3.0, weight=70,
                            action="AUTO_BLOCK")  # fmt: skip
            player = str((await create_player(db, settings)).id)
            token = await token_for(live.app, player_principal(player))
            await sim.deposit(gql, player, "100.00", "tok-latency")
            refused_at = await _bet_until_refused(gql, player)
            betted = time.monotonic()
            while time.monotonic() - betted < DEADLINE_SECONDS:
                status = await scalar(db, "SELECT status FROM players WHERE id = :p", p=player)
                if status == "BLOCKED":
                    break
                await asyncio.sleep(0.1)
            latency = time.monotonic() - betted
            await asyncio.sleep(live_settings.revocation_cache_seconds + 0.1)
            after = await http.post("/graphql", json={"query": ME, "variables": {"id": player}},
                                    headers={"authorization": f"Bearer {token}"})  # fmt: skip
    finally:
        await stop_server(server, task)

    assert status == "BLOCKED", f"not blocked {latency:.1f} s after the bets"
    # Scored while the bot was still betting: its later bets were refused by the block.
    print(f"bets refused from bet {refused_at}" if refused_at else "bot never refused")
    assert after.status_code == 401  # the player's session ended with the block
    actor = await scalar(db, "SELECT data->>'actor' FROM outbox_events "
                             "WHERE type = 'player.status_changed'")  # fmt: skip
    assert actor == "fraud:rule:bot-block"
    print(f"auto-block {latency:.2f} s after the last bet committed")
