"""The profile query through PMS (uvicorn, one worker) against a minimal graphql-core
server on the same data, in the same run:

    player(id) { id login country status vipLevel
                 wallets { kind balance { amount currency } available { amount } }
                 segments { name } }

    .venv/bin/python bench/profile_query.py [--seconds 6] [--clients 64] [--players 2000]
        [--baseline-tree DIR]   # also PMS served from another source tree (before/after)

Each client is a player with its own access token asking for its own profile (a front
end: no staff audit row per read). The baseline (``--serve-baseline``, started by this
script) is graphql-core alone: the same SDL fields, parse and validation cached per
document, one asyncpg SELECT per field that needs data (player, wallets, segments), the
same JSON body. Both run under uvicorn (uvloop, httptools, one worker) with a pool of the
same size; the two are measured alternately, twice each, and the ratio is printed.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.db import asyncpg_dsn  # noqa: E402
from bench.wallet import (  # noqa: E402
    BENCH_SECRET_KEY,
    HttpClient,
    cpu_seconds,
    free_port,
    prepare,
    start_server,
)

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_profile_query"
POOL = 20
PROFILE = """query Profile($id: ID!) { player(id: $id) { id login country status vipLevel
  wallets { kind balance { amount currency } available { amount } } segments { name } } }"""

SEGMENTS_SQL = """
INSERT INTO segments (id, name, kind, rule, created_by)
VALUES (gen_random_uuid(), 'Germany', 'STATIC', '{}', 'bench'),
       (gen_random_uuid(), 'Newcomers', 'STATIC', '{}', 'bench');
INSERT INTO segment_members (segment_id, player_id)
SELECT s.id, p.id FROM segments s CROSS JOIN players p;
ANALYZE;
"""

# --- the baseline: graphql-core with cached parse and validation --------------------

BASELINE_SDL = """
type Money { amount: String! currency: String! }
type Wallet { kind: String! balance: Money! available: Money! }
type Segment { name: String! }
type Player { id: ID! login: String! country: String! status: String! vipLevel: Int!
              wallets: [Wallet!]! segments: [Segment!]! }
type Query { player(id: ID!): Player }
"""
EXPONENT = {"EUR": 2, "XFS": 0}


def _money(minor: int, currency: str) -> dict[str, str]:
    exponent = EXPONENT.get(currency, 2)
    amount = Decimal(minor).scaleb(-exponent) if exponent else Decimal(minor)
    return {"amount": f"{amount:.{exponent}f}", "currency": currency}


def baseline_app(url: str, pool_size: int) -> Any:
    """A raw ASGI app: POST /graphql -> graphql-core -> asyncpg."""
    from graphql import build_schema, execute, parse, validate

    schema = build_schema(BASELINE_SDL)
    pool: asyncpg.Pool | None = None

    async def player(_root: Any, _info: Any, id: str) -> Any:
        assert pool is not None
        row = await pool.fetchrow(
            "SELECT id, login, country, status, vip_level FROM players WHERE id = $1",
            uuid.UUID(id),
        )
        return None if row is None else dict(row)

    async def wallets(row: Any, _info: Any) -> Any:
        assert pool is not None
        found = await pool.fetch(
            "SELECT kind, currency, balance, held FROM wallets WHERE player_id = $1 ORDER BY id",
            row["id"],
        )
        return [
            {"kind": w["kind"], "balance": _money(w["balance"], w["currency"]),
             "available": _money(w["balance"] - w["held"], w["currency"])}
            for w in found
        ]  # fmt: skip

    async def segments(row: Any, _info: Any) -> Any:
        assert pool is not None
        found = await pool.fetch(
            "SELECT s.name FROM segment_members m JOIN segments s ON s.id = m.segment_id"
            " WHERE m.player_id = $1 ORDER BY s.name",
            row["id"],
        )
        return [dict(r) for r in found]

    schema.query_type.fields["player"].resolve = player  # type: ignore[union-attr]
    player_type: Any = schema.type_map["Player"]
    player_type.fields["wallets"].resolve = wallets
    player_type.fields["segments"].resolve = segments
    player_type.fields["id"].resolve = lambda row, _info: str(row["id"])
    player_type.fields["vipLevel"].resolve = lambda row, _info: row["vip_level"]

    @lru_cache(maxsize=1024)
    def document(query: str) -> tuple[Any, list[Any]]:
        parsed = parse(query)
        return parsed, validate(schema, parsed)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal pool
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    dsn = asyncpg_dsn(url)
                    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await pool.close()  # type: ignore[union-attr]
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body)
        parsed, errors = document(request["query"])
        if errors:
            payload: dict[str, Any] = {"errors": [e.formatted for e in errors]}
        else:
            result = await execute(schema, parsed, variable_values=request.get("variables"))
            payload = {"data": result.data}
            if result.errors:
                payload["errors"] = [e.formatted for e in result.errors]
        raw = json.dumps(payload).encode()
        length = str(len(raw)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    return app


def start_baseline(url: str, port: int, pool_size: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-baseline", str(port), "--url", url,
         "--pool", str(pool_size)],
        cwd=ROOT,
    )  # fmt: skip
    _wait_for_port(port, server)
    return server


def _wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


# --- the load ------------------------------------------------------------------------


async def player_tokens(url: str, players: list[uuid.UUID]) -> list[str]:
    """Access tokens of these players, signed with the server's own key ring."""
    from app.core.db import Database
    from app.core.principal import Principal, PrincipalKind
    from app.core.settings import Settings
    from app.identity.keys import KeyRing
    from app.identity.tokens import issue_access_token

    settings = Settings(_env_file=None, env="prod", secret_key=BENCH_SECRET_KEY)
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        ring = KeyRing(db, settings)
        tokens = []
        for player in players:
            principal = Principal(PrincipalKind.PLAYER, id=str(player))
            token, _ = await issue_access_token(principal, ring, settings)
            tokens.append(token)
        return tokens
    finally:
        await db.dispose()


async def measure(
    port: int, pid: int, clients: list[tuple[uuid.UUID, str]], seconds: float
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, server CPU ms per request)."""
    http = [HttpClient(port, token) for _, token in clients]
    latencies: list[float] = []
    deadline = 0.0

    async def ask(i: int) -> dict[str, Any]:
        try:
            return await http[i].post(PROFILE, {"id": str(clients[i][0])})
        except (asyncio.IncompleteReadError, ConnectionError):
            # uvicorn closes a keep-alive connection idle for 5 s: a read is safe to resend.
            http[i].writer = None
            return await http[i].post(PROFILE, {"id": str(clients[i][0])})

    async def worker(i: int) -> None:
        player = str(clients[i][0])
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            answer = await ask(i)
            latencies.append(time.perf_counter() - started)
            assert (answer.get("data") or {}).get("player", {}).get("id") == player, answer

    # Warm (connections, caches, the token of every client), all at once.
    for answer in await asyncio.gather(*(ask(i) for i in range(len(http)))):
        assert answer.get("data", {}).get("player"), answer
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker(i) for i in range(len(http))))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu
    for c in http:
        await c.close()
    latencies.sort()
    return (
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        cpu * 1000 / len(latencies),
    )


async def seed(url: str, players: int) -> list[uuid.UUID]:
    ids = await prepare(url, players)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(SEGMENTS_SQL)
    finally:
        await conn.close()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("PMS_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=POOL)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-tree", type=Path, help="also serve PMS from this tree")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        import uvicorn

        uvicorn.run(
            baseline_app(args.url, args.pool), host="127.0.0.1", port=args.serve_baseline,
            loop="uvloop", http="httptools", access_log=False, log_level="warning",
        )  # fmt: skip
        return

    players = asyncio.run(seed(args.url, args.players))
    servers: list[tuple[str, int, subprocess.Popen[bytes]]] = []
    try:  # every server started is stopped, also when a later one fails to start
        base_port = free_port()
        servers.append(("graphql-core", base_port, start_baseline(args.url, base_port, args.pool)))
        if args.baseline_tree:
            port = free_port()
            tree = args.baseline_tree.resolve()
            servers.append(("PMS before", port, start_server(args.url, port, args.pool, tree)))
        pms_port = free_port()
        servers.append(("PMS", pms_port, start_server(args.url, pms_port, args.pool)))
        chosen = random.sample(players, args.clients)
        tokens = asyncio.run(player_tokens(args.url, chosen))
        clients = list(zip(chosen, tokens, strict=True))
        print(f"{args.clients} clients, {args.seconds:.0f} s per cell, pool {args.pool}")
        print(f"{'server':<12} | {'req/s':>8} | {'p50 ms':>7} | {'CPU ms/req':>10}")
        figures: dict[str, list[float]] = {label: [] for label, _, _ in servers}
        for _ in range(args.rounds):
            for label, port, server in servers:
                rate, p50, cpu = asyncio.run(measure(port, server.pid, clients, args.seconds))
                figures[label].append(rate)
                print(f"{label:<12} | {rate:8.0f} | {p50:7.1f} | {cpu:10.2f}", flush=True)
        core = sum(figures["graphql-core"])
        print()
        for label in figures:
            if label != "graphql-core":
                ratio = sum(figures[label]) / core
                print(f"{label} / graphql-core (same run, over rounds): {ratio:.0%}")
    finally:
        for _, _, server in servers:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
