"""Monthly partitions of the append-only tables: made ahead of time by a periodic task
(safe in many replicas: an advisory lock plus IF NOT EXISTS), listed for the purge.

Partitions live in schema ``pms_partitions`` and are named ``<table>_pYYYY_MM``; rows
outside every month land in ``<table>_default`` (the safety net, normally empty)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.settings import Settings

log = logging.getLogger(__name__)

SCHEMA = "pms_partitions"
# table -> its partition key (the row's timestamp)
PARTITIONED = {"audit_log": "occurred_at", "ledger_transfers": "created_at"}
_LOCK = 0x504D535F50415254  # "PMS_PART"


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    month: date | None  # None: the default partition

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.name}"


async def partitions(session: AsyncSession, table: str) -> list[Partition]:
    """The partitions of ``table`` (monthly ones by month, then the default)."""
    rows = await session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"
        ),
        {"t": f"public.{table}"},
    )
    out = []
    for (name,) in rows:
        suffix = name.removeprefix(f"{table}_p")
        month = date(int(suffix[:4]), int(suffix[5:7]), 1) if suffix != name else None
        out.append(Partition(table, name, month))
    return sorted(out, key=lambda p: (p.month is None, p.month or date.min))


@dataclass(frozen=True)
class Stray:
    """Rows of a default partition older than the retention."""

    table: str
    rows: int
    oldest: datetime

    def describe(self, limit: date) -> str:
        return (
            f"{SCHEMA}.{self.table}_default holds {self.rows} row(s) older than the retention "
            f"(before {limit:%Y-%m}, oldest {self.oldest:%Y-%m-%d}): the purge archives and "
            "drops whole monthly partitions and never reaches them"
        )


async def strays_before(session: AsyncSession, limit: date) -> list[Stray]:
    """Rows that landed in a default partition (written before their month's partition
    existed) and are now older than ``limit``."""
    out = []
    for table, column in PARTITIONED.items():
        default = f"{SCHEMA}.{table}_default"
        if (await session.execute(text("SELECT to_regclass(:t)"), {"t": default})).scalar():
            row = (
                await session.execute(
                    text(f"SELECT count(*), min({column}) FROM {default} WHERE {column} < :l"),  # noqa: S608
                    {"l": datetime.combine(limit, datetime.min.time(), UTC)},
                )
            ).one()
            if row[0]:
                out.append(Stray(table, int(row[0]), row[1]))
    return out


async def _missing(session: AsyncSession, months: list[date]) -> list[tuple[str, date]]:
    wanted = [(t, m) for t in PARTITIONED for m in months]
    names = [partition_name(t, m) for t, m in wanted]
    # pg_class read by a query (the statement's snapshot), not to_regclass: the relation
    # cache is not refreshed by taking an advisory lock, so it may miss a table another
    # replica just committed.
    found = await session.execute(
        text(
            "SELECT n FROM unnest(CAST(:n AS text[])) n WHERE NOT EXISTS (SELECT 1 FROM "
            "pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
            "WHERE s.nspname = :s AND c.relname = n)"
        ),
        {"n": names, "s": SCHEMA},
    )
    absent = set(found.scalars())
    return [(t, m) for (t, m), n in zip(wanted, names, strict=True) if n in absent]


async def create_month(session: AsyncSession, table: str, month: date) -> bool:
    """One partition, in a savepoint: a default partition holding rows of that month
    makes PostgreSQL refuse it (logged; the rows stay in the default)."""
    lo, hi = month.isoformat(), next_month(month).isoformat()
    try:
        async with session.begin_nested():
            await session.execute(
                text(
                    # constants and dates only, no input in the SQL text
                    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{partition_name(table, month)} "
                    f"PARTITION OF {table} FOR VALUES FROM ('{lo} 00:00:00+00') "
                    f"TO ('{hi} 00:00:00+00')"
                )
            )
    except DBAPIError as exc:
        log.error("partition %s of %s not made: %s", month, table, exc.orig)
        return False
    return True


async def ensure_partitions(db: Database, settings: Settings) -> list[str]:
    """Make the partitions of this month and the next ``retention_partitions_ahead_months``
    that do not exist yet. Returns the names made. Reads only the catalog when nothing is
    missing; otherwise one replica at a time makes them (advisory lock)."""
    async with db.transaction() as session:
        now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
        first = month_of(now.astimezone(UTC))
        months = [
            add_months(first, i) for i in range(settings.retention_partitions_ahead_months + 1)
        ]
        if not await _missing(session, months):
            return []
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        made = []
        for table, month in await _missing(session, months):
            if await create_month(session, table, month):
                made.append(partition_name(table, month))
    if made:
        log.info("partitions made: %s", ", ".join(made))
    return made


async def ensure_task(db: Database, settings: Settings) -> None:
    await ensure_partitions(db, settings)
