"""cProfile of reserve+settle pairs (and the profile query) through the ASGI app in
process: where the GraphQL path spends its CPU beyond the service functions.

    .venv/bin/python bench/profile_gql.py [--pairs 300] [--out /tmp/gql.prof]

Uses the wallet benchmark's database seeding and its game-engine token. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.settings import Settings  # noqa: E402
from bench.wallet import BENCH_SECRET_KEY, RESERVE, SETTLE, prepare  # noqa: E402
from pms.asgi import create_app  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_profile"
_seq = itertools.count()


async def token_for(http: httpx.AsyncClient, url: str, settings: Settings) -> str:
    from app.core.db import Database
    from app.identity import accounts

    db = Database(url)
    try:
        async with db.transaction() as session:
            client, secret = await accounts.create_client(
                session, f"prof-{uuid.uuid4().hex[:6]}", ["wallet:operate"], "system:bench",
                settings, frozenset({"wallet:operate"}),
            )  # fmt: skip
    finally:
        await db.dispose()
    response = await http.post(
        "/oauth/token", auth=(client.client_id, secret),
        data={"grant_type": "client_credentials", "scope": "wallet:operate"},
    )  # fmt: skip
    response.raise_for_status()
    return str(response.json()["access_token"])


async def pair(http: httpx.AsyncClient, headers: dict[str, str], player: uuid.UUID) -> None:
    n = next(_seq)
    reserve = {"playerId": str(player), "amount": "0.01", "currency": "EUR",
               "gameRoundId": f"p{n}", "transactionId": f"pb{n}",
               "idempotencyKey": f"pr{n}"}  # fmt: skip
    reserved = await http.post(
        "/graphql", headers=headers, json={"query": RESERVE, "variables": {"input": reserve}}
    )
    rid = reserved.json()["data"]["reserveBet"]["reservationId"]
    settle = {"playerId": str(player), "reservationId": rid, "winAmount": "0.01",
              "currency": "EUR", "transactionId": f"pw{n}", "idempotencyKey": f"ps{n}"}  # fmt: skip
    settled = await http.post(
        "/graphql", headers=headers, json={"query": SETTLE, "variables": {"input": settle}}
    )
    assert settled.json()["data"]["settleBet"]["__typename"] == "WalletOperation", settled.text


async def worker(
    http: httpx.AsyncClient, headers: dict[str, str], players: list[uuid.UUID], c: int, n: int
) -> None:
    for i in range(n):
        await pair(http, headers, players[(c * 31 + i) % len(players)])


async def main_async(args: argparse.Namespace) -> None:
    players = await prepare(args.url, 200)
    settings = Settings(_env_file=None, env="prod", secret_key=BENCH_SECRET_KEY,
                        database_url=args.url, run_background_tasks=False,
                        sms_sender="bench.null_sms:NullSmsSender")  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pms.test") as http:
            headers = {"Authorization": f"Bearer {await token_for(http, args.url, settings)}"}
            for i in range(30):  # warm the caches and the pool
                await pair(http, headers, players[i % len(players)])
            profiler = cProfile.Profile()
            started, cpu = time.perf_counter(), time.process_time()
            if args.cprofile:
                profiler.enable()
            await asyncio.gather(*(
                worker(http, headers, players, c, args.pairs // args.clients)
                for c in range(args.clients)
            ))  # fmt: skip
            profiler.disable()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{args.pairs} pairs: {wall / args.pairs * 1000:.2f} ms wall, "
          f"{cpu / args.pairs * 1000:.2f} ms CPU per pair (profiled)")  # fmt: skip
    if not args.cprofile:
        return
    profiler.dump_stats(args.out)
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("PMS_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--out", default="/tmp/gql.prof")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument(
        "--no-cprofile",
        dest="cprofile",
        action="store_false",
        help="no cProfile (run under py-spy, or just for the CPU figure)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
