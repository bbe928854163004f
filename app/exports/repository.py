"""Every SQL statement of the exports: range bounds, export runs and the streamed reads.
Reads are plain SQL streamed with a server-side cursor (constant memory)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.consents.service import marketing_consents_sql
from app.core.db import Database, driver_connection
from app.exports.models import ExportRun

CONSENTS = marketing_consents_sql("p.id")

# Rows per fetch of the server-side cursor (memory stays bounded by one batch).
BATCH = 10_000

# A streamed row: an asyncpg Record, read by name (``row["id"]``) or by position.
DbRow = Any

# Player events that may change what a CRM holds about a player.
PLAYER_EVENT_TYPES = (
    "player.registered",
    "player.status_changed",
    "player.profile_updated",
    "player.consent_changed",
    "vip.activated",
    "kyc.status_changed",
)
MEMBERSHIP_EVENT_TYPES = ("segment.entered", "segment.left")


async def sequence_head(session: AsyncSession, table: str) -> int:
    """The last id handed out for ``table`` (0 before the first)."""
    stmt = text(
        "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence(:t, 'id')::regclass), 0)"
    )
    return int((await session.execute(stmt, {"t": table})).scalar_one())


async def writers(session: AsyncSession) -> list[str]:
    """Transaction ids of this database's other sessions that hold one (i.e. have written).

    A writer that took an id <= the head read just before is among them. Transaction ids
    are cluster-wide; other databases' transactions cannot write our rows and are left
    out. (A snapshot's xip list would not do: xids above its xmax are not listed.)"""
    stmt = text(
        "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
    )
    return [str(x) for x in (await session.execute(stmt)).scalars()]


async def still_running(session: AsyncSession, xids: list[str]) -> int:
    """How many of ``xids`` are still running (call in a fresh transaction: PostgreSQL
    keeps one view of pg_stat_activity per transaction)."""
    stmt = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_xid::text = ANY(:xids)"
    )
    return int((await session.execute(stmt, {"xids": xids})).scalar_one())


async def find_run(session: AsyncSession, kind: str, since: int) -> ExportRun | None:
    stmt = select(ExportRun).where(
        col(ExportRun.kind) == kind, col(ExportRun.since_position) == since
    )
    return (await session.execute(stmt)).scalars().first()


async def record_run(
    session: AsyncSession, kind: str, since: int, until: int, actor: str
) -> ExportRun:
    """The run for (kind, since): this one, or the one a concurrent export recorded first."""
    await session.execute(
        pg_insert(ExportRun)
        .values(kind=kind, since_position=since, until_position=until, created_by=actor)
        .on_conflict_do_nothing(index_elements=["kind", "since_position"])
    )
    run = await find_run(session, kind, since)
    assert run is not None
    return run


async def complete_run(session: AsyncSession, run_id: int, manifest_sha256: str) -> None:
    await session.execute(
        text("UPDATE export_runs SET manifest_sha256 = :h, completed_at = now() WHERE id = :i"),
        {"h": manifest_sha256, "i": run_id},
    )


@asynccontextmanager
async def range_lock(db: Database, kind: str, since: int) -> AsyncIterator[None]:
    """A session advisory lock per export range, held on its own connection (no
    transaction id: the range settling does not wait for it) while the bundle is written."""
    digest = hashlib.sha256(f"export-range:{kind}:{since}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            await conn.commit()


async def snapshot_read(session: AsyncSession) -> None:
    """Every read of one export sees one snapshot."""
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


async def _count(session: AsyncSession, sql: str, params: dict[str, Any]) -> int:
    return int((await session.execute(text(sql), params)).scalar_one())


async def _stream(
    session: AsyncSession, sql: str, params: dict[str, Any]
) -> AsyncIterator[Sequence[DbRow]]:
    """A server-side cursor on the session's asyncpg connection (in its snapshot), read
    in batches; the rows skip SQLAlchemy's result layer (the export's hot loop)."""
    compiled = text(sql).compile(dialect=session.get_bind().dialect)
    args = [params[name] for name in compiled.positiontup or ()]
    driver = await driver_connection(session)
    cursor = await driver.cursor(compiled.string, *args)
    while rows := await cursor.fetch(BATCH):
        yield rows


# --- CRM -----------------------------------------------------------------------------------

# CONSENTS is our own constant SQL (app/consents), no input
_MEMBERSHIPS = f"""
SELECT e.id AS position, e.event_id::text AS event_id, e.type, e.time,
       e.data->>'segmentId' AS segment_id, e.data->>'segmentName' AS segment_name,
       p.id AS player_id, p.status, {CONSENTS} AS consents
FROM outbox_events e
JOIN players p ON p.id = (e.data->>'playerId')::uuid
WHERE e.id > :since AND e.id <= :until AND e.type = ANY(:types)
ORDER BY e.id
"""  # noqa: S608

_CHANGED_PLAYERS = f"""
WITH changed AS (
    SELECT subject, max(id) AS position FROM outbox_events
    WHERE id > :since AND id <= :until AND type = ANY(:types) AND subject IS NOT NULL
    GROUP BY subject
)
SELECT c.position, p.id AS player_id, p.email, p.country, p.currency, p.locale, p.status,
       p.vip_level, {CONSENTS} AS consents, p.created_at,
       pr.first_name, pr.last_name, pr.phone,
       (SELECT string_agg(t.tag, ';' ORDER BY t.tag COLLATE "C") FROM player_tags t
        WHERE t.player_id = p.id) AS tags
FROM changed c
JOIN players p ON p.id = c.subject::uuid
LEFT JOIN player_profiles pr ON pr.player_id = p.id
ORDER BY c.position, p.id
"""  # noqa: S608


def _crm_params(since: int, until: int, types: tuple[str, ...]) -> dict[str, Any]:
    return {"since": since, "until": until, "types": list(types)}


async def count_memberships(session: AsyncSession, since: int, until: int) -> int:
    return await _count(
        session,
        "SELECT count(*) FROM outbox_events WHERE id > :since AND id <= :until "
        "AND type = ANY(:types)",
        _crm_params(since, until, MEMBERSHIP_EVENT_TYPES),
    )


def memberships(session: AsyncSession, since: int, until: int) -> AsyncIterator[Sequence[DbRow]]:
    return _stream(session, _MEMBERSHIPS, _crm_params(since, until, MEMBERSHIP_EVENT_TYPES))


async def count_changed_players(session: AsyncSession, since: int, until: int) -> int:
    return await _count(
        session,
        "SELECT count(DISTINCT subject) FROM outbox_events WHERE id > :since AND id <= :until "
        "AND type = ANY(:types) AND subject IS NOT NULL",
        _crm_params(since, until, PLAYER_EVENT_TYPES),
    )


def changed_players(
    session: AsyncSession, since: int, until: int
) -> AsyncIterator[Sequence[DbRow]]:
    return _stream(session, _CHANGED_PLAYERS, _crm_params(since, until, PLAYER_EVENT_TYPES))


# --- ERP -----------------------------------------------------------------------------------

_TRANSFERS = """
SELECT t.id, t.created_at, t.operation_id::text AS operation_id, t.player_id::text AS player_id,
       t.wallet_id, w.kind AS wallet_kind, t.house_account, t.currency, t.amount, t.kind,
       t.balance_after, t.reference
FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id
WHERE t.id > :since AND t.id <= :until
ORDER BY t.id
"""

# Account movements per UTC day of every transfer up to the cursor: a transfer credits its
# wallet by ``amount`` and debits its house account by the same amount.
_MOVES = """
moves AS (
    SELECT (t.created_at AT TIME ZONE 'UTC')::date AS day, t.currency,
           'WALLET:' || w.kind AS account, t.amount
    FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id WHERE t.id <= :until
    UNION ALL
    SELECT (created_at AT TIME ZONE 'UTC')::date, currency, 'HOUSE:' || house_account, -amount
    FROM ledger_transfers WHERE id <= :until
)"""

# One row per day the range touches x account that existed by then: the day's movement and
# the closing balance (every transfer up to the cursor booked on or before that day).
_DAILY_BALANCES = f"""
WITH {_MOVES},
days AS (
    SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day FROM ledger_transfers
    WHERE id > :since AND id <= :until
),
daily AS (
    SELECT day, currency, account, sum(amount) AS movement FROM moves GROUP BY 1, 2, 3
),
running AS (
    SELECT day, currency, account, movement,
           sum(movement) OVER (PARTITION BY currency, account ORDER BY day) AS closing
    FROM daily
),
accounts AS (SELECT DISTINCT currency, account FROM daily)
SELECT d.day, a.currency, a.account, coalesce(mv.movement, 0) AS movement, r.closing
FROM days d CROSS JOIN accounts a
CROSS JOIN LATERAL (
    SELECT closing FROM running r
    WHERE r.currency = a.currency AND r.account = a.account AND r.day <= d.day
    ORDER BY r.day DESC LIMIT 1
) r
LEFT JOIN daily mv ON mv.currency = a.currency AND mv.account = a.account AND mv.day = d.day
ORDER BY d.day, a.currency, a.account
"""  # noqa: S608 (only constant fragments are interpolated)

_ACCOUNT_TOTALS = f"""
WITH {_MOVES}
SELECT currency, account, sum(amount) AS balance FROM moves
GROUP BY currency, account ORDER BY currency, account
"""  # noqa: S608 (only constant fragments are interpolated)


async def count_transfers(session: AsyncSession, since: int, until: int) -> int:
    return await _count(
        session,
        "SELECT count(*) FROM ledger_transfers WHERE id > :since AND id <= :until",
        {"since": since, "until": until},
    )


def transfers(session: AsyncSession, since: int, until: int) -> AsyncIterator[Sequence[DbRow]]:
    return _stream(session, _TRANSFERS, {"since": since, "until": until})


def daily_balances(session: AsyncSession, since: int, until: int) -> AsyncIterator[Sequence[DbRow]]:
    return _stream(session, _DAILY_BALANCES, {"since": since, "until": until})


async def account_totals(session: AsyncSession, until: int) -> list[Row[Any]]:
    return list(await session.execute(text(_ACCOUNT_TOTALS), {"until": until}))
