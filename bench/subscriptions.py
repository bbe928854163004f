"""10,000 live WebSocket subscribers over two `pms serve` processes fanned out by Redis.

Two server processes on two ports share one Redis channel (the way replicas do); the
clients run in separate processes (4 x 2,500 sockets by default, round-robin over the
servers), so their receiving does not run in the servers' processes. Half of the sockets
subscribe to `balanceChanged` of one player (with the player's token), half to
`playerEvents` filtered on that player (with a SUPPORT staff token): every committed
`wallet.balance_changed` event reaches every socket. Reports commit -> receipt latency
(p50/p99/max, client receipt time minus the time COMMIT returned in this process) and the
servers' RSS per connection.

Cells (`--cells`, run in the order given, each with fresh servers): `shared` (identical
subscriptions share one execution and encoding per event, app/events/fanout.py) and
`unshared` (PMS_SUBSCRIPTION_SHARED_PAYLOADS=false: every subscriber executes and encodes
its own payload, as before).

    .venv/bin/python bench/subscriptions.py [--clients 10000] [--procs 4] [--rounds 20]
        [--interval 1.0] [--cells unshared,shared]

Environment: PMS_BENCH_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
pms_bench_realtime, created and migrated), PMS_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0; the keys and the channel get a prefix of this run's own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BALANCE = "subscription B($id: ID!) { balanceChanged(playerId: $id) { transactionId } }"
FEED = "subscription F($filter: PlayerEventFilter) { playerEvents(filter: $filter) { type data } }"
WAVE = 50  # sockets connected (and acknowledged) at a time per client process
RECEIVE_TIMEOUT = 120.0


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- client processes -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientJob:
    index: int
    sockets: int
    ports: list[int]
    player_id: str
    player_token: str
    staff_token: str
    rounds: int


def _subscribe_message(job: ClientJob, n: int) -> tuple[str, dict[str, Any]]:
    if n % 2 == 0:
        return job.player_token, {"query": BALANCE, "variables": {"id": job.player_id}}
    flt = {"types": ["wallet.balance_changed"], "playerId": job.player_id}
    return job.staff_token, {"query": FEED, "variables": {"filter": flt}}


def _transaction_of(message: dict[str, Any]) -> str:
    data = message["payload"]["data"]
    if "balanceChanged" in data:
        return str(data["balanceChanged"]["transactionId"])
    return str(data["playerEvents"]["data"]["transactionId"])


async def _run_clients(job: ClientJob, ready: Any, results: Any) -> None:
    from websockets.asyncio.client import connect

    receipts: list[tuple[str, float]] = []
    failures: list[str] = []

    async def one(n: int, acked: asyncio.Semaphore) -> None:
        acked_once = False
        port = job.ports[(job.index + n) % len(job.ports)]
        token, subscription = _subscribe_message(job, n)
        try:
            async with connect(
                f"ws://127.0.0.1:{port}/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                open_timeout=60,
                ping_interval=None,
            ) as ws:
                init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                await ws.send(json.dumps(init))
                await asyncio.wait_for(ws.recv(), 60)
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscription}))
                acked.release()
                acked_once = True
                for _ in range(job.rounds):
                    # Generous: a missed event must end the run, not hang it.
                    message = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
                    receipts.append((_transaction_of(message), time.time()))
        except Exception as exc:  # a refused or dropped socket is counted, not fatal
            failures.append(f"{type(exc).__name__}: {exc}")
            if not acked_once:
                acked.release()

    acked = asyncio.Semaphore(0)
    tasks = []
    for n in range(job.sockets):
        tasks.append(asyncio.create_task(one(n, acked)))
        if n % WAVE == WAVE - 1 or n == job.sockets - 1:
            for _ in range(n % WAVE + 1):
                await asyncio.wait_for(acked.acquire(), 120)
    ready.put((job.index, len(failures)))
    await asyncio.gather(*tasks)
    results.put((job.index, receipts, failures))


def client_process(job: ClientJob, ready: Any, results: Any) -> None:
    raise_open_files_limit()
    asyncio.run(_run_clients(job, ready, results))


# --- the servers and the run ------------------------------------------------------------


def start_servers(count: int, env: dict[str, str]) -> list[tuple[int, subprocess.Popen[bytes]]]:
    servers = []
    for _ in range(count):
        port = free_port()
        command = [sys.executable, "-m", "pms", "serve", "--host", "127.0.0.1", "--port", str(port)]
        servers.append((port, subprocess.Popen(command, cwd=ROOT, env=env)))
    return servers


async def wait_healthy(ports: list[int]) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 300  # a loaded machine imports slowly
        for port in ports:
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server on {port} did not start")
                await asyncio.sleep(0.2)


async def run_cell(cell: str, args: argparse.Namespace, ctx: dict[str, Any]) -> None:
    from app.events import outbox

    env = {
        **os.environ,
        "PMS_ENV": "test",
        "PMS_DATABASE_URL": ctx["url"],
        "PMS_REDIS_URL": ctx["redis_url"],
        "PMS_REDIS_KEY_PREFIX": ctx["prefix"],
        "PMS_LOG_LEVEL": os.environ.get("PMS_BENCH_SERVER_LOG_LEVEL", "WARNING"),
        "PMS_OUTBOX_POLL_SECONDS": "0.01",
        "PMS_SUBSCRIPTION_SHARED_PAYLOADS": "true" if cell == "shared" else "false",
    }
    env.pop("PMS_AMQP_URL", None)
    servers = start_servers(args.servers, env)
    procs: list[Any] = []
    try:
        ports = [port for port, _ in servers]
        await wait_healthy(ports)
        await asyncio.sleep(1.0)
        idle = sum(rss_kib(p.pid) for _, p in servers)

        spawn = mp.get_context("spawn")
        ready, results = spawn.Queue(), spawn.Queue()
        per_proc = args.clients // args.procs
        for i in range(args.procs):
            job = ClientJob(i, per_proc, ports, ctx["player_id"], ctx["player_token"],
                            ctx["staff_token"], args.rounds)  # fmt: skip
            proc = spawn.Process(target=client_process, args=(job, ready, results))
            proc.start()
            procs.append(proc)
        started = time.monotonic()
        for _ in procs:
            index, refused = await asyncio.to_thread(ready.get, True, 1800)
            print(f"[{cell}] client process {index} connected "
                  f"({refused} refused) after {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
        connect_seconds = time.monotonic() - started
        await asyncio.sleep(2.0)  # the last subscriptions register with their hubs
        loaded = sum(rss_kib(p.pid) for _, p in servers)

        committed: dict[str, float] = {}
        db = ctx["db"]
        pid = ctx["player_id"]
        for n in range(args.rounds):
            tx = f"bench-{cell}-{uuid.uuid4().hex[:8]}-{n}"
            async with db.transaction() as session:
                await outbox.record(session, "wallet.balance_changed", pid, {
                    "playerId": pid, "transactionId": tx, "operation": "deposit",
                    "wallets": [{"kind": "REAL", "currency": "EUR", "balance": "1.00",
                                 "held": "0.00", "available": "1.00"}]})  # fmt: skip
            committed[tx] = time.time()
            await asyncio.sleep(args.interval)
        print(f"[{cell}] {args.rounds} events committed", file=sys.stderr, flush=True)

        latencies: list[float] = []
        per_tx: dict[str, int] = {}
        failures: list[str] = []
        for _ in procs:
            _, receipts, failed = await asyncio.to_thread(results.get, True, RECEIVE_TIMEOUT + 300)
            failures += failed
            for tx, at in receipts:
                latencies.append((at - committed[tx]) * 1000)
                per_tx[tx] = per_tx.get(tx, 0) + 1
        total = per_proc * args.procs
        complete = sum(1 for count in per_tx.values() if count == total)
        print(
            f"[{cell}] {total} subscribers on {args.servers} servers, "
            f"connected in {connect_seconds:.0f} s; deliveries {len(latencies)}/"
            f"{total * args.rounds} ({complete}/{args.rounds} rounds reached every socket, "
            f"{len(failures)} sockets failed)",
            flush=True,
        )
        if latencies:
            print(
                f"[{cell}] commit -> receipt p50 {statistics.median(latencies):.0f} ms, "
                f"p99 {pct(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms; "
                f"server RSS {idle / 1024:.0f} -> {loaded / 1024:.0f} MiB = "
                f"{(loaded - idle) / total:.1f} KiB per connection; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        for reason in sorted(set(failures))[:5]:
            print(f"[{cell}] failure: {reason}", flush=True)
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
        for _, server in servers:
            server.terminate()
        for _, server in servers:
            server.wait(timeout=30)


async def main(args: argparse.Namespace) -> None:
    from app.core import migrations
    from app.core.db import Database, ensure_database_exists
    from app.core.settings import Settings
    from app.identity.runtime import IdentityRuntime
    from app.identity.tokens import issue_access_token
    from tests.auth import player_principal, staff_principal
    from tests.factories import create_player

    limit = raise_open_files_limit()
    url = os.environ.get(
        "PMS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_realtime"
    )
    redis_url = os.environ.get("PMS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
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
    try:
        # An hour: the run outlives the default 15 minutes.
        player_token, _ = await issue_access_token(
            player_principal(player), identity.keyring, settings, ttl_seconds=3600
        )
        staff_token, _ = await issue_access_token(
            staff_principal("SUPPORT"), identity.keyring, settings, ttl_seconds=3600
        )
        ctx = {
            "url": url, "redis_url": redis_url, "prefix": f"pms:bench:{tag}:", "db": db,
            "player_id": str(player.id), "player_token": player_token,
            "staff_token": staff_token,
        }  # fmt: skip
        print(f"open files limit {limit}; {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f} before the run", flush=True)  # fmt: skip
        for cell in args.cells.split(","):
            await run_cell(cell, args, ctx)
    finally:
        await identity.stop()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--cells", default="unshared,shared")
    asyncio.run(main(parser.parse_args()))
