"""Batched wallet operations against the one-statement limit (issue 16 items 1 and 4).

Three figures in one run, on one PostgreSQL server, at the same client count:

* **one statement**: a bare asyncpg debit written as ONE data-modifying CTE (idempotency
  row + conditional balance UPDATE + ledger row + outbox row) on tables of its own, one
  transaction per debit: the most a single-operation API could reach here;
* **reserveBet**: one PMS money operation per GraphQL request (as the game engine sends
  them one by one);
* **walletBatch**: `--batch` operations per GraphQL request, one transaction, of each
  `--mixes` kind: `reserve` (reserveBets), `bet+settle` (pairs: a reserveBet and the
  settleBet of its round, adjacent in one batch), `playRound` (playRound items: each a bet
  and its win, two ledger operations, counted as one item here).

Every figure is printed as operations/s and as a ratio to the one-statement limit, with
the server process's CPU ms per operation (from /proc: steadier than throughput on a
shared machine). The issue's goal: walletBatch >= 100 % of it.

    .venv/bin/python bench/batch.py [--seconds 8] [--clients 32] [--batch 50,100]
        [--baseline-tree DIR [--rounds 2]] [--no-single]

Without ``--url`` it runs on a private embedded PostgreSQL under .pms/bench (as
bench/wallet.py does), stopped at exit; ``--url`` names a server whose database is
dropped and re-created (use a ``pms_bench_*`` database of your own).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wallet as bench  # noqa: E402  (bench/wallet.py: seeding, server, HTTP client)

from app.core.db import asyncpg_dsn  # noqa: E402
from pms.hooks import register_all  # noqa: E402

_seq = itertools.count()

BASELINE_SCHEMA = """
DROP TABLE IF EXISTS one_wallets, one_keys, one_ledger, one_outbox;
CREATE TABLE one_wallets (id bigint PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE one_keys (key text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE one_ledger (id bigserial PRIMARY KEY, wallet_id bigint NOT NULL,
                         amount bigint NOT NULL, balance_after bigint NOT NULL,
                         created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE one_outbox (id bigserial PRIMARY KEY, type text NOT NULL, data jsonb NOT NULL,
                         created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO one_wallets SELECT i, 100000000 FROM generate_series(1, 100000) AS i;
ANALYZE one_wallets;
"""
ONE_STATEMENT_DEBIT = """
WITH k AS (INSERT INTO one_keys (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING key),
w AS (UPDATE one_wallets SET balance = balance - $3
      WHERE id = $2 AND balance >= $3 AND EXISTS (SELECT 1 FROM k) RETURNING id, balance),
l AS (INSERT INTO one_ledger (wallet_id, amount, balance_after)
      SELECT id, -$3, balance FROM w RETURNING id)
INSERT INTO one_outbox (type, data)
SELECT 'wallet.debited', jsonb_build_object('wallet', w.id, 'balance', w.balance) FROM w, l
"""

RESERVE_FIELDS = "__typename ... on WalletOperation { reservationId }"
RESERVE = (
    f"""mutation($input: ReserveBetInput!) {{ reserveBet(input: $input) {{ {RESERVE_FIELDS} }} }}"""
)
BATCH = f"""mutation($ops: [WalletBatchOperation!]!) {{ walletBatch(operations: $ops) {{
  __typename ... on WalletBatchResults {{ applied results {{ {RESERVE_FIELDS} }} }} }} }}"""


def settle_input(bet: dict) -> dict:
    return {"playerId": bet["playerId"], "gameRoundId": bet["gameRoundId"], "winAmount": "0.02",
            "currency": "EUR", "transactionId": bet["transactionId"] + "w",
            "idempotencyKey": bet["idempotencyKey"] + "w"}  # fmt: skip


def play_input(player: uuid.UUID) -> dict:
    n = next(_seq)
    return {"playerId": str(player), "stake": "0.01", "winAmount": "0.02", "currency": "EUR",
            "gameRoundId": f"pr{n}", "transactionId": f"pt{n}",
            "idempotencyKey": f"pk{n}"}  # fmt: skip


MIXES = ("reserve", "bet+settle", "playRound")


def batch_ops(mix: str, size: int, players: list[uuid.UUID]) -> list[dict]:
    if mix == "playRound":
        return [{"playRound": play_input(random.choice(players))} for _ in range(size)]
    if mix == "bet+settle":
        ops = []
        for _ in range(size // 2):
            bet = reserve_input(random.choice(players))
            ops += [{"reserveBet": bet}, {"settleBet": settle_input(bet)}]
        return ops
    return [{"reserveBet": reserve_input(random.choice(players))} for _ in range(size)]


def reserve_input(player: uuid.UUID) -> dict:
    n = next(_seq)
    return {"playerId": str(player), "amount": "0.01", "currency": "EUR",
            "gameRoundId": f"br{n}", "transactionId": f"bb{n}",
            "idempotencyKey": f"bk{n}"}  # fmt: skip


async def one_statement(url: str, clients: int, seconds: float) -> float:
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=clients, max_size=clients)
    try:
        async with pool.acquire() as conn:
            await conn.execute(BASELINE_SCHEMA)

        async def debit(_: int) -> None:
            async with pool.acquire() as conn:
                await conn.execute(ONE_STATEMENT_DEBIT, f"k{next(_seq)}",
                                   random.randint(1, 100_000), 1)  # fmt: skip

        ops, _, _, _ = await bench.measure(clients, seconds, debit)
        return ops
    finally:
        await pool.close()


async def through_graphql(
    url: str,
    port: int,
    pid: int,
    players: list[uuid.UUID],
    clients: int,
    seconds: float,
    batch: int,
    mix: str = "reserve",
) -> tuple[float, float]:
    """(operations/s, server CPU ms per operation)."""  # fmt: skip
    token = await bench.service_token(url, port)
    http = [bench.HttpClient(port, token) for _ in range(clients)]

    async def single(i: int) -> None:
        body = await http[i].post(RESERVE, {"input": reserve_input(random.choice(players))})
        assert body["data"]["reserveBet"]["__typename"] == "WalletOperation", body

    async def batched(i: int) -> None:
        ops = batch_ops(mix, batch, players)
        body = await http[i].post(BATCH, {"ops": ops})
        assert "data" in body and body["data"]["walletBatch"]["applied"] == batch, str(body)[:2000]

    try:
        call = batched if batch > 1 else single
        requests, _, _, cpu = await bench.measure(clients, seconds, call, cpu_of=pid)
    finally:
        for c in http:
            await c.close()
    return requests * batch, cpu / batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("PMS_BENCH_DATABASE_URL"),
                        help="a server to use; default: a private embedded PostgreSQL")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch", default="20", help="operations per walletBatch, e.g. 50,100")
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--batch-clients", type=int, help="clients sending walletBatch "
                        "(default --clients): each batch holds its players' wallet locks "
                        "until it commits, so fewer, larger requests queue less")  # fmt: skip
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also serve from this source tree "
        "(e.g. `git archive main | tar -x -C DIR`, same venv), in the same run",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the trees' cells, alternating which tree goes first",
    )
    parser.add_argument("--no-single", action="store_true", help="skip reserveBet one per request")
    parser.add_argument("--mixes", default="reserve", help="walletBatch kinds, of "
                        + ", ".join(MIXES) + " (comma-separated)")  # fmt: skip
    args = parser.parse_args()
    sizes = [int(b) for b in args.batch.split(",")]
    if not args.no_single:
        sizes.insert(0, 1)
    url = args.url or bench.private_server(ROOT / ".pms" / "bench")
    trees = [("this tree", ROOT)]
    if args.baseline_tree:
        trees.insert(0, ("baseline", args.baseline_tree.resolve()))

    register_all()
    players = asyncio.run(bench.prepare(url, args.wallets))
    limits, rows = [], []
    for round_ in range(args.rounds):
        limits.append(asyncio.run(one_statement(url, args.clients, args.seconds)))
        for label, tree in trees if round_ % 2 == 0 else trees[::-1]:
            rows.extend((label, *row) for row in serve(args, url, tree, players, sizes))
    limit = sum(limits) / len(limits)

    load = os.getloadavg()
    print(f"\n{args.clients} clients, {args.seconds:.0f} s per cell, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; one-statement limit per round: "
          + ", ".join(f"{x:.0f}" for x in limits))  # fmt: skip
    print("tree       cell                               clients    ops/s  vs limit  CPU ms/op")
    print(f"           one statement (bare asyncpg CTE)     {args.clients:5d} {limit:8.0f}   100%")
    for label, mix, size, clients, rate, cpu in rows:
        name = ("reserveBet, one per request" if size == 1
                else f"walletBatch {mix:10}, {size:3d}/request")  # fmt: skip
        print(f"{label:10} {name:36} {clients:5d} {rate:8.0f}  {rate / limit:5.0%}    {cpu:6.3f}")


def serve(
    args: argparse.Namespace, url: str, tree: Path, players: list[uuid.UUID], sizes: list[int]
) -> list[tuple[str, int, int, float, float]]:
    """(mix, size, clients, operations/s, server CPU ms/op) of each cell, served from
    ``tree``."""
    port = bench.free_port()
    server = bench.start_server(url, port, bench.POOL, tree)
    mixes = args.mixes.split(",")
    cells = [(m, size) for size in sizes for m in (("reserve",) if size == 1 else mixes)]
    rows = []
    try:
        for mix, size in cells:
            clients = args.clients if size == 1 else args.batch_clients or args.clients
            rows.append((mix, size, clients, *asyncio.run(through_graphql(
                url, port, server.pid, players, clients, args.seconds, size, mix))))  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    return rows


if __name__ == "__main__":
    main()
