"""Two `pms serve` processes on one PostgreSQL and Redis: a subscriber connected to
replica A receives changes made through replica B."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.auth import player_principal, staff_principal, token_for
from tests.factories import create_player, registration
from tests.realtime.conftest import WsClient, balance_data, free_port, record_event
from tests.realtime.test_subscriptions import BALANCE, FEED

ROOT = Path(__file__).resolve().parents[2]
REGISTER = """
mutation R($input: RegisterPlayerInput!) { registerPlayer(input: $input) {
  __typename ... on RegisterPlayerSuccess { player { id } } } }
"""


WAIT_SECONDS = 120  # as tests/e2e/processes.py: a start on a loaded 2-core machine


async def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
        [sys.executable, "-m", "pms", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(WAIT_SECONDS * 10):  # readiness decides; the ceiling is generous
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if (await http.get(url + "/healthz")).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("replica did not start")


@pytest.mark.race
async def test_subscriber_on_a_sees_changes_made_through_b(app, db, settings, redis_url):
    base = {
        **os.environ,
        "PMS_ENV": "test",
        "PMS_DATABASE_URL": settings.database_url or "",
        "PMS_REDIS_URL": redis_url,
        "PMS_EVENTS_CHANNEL": f"pms.events.test.{uuid.uuid4().hex[:10]}",
        "PMS_OUTBOX_POLL_SECONDS": "0.02",
        "PMS_ARGON2_TIME_COST": "1",
        "PMS_ARGON2_MEMORY_COST_KIB": "1024",
        "PMS_ARGON2_PARALLELISM": "1",
    }
    base.pop("PMS_AMQP_URL", None)
    # A runs no relay, so whatever A's subscribers get was relayed by B through Redis.
    (proc_a, url_a), (proc_b, url_b) = await asyncio.gather(
        serve({**base, "PMS_RUN_BACKGROUND_TASKS": "false"}), serve(base)
    )
    try:
        player = await create_player(db, settings)
        ws_a = url_a.replace("http", "ws") + "/graphql"
        balance = await WsClient.open(ws_a)
        assert (await balance.init(await token_for(app, player_principal(player))))[
            "type"
        ] == "connection_ack"
        await balance.subscribe("1", BALANCE, {"id": str(player.id)})
        feed = await WsClient.open(ws_a)
        assert (await feed.init(await token_for(app, staff_principal("ADMIN"))))[
            "type"
        ] == "connection_ack"
        await feed.subscribe("1", FEED, {"filter": {"types": ["player.registered"]}})
        await asyncio.sleep(0.3)

        async with httpx.AsyncClient(base_url=url_b) as http:
            body = (
                await http.post(
                    "/graphql", json={"query": REGISTER, "variables": {"input": registration()}}
                )
            ).json()
        new_id = body["data"]["registerPlayer"]["player"]["id"]
        await record_event(
            db, "wallet.balance_changed", str(player.id), balance_data(player.id, "tx-b")
        )

        subjects = set()
        while new_id not in subjects:  # the first player's registration may come first
            event = (await feed.next_payload(wait=15))["payload"]["data"]["playerEvents"]
            assert event["type"] == "player.registered"
            subjects.add(event["subject"])
        change = (await balance.next_payload(wait=15))["payload"]["data"]["balanceChanged"]
        assert change["transactionId"] == "tx-b"
        await balance.close()
        await feed.close()
    finally:
        for proc in (proc_a, proc_b):
            proc.terminate()
        for proc in (proc_a, proc_b):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
