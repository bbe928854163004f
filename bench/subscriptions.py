"""1,000 concurrent WebSocket subscribers on 127.0.0.1 receive balance changes.

Reports delivery latency from commit to receipt (p50/p99) and the server's memory per
connection. The server is a separate `pms serve` process; the clients run here.

    .venv/bin/python bench/subscriptions.py [--clients 1000] [--rounds 20]

Environment: PMS_BENCH_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
pms_bench_realtime, created and migrated), PMS_BENCH_REDIS_URL (optional: broadcaster over
Redis instead of memory://).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core import migrations  # noqa: E402
from app.core.db import Database, ensure_database_exists  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.events import outbox  # noqa: E402
from app.identity.runtime import IdentityRuntime  # noqa: E402
from app.identity.tokens import issue_access_token  # noqa: E402
from tests.auth import player_principal  # noqa: E402
from tests.factories import create_player  # noqa: E402

SUBSCRIPTION = """subscription B($id: ID!) { balanceChanged(playerId: $id) { transactionId } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(clients: int, rounds: int) -> None:
    url = os.environ.get(
        "PMS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_realtime"
    )
    redis_url = os.environ.get("PMS_BENCH_REDIS_URL") or None
    await ensure_database_exists(url)
    await asyncio.to_thread(migrations.upgrade, url)
    settings = Settings(
        _env_file=None, env="test", database_url=url, redis_url=redis_url,
        argon2_time_cost=1, argon2_memory_cost_kib=1024, argon2_parallelism=1,
    )  # fmt: skip
    db = Database(url)
    tag = uuid.uuid4().hex[:12]
    player = await create_player(db, settings, email=f"bench-{tag}@example.com", login=f"b{tag}")
    identity = IdentityRuntime(lambda: db, settings)
    await identity.start()
    token, _ = await issue_access_token(player_principal(player), identity.keyring, settings)

    port = free_port()
    env = {
        **os.environ,
        "PMS_ENV": "test",
        "PMS_DATABASE_URL": url,
        "PMS_LOG_LEVEL": "WARNING",
        "PMS_OUTBOX_POLL_SECONDS": "0.01",
        "PMS_EVENTS_CHANNEL": f"pms.bench.{port}",
    }
    env.pop("PMS_AMQP_URL", None)
    if redis_url:
        env["PMS_REDIS_URL"] = redis_url
    else:
        env.pop("PMS_REDIS_URL", None)
    server = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "pms", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        before = rss_kib(server.pid)

        received: dict[str, list[float]] = {}
        ready = asyncio.Event()
        connected = 0

        async def client() -> None:
            nonlocal connected
            async with connect(
                f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
            ) as ws:  # type: ignore[list-item]
                auth = {"authorization": f"Bearer {token}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
                await ws.recv()
                acked.release()
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                    "query": SUBSCRIPTION, "variables": {"id": str(player.id)}}}))  # fmt: skip
                connected += 1
                if connected == clients:
                    ready.set()
                for _ in range(rounds):
                    message = json.loads(await ws.recv())
                    now = time.time()
                    tx = message["payload"]["data"]["balanceChanged"]["transactionId"]
                    received.setdefault(tx, []).append(now)

        # Connect in waves of 50 (each wave acknowledged before the next): a login storm is
        # not what this measures.
        acked = asyncio.Semaphore(0)
        tasks = []
        for i in range(clients):
            tasks.append(asyncio.create_task(client()))
            if i % 50 == 49 or i == clients - 1:
                for _ in range(i % 50 + 1):
                    await asyncio.wait_for(acked.acquire(), 30)
        await asyncio.wait_for(ready.wait(), 120)
        await asyncio.sleep(1.0)
        after = rss_kib(server.pid)

        committed: dict[str, float] = {}
        for n in range(rounds):
            tx = f"bench-{n}"
            async with db.transaction() as session:
                await outbox.record(session, "wallet.balance_changed", str(player.id), {
                    "playerId": str(player.id), "transactionId": tx, "operation": "deposit",
                    "wallets": [{"kind": "REAL", "currency": "EUR", "balance": "1.00",
                                 "held": "0.00", "available": "1.00"}]})  # fmt: skip
            committed[tx] = time.time()
            await asyncio.sleep(0.25)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)

        latencies = [(t - committed[tx]) * 1000 for tx, times in received.items() for t in times]
        complete = sum(1 for times in received.values() if len(times) == clients)
        print(f"transport: {'redis' if redis_url else 'memory'}; clients {clients}, "
              f"rounds {rounds}, deliveries {len(latencies)} "
              f"({complete}/{rounds} rounds reached every client)")  # fmt: skip
        print(f"commit -> receipt: p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")  # fmt: skip
        per_connection = (after - before) / clients
        print(f"server RSS: {before / 1024:.1f} MiB idle -> {after / 1024:.1f} MiB with "
              f"{clients} subscribers = {per_connection:.1f} KiB per connection")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=20)
        await identity.stop()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.rounds))
