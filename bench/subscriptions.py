"""10,000 live WebSocket subscribers over two `pms serve` processes fanned out by Redis.

Two server processes on two ports share one Redis channel (the way replicas do); the
clients run in separate processes (`--procs`, sockets round-robin over the servers), so
their receiving does not run in the servers' processes. Each client process is one uvloop
with a raw asyncio Protocol per socket (HTTP upgrade offering permessage-deflate as
browsers do, then per frame only a search for the transaction id): a websockets client
per socket cost the machine more CPU than the servers. Half of the sockets
subscribe to `balanceChanged` of one player (with the player's token), half to
`playerEvents` filtered on that player (with a SUPPORT staff token): every committed
`wallet.balance_changed` event reaches every socket. Reports commit -> receipt latency
(p50/p99/max, client receipt time minus the time COMMIT returned in this process) and the
servers' RSS per connection, their CPU per event (minus their CPU over an idle span as
long as the rounds), and per round the first, median and last receipt (the hops before
the fan-out, then the fan-out itself).

Cells (`--cells`, run in the order given, each with fresh servers): `shared` (identical
subscriptions share one execution and encoding per event, app/events/fanout.py) and
`unshared` (PMS_SUBSCRIPTION_SHARED_PAYLOADS=false: every subscriber executes and encodes
its own payload, as before).

    .venv/bin/python bench/subscriptions.py [--clients 10000] [--procs 4] [--rounds 20]
        [--interval 1.0] [--cells unshared,shared] [--server-tree DIR] [--py-spy PATH]

`--server-tree` runs the servers from another source tree (e.g. `git archive <commit> |
tar -x -C DIR`) with this venv and this client; `--py-spy` profiles the first server
during the rounds. One run at a time: two runs share the bench database's outbox, and
one run's relays then publish the other's events into their own channel.

Environment: PMS_BENCH_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
pms_bench_realtime, created and migrated), PMS_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0; the keys and the channel get a prefix of this run's own).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
import zlib
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
    gc_log: bool = False


def _subscribe_message(job: ClientJob, n: int) -> tuple[str, dict[str, Any]]:
    if n % 2 == 0:
        return job.player_token, {"query": BALANCE, "variables": {"id": job.player_id}}
    flt = {"types": ["wallet.balance_changed"], "playerId": job.player_id}
    return job.staff_token, {"query": FEED, "variables": {"filter": flt}}


class _Reader(asyncio.Protocol):
    """One client socket with minimal work per frame: the HTTP upgrade, ``connection_init``
    then ``subscribe`` (masked with a zero key), pongs for the server's pings, and per
    ``next`` frame only a search for the transaction id and one clock read."""

    def __init__(self, init: bytes, subscribe: bytes, receipts: list[tuple[bytes, float]]):
        self.init, self.subscribe, self.receipts = init, subscribe, receipts
        self.buffer = b""
        self.upgraded = False
        self.acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.inflate: Any = None  # when the server accepted permessage-deflate

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.upgraded:
            head, sep, buffer = buffer.partition(b"\r\n\r\n")
            if not sep:
                self.buffer = head
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self._fail(head.split(b"\r\n", 1)[0].decode())
                return
            self.upgraded = True
            if b"permessage-deflate" in head.lower():
                self.inflate = zlib.decompressobj(-15)
            self._send(self.init)
        while len(buffer) >= 2:
            size, at = buffer[1] & 0x7F, 2
            if size == 126:
                size, at = int.from_bytes(buffer[2:4]), 4
            elif size == 127:
                size, at = int.from_bytes(buffer[2:10]), 10
            if len(buffer) < at + size:
                break
            first, payload, buffer = buffer[0], buffer[at : at + size], buffer[at + size :]
            if first & 0x40:  # RSV1: a compressed message (context kept across messages)
                payload = self.inflate.decompress(payload + b"\0\0\xff\xff")
            self._frame(first & 0x0F, payload, now)
        self.buffer = buffer

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x1:
            found = payload.find(b'"transactionId":"')
            if found >= 0:
                start = found + 17
                self.receipts.append((payload[start : payload.index(b'"', start)], now))
            elif b'"connection_ack"' in payload and not self.acked.done():
                self._send(self.subscribe)
                self.acked.set_result(None)
        elif opcode == 0x9:
            self._send(payload, opcode=0xA)
        elif opcode == 0x8:
            self._fail(f"closed {int.from_bytes(payload[:2]) if payload else 1005}")

    def _send(self, payload: bytes, opcode: int = 0x1) -> None:
        size = len(payload)
        if size < 126:
            header = bytes((0x80 | opcode, 0x80 | size))
        else:
            header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2)
        assert self.transport is not None
        self.transport.write(header + b"\0\0\0\0" + payload)  # zero mask key: as is

    def _fail(self, reason: str) -> None:
        if not self.acked.done():
            self.acked.set_exception(ConnectionError(reason))
        if not self.closed.done():
            self.closed.set_result(reason)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")


def _upgrade_request(port: int) -> bytes:
    return (
        f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n"
        # as browsers offer it: the server then holds a compressor per connection
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    ).encode()


async def _run_clients(job: ClientJob, ready: Any, results: Any) -> None:
    loop = asyncio.get_running_loop()
    receipts: list[tuple[bytes, float]] = []
    failures: list[str] = []
    readers: list[_Reader] = []

    async def one(n: int) -> None:
        port = job.ports[(job.index + n) % len(job.ports)]
        token, subscription = _subscribe_message(job, n)
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        message = {"id": "1", "type": "subscribe", "payload": subscription}
        reader = _Reader(json.dumps(init).encode(), json.dumps(message).encode(), receipts)
        try:
            transport, _ = await loop.create_connection(lambda: reader, "127.0.0.1", port)
            transport.write(_upgrade_request(port))
            await asyncio.wait_for(reader.acked, 60)
            readers.append(reader)
        except Exception as exc:  # a refused or dropped socket is counted, not fatal
            failures.append(f"{type(exc).__name__}: {exc}")

    for first in range(0, job.sockets, WAVE):
        await asyncio.gather(*(one(n) for n in range(first, min(first + WAVE, job.sockets))))
    # The connections left this process a full GC pass due; CPython would run it inside
    # the first round's receipts (every timestamp of that round late by the pass). Run it
    # now and freeze the survivors: the measuring side must not add its own pauses.
    gc.collect()
    gc.freeze()
    ready.put((job.index, len(failures)))
    expected = len(readers) * job.rounds
    deadline = time.monotonic() + RECEIVE_TIMEOUT + job.rounds * 5
    # Polls a counter the readers' callbacks fill (an Event per frame would cost more).
    while len(receipts) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    failures += [r.closed.result() for r in readers if r.closed.done()]
    results.put((job.index, [(tx.decode(), at) for tx, at in receipts], failures))


def client_process(job: ClientJob, ready: Any, results: Any) -> None:
    import uvloop  # the clients' own event loop costs less per frame too

    if job.gc_log:  # the same probe as the servers': the clients' own pauses
        sys.path.insert(0, str(ROOT / "bench" / "gc_probe"))
        import sitecustomize  # noqa: F401
    raise_open_files_limit()
    uvloop.run(_run_clients(job, ready, results))


# --- the servers and the run ------------------------------------------------------------


def start_servers(
    count: int, env: dict[str, str], tree: Path, gc_log: bool = False
) -> list[tuple[int, subprocess.Popen[bytes]]]:
    servers = []
    path = str(tree)  # the servers' code: this tree or --server-tree
    if gc_log:  # bench/gc_probe/sitecustomize.py prints the collector's pauses
        path = f"{ROOT / 'bench' / 'gc_probe'}{os.pathsep}{path}"
    env = {**env, "PYTHONPATH": path}
    for _ in range(count):
        port = free_port()
        command = [sys.executable, "-m", "pms", "serve", "--host", "127.0.0.1", "--port", str(port)]
        servers.append((port, subprocess.Popen(command, cwd=tree, env=env)))
    return servers


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
        "PMS_OUTBOX_POLL_SECONDS": str(args.poll),
        "PMS_SUBSCRIPTION_SHARED_PAYLOADS": "true" if cell == "shared" else "false",
    }
    env.pop("PMS_AMQP_URL", None)
    servers = start_servers(args.servers, env, args.server_tree, args.gc_log)
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
                            ctx["staff_token"], args.rounds, args.gc_log)  # fmt: skip
            proc = spawn.Process(target=client_process, args=(job, ready, results))
            proc.start()
            procs.append(proc)
        if args.gc_log:
            print(f"[{cell}] server pids {[p.pid for _, p in servers]}, client pids "
                  f"{[p.pid for p in procs]}", file=sys.stderr, flush=True)  # fmt: skip
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
        spy = None
        if args.py_spy:  # a profile of the first server during the rounds
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",  # noqa: ASYNC220
                                    "-p", str(servers[0][1].pid), "-f", "raw", "-r", "200",
                                    "-o", f"{args.py_spy}.{cell}.txt"],
                                   stdout=subprocess.DEVNULL)  # fmt: skip
        # The servers' CPU without events over as long as the rounds take (relay polls,
        # pings, session sweeps), subtracted below: what remains is the events' cost.
        span = args.rounds * args.interval + 1.0
        idle_before = sum(cpu_seconds(p.pid) for _, p in servers)
        await asyncio.sleep(span)
        idle_cpu = sum(cpu_seconds(p.pid) for _, p in servers) - idle_before
        cpu_before = sum(cpu_seconds(p.pid) for _, p in servers)
        clients_before = sum(cpu_seconds(p.pid) for p in procs if p.pid is not None)
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
            if args.gc_log:
                print(f"[{cell}] round {n} committed at {committed[tx]:.3f}", file=sys.stderr)
            await asyncio.sleep(args.interval)
        await asyncio.sleep(1.0)  # the last round's deliveries
        server_cpu = sum(cpu_seconds(p.pid) for _, p in servers) - cpu_before
        client_cpu = sum(cpu_seconds(p.pid) for p in procs if p.pid is not None) - clients_before
        print(f"[{cell}] {args.rounds} events committed", file=sys.stderr, flush=True)
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
            spy.wait(timeout=60)

        latencies: list[float] = []
        per_tx: dict[str, int] = {}
        failures: list[str] = []
        all_receipts = []
        for _ in procs:
            _, receipts, failed = await asyncio.to_thread(results.get, True, RECEIVE_TIMEOUT + 300)
            failures += failed
            all_receipts.append(receipts)
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
                f"CPU per event: servers {(server_cpu - idle_cpu) * 1000 / args.rounds:.0f} ms "
                f"(idle {idle_cpu * 1000 / args.rounds:.0f} ms subtracted), "
                f"clients {client_cpu * 1000 / args.rounds:.0f} ms; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        rounds = {tx: [] for tx in committed}  # type: dict[str, list[float]]
        for tx, at in (r for proc_receipts in all_receipts for r in proc_receipts):
            rounds[tx].append((at - committed[tx]) * 1000)
        # first/last receipt per round: the hops before the fan-out, then the fan-out itself
        print(f"[{cell}] per round first/p50/last ms: " + ", ".join(
            f"{min(v):.0f}/{statistics.median(v):.0f}/{max(v):.0f}" for v in rounds.values() if v),
            flush=True)  # fmt: skip
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
    wakeup = None
    if not args.no_notify:  # this process commits as a replica does: it NOTIFYs the relays
        from app.events.wakeup import RelayWakeup

        wakeup = RelayWakeup(db.url, 1.0, relays=False)  # NOTIFYs only: no relay here
        await wakeup.start()
        while not wakeup.listening:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        db.on_commit.append(wakeup.poke)
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
        if wakeup is not None:
            await wakeup.stop()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--cells", default="unshared,shared")
    parser.add_argument(
        "--poll",
        type=float,
        default=0.01,
        help="PMS_OUTBOX_POLL_SECONDS of the servers (the relay's poll)",
    )
    parser.add_argument(
        "--no-notify",
        action="store_true",
        help="commit without the NOTIFY a replica sends after an outbox "
        "write (app/events/wakeup.py): the servers' relays find it at a poll",
    )
    parser.add_argument("--server-tree", help="run the servers from this source tree")
    parser.add_argument("--gc-log", action="store_true", help="the servers print every "
                        "full collection of the cyclic GC (bench/gc_probe) to stderr")  # fmt: skip
    parser.add_argument("--py-spy", help="profile the first server during the rounds into "
                        "PATH.<cell>.txt (py-spy record -f raw, collapsed stacks)")  # fmt: skip
    arguments = parser.parse_args()
    arguments.server_tree = Path(arguments.server_tree or ROOT).resolve()
    asyncio.run(main(arguments))
