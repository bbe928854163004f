"""CPU per request of the GraphQL layer, in process: reserve+settle pairs (or the profile
query) sent as raw ASGI calls into ``create_app`` (no HTTP client, no uvicorn), against the
direct service path (bench/wallet.py's ``direct_pair``) in the same process, alternated.
On a loaded machine CPU time per request is steadier than throughput; the difference
between the two paths is what GraphQL costs per pair.

    .venv/bin/python bench/gql_cpu.py [--tree DIR] [--pairs 300] [--rounds 3]
        [--profile-query] [--calls [--profile-out FILE]]

``--tree`` serves the app from another source tree (same venv: the before of a change);
``--calls`` adds a cProfile run and prints Python calls per pair (or per request), a
figure that does not depend on the machine's load. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import pstats
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_gql_cpu"
_seq = itertools.count()


async def asgi_post(app: Any, authorization: bytes, body: bytes) -> Any:
    """One POST /graphql through the whole ASGI stack (middleware included)."""
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # the app waits for a disconnect that never comes
            await asyncio.sleep(3600)
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                    (b"authorization", authorization),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    await app(scope, receive, send)
    return json.loads(b"".join(m.get("body", b"") for m in sent if m["type"].endswith("body")))


async def timed(requests: int, clients: int, one: Callable[[int], Awaitable[None]]) -> float:
    """CPU ms of this process per call of ``one``, ``clients`` at a time."""
    per = max(1, requests // clients)

    async def worker(i: int) -> None:
        for _ in range(per):
            await one(i)

    cpu = time.process_time()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return (time.process_time() - cpu) * 1000 / (per * clients)


async def main_async(args: argparse.Namespace) -> None:
    import asyncpg
    import httpx

    from app.core.db import asyncpg_dsn
    from app.core.settings import Settings
    from bench import profile_query as pq
    from bench import wallet as w
    from bench.profile_gql import token_for
    from pms.asgi import create_app

    players = await (pq.seed(args.url, 200) if args.profile_query else w.prepare(args.url, 2000))
    settings = Settings(_env_file=None, env="prod", secret_key=w.BENCH_SECRET_KEY,
                        database_url=args.url, run_background_tasks=False,
                        sms_sender="bench.null_sms:NullSmsSender", database_pool_size=10,
                        database_max_overflow=0)  # fmt: skip
    app = create_app(settings)
    pool = await asyncpg.create_pool(asyncpg_dsn(args.url), min_size=10, max_size=10)
    direct_settings = Settings(_env_file=None, database_url=args.url)
    async with app.router.lifespan_context(app):
        if args.profile_query:
            chosen = players[: args.clients]
            tokens = [f"Bearer {t}".encode() for t in await pq.player_tokens(args.url, chosen)]

            async def graphql(i: int) -> None:
                body = {"query": pq.PROFILE, "variables": {"id": str(chosen[i])}}
                answer = await asgi_post(app, tokens[i], json.dumps(body).encode())
                assert answer["data"]["player"]["id"] == str(chosen[i]), answer

            direct = None
        else:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                token = f"Bearer {await token_for(http, args.url, settings)}".encode()

            async def graphql(i: int) -> None:
                await _graphql_pair(app, token, random.choice(players))

            async def direct_one(i: int) -> None:
                await w.direct_pair(pool, direct_settings, random.choice(players))

            direct = direct_one
        await timed(60, args.clients, graphql)  # warm the caches and the pools
        cells: dict[str, list[float]] = {"GraphQL": [], "direct": []}
        for _ in range(args.rounds):
            if direct is not None:
                cells["direct"].append(await timed(args.pairs, args.clients, direct))
            cells["GraphQL"].append(await timed(args.pairs, args.clients, graphql))
        if args.calls:
            profiler = cProfile.Profile()
            profiler.enable()
            await timed(args.pairs, args.clients, graphql)
            profiler.disable()
            calls = pstats.Stats(profiler).total_calls / args.pairs  # type: ignore[attr-defined]
            if args.profile_out is not None:
                profiler.dump_stats(args.profile_out)
    await pool.close()
    unit = "request" if args.profile_query else "pair"
    print(f"tree {args.tree}: CPU ms per {unit}")
    for label, values in cells.items():
        if values:
            runs = " ".join(f"{v:.2f}" for v in values)
            print(f"  {label:8} {runs}  median {statistics.median(values):.2f}")
    if args.calls:
        print(f"  Python calls per {unit} (cProfile): {calls:.0f}")


async def _graphql_pair(app: Any, token: bytes, player: uuid.UUID) -> None:
    from bench.wallet import RESERVE, SETTLE

    n = next(_seq)
    reserve = {"playerId": str(player), "amount": "0.01", "currency": "EUR",
               "gameRoundId": f"c{n}", "transactionId": f"cb{n}",
               "idempotencyKey": f"cr{n}"}  # fmt: skip
    body = json.dumps({"query": RESERVE, "variables": {"input": reserve}}).encode()
    reserved = await asgi_post(app, token, body)
    reservation = reserved["data"]["reserveBet"]["reservationId"]
    settle = {"playerId": str(player), "reservationId": reservation,
              "winAmount": "0.01", "currency": "EUR", "transactionId": f"cw{n}",
              "idempotencyKey": f"cs{n}"}  # fmt: skip
    body = json.dumps({"query": SETTLE, "variables": {"input": settle}}).encode()
    settled = await asgi_post(app, token, body)
    assert settled["data"]["settleBet"]["__typename"] == "WalletOperation", settled


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--tree", type=Path, default=HERE, help="serve the app from this tree")
    parser.add_argument("--pairs", type=int, default=300, help="pairs (or requests) per cell")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--profile-query", action="store_true", help="the profile query")
    parser.add_argument("--calls", action="store_true", help="also count Python calls")
    parser.add_argument(
        "--profile-out",
        "--stats",
        dest="profile_out",
        type=Path,
        help="with --calls: write the cProfile stats",
    )
    args = parser.parse_args()
    sys.path[:0] = [str(args.tree.resolve()), str(HERE)]  # the tree's packages first
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
