"""Every SQL statement of the regulator export: the datasets of a time range ``(from, to]``
(optionally one player's), each counted and then streamed with a server-side cursor.

Times are the rows' own: a ledger transfer's ``created_at`` is its transaction's start,
like an audit entry's ``occurred_at``, so one operation is wholly inside or outside."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.tree_repository import ENTRY_COLUMNS
from app.exports.repository import BATCH

# ``:player`` NULL: every player. Each fragment filters the alias it names.
_PLAYER = "(CAST(:player AS uuid) IS NULL OR {col} = CAST(:player AS uuid))"

_PLAYERS = f"""
SELECT p.id::text AS id, p.login, p.email, pr.first_name, pr.last_name, p.birth_date,
       p.country, p.currency, p.status, p.confirm_status, p.risk_level, p.vip_level,
       p.created_at
FROM players p LEFT JOIN player_profiles pr ON pr.player_id = p.id
WHERE p.created_at <= :to AND {_PLAYER.format(col="p.id")}
ORDER BY p.created_at, p.id
"""  # noqa: S608 (constant fragments only)

_KYC = f"""
SELECT e.id, e.created_at, e.case_id::text AS case_id, e.player_id::text AS player_id,
       e.actor, e.action, e.from_status, e.to_status, e.risk_level, e.reasons::text AS reasons,
       e.note
FROM kyc_case_events e
WHERE e.created_at > :from AND e.created_at <= :to AND {_PLAYER.format(col="e.player_id")}
ORDER BY e.id
"""  # noqa: S608

_TRANSFERS = f"""
SELECT t.id, t.created_at, t.operation_id::text AS operation_id, t.player_id::text AS player_id,
       t.wallet_id, w.kind AS wallet_kind, t.house_account, t.currency, t.amount, t.kind,
       t.balance_after, t.reference, t.actor
FROM ledger_transfers t JOIN wallets w ON w.id = t.wallet_id
WHERE t.created_at > :from AND t.created_at <= :to AND {_PLAYER.format(col="t.player_id")}
ORDER BY t.id
"""  # noqa: S608

# Bonuses alive at some moment of the range: granted by its end, not finished before it.
_BONUSES = f"""
SELECT b.id::text AS id, b.campaign_id::text AS campaign_id, b.player_id::text AS player_id,
       b.kind, b.status, b.currency, b.amount, b.wagering_required, b.wagered, b.released,
       b.forfeited, b.granted_by, b.expires_at, b.finished_at, b.created_at
FROM player_bonuses b
WHERE b.created_at <= :to AND (b.finished_at IS NULL OR b.finished_at > :from)
  AND {_PLAYER.format(col="b.player_id")}
ORDER BY b.created_at, b.id
"""  # noqa: S608

_STATUS_CHANGES = f"""
SELECT e.id, e.event_id::text AS event_id, e.time, e.data->>'playerId' AS player_id,
       e.data->>'from' AS from_status, e.data->>'to' AS to_status,
       e.data->>'reason' AS reason, e.data->>'actor' AS actor
FROM outbox_events e
WHERE e.type = 'player.status_changed' AND e.time > :from AND e.time <= :to
  AND {_PLAYER.format(col="(e.data->>'playerId')::uuid")}
ORDER BY e.id
"""  # noqa: S608

# Audit entries about the player: its own actions and those whose target names it (the
# ``player:<id>`` key or the bare id, as the GDPR export finds them).
_AUDIT_FILTER = """a.occurred_at > :from AND a.occurred_at <= :to AND (CAST(:player AS uuid) IS NULL
    OR a.actor = 'player:' || CAST(:player AS text)
    OR a.target IN ('player:' || CAST(:player AS text), CAST(:player AS text)))"""

_AUDIT = f"""
SELECT l.position, l.leaf_hash, {ENTRY_COLUMNS}
FROM audit_log a JOIN audit_leaves l ON l.entry_id = a.id
WHERE {_AUDIT_FILTER}
ORDER BY l.position
"""  # noqa: S608


def _params(start: datetime, end: datetime, player: uuid.UUID | None) -> dict[str, Any]:
    return {"from": start, "to": end, "player": player}


async def _stream(
    session: AsyncSession, sql: str, params: dict[str, Any]
) -> AsyncIterator[Sequence[Row[Any]]]:
    result = await session.stream(text(sql).execution_options(yield_per=BATCH), params)
    async for rows in result.partitions(BATCH):
        yield rows


async def _count(session: AsyncSession, sql: str, params: dict[str, Any]) -> int:
    # constant SQL of this module only
    counted = text(f"SELECT count(*) FROM ({sql}) AS q")  # noqa: S608
    return int((await session.execute(counted, params)).scalar_one())


DATASET_SQL = {
    "players": _PLAYERS,
    "kyc_decisions": _KYC,
    "ledger_transfers": _TRANSFERS,
    "bonuses": _BONUSES,
    "status_changes": _STATUS_CHANGES,
    "audit_entries": _AUDIT,
}


async def count(
    session: AsyncSession, dataset: str, start: datetime, end: datetime, player: uuid.UUID | None
) -> int:
    return await _count(session, DATASET_SQL[dataset], _params(start, end, player))


def stream(
    session: AsyncSession, dataset: str, start: datetime, end: datetime, player: uuid.UUID | None
) -> AsyncIterator[Sequence[Row[Any]]]:
    return _stream(session, DATASET_SQL[dataset], _params(start, end, player))


async def unsequenced_audit_entries(
    session: AsyncSession, start: datetime, end: datetime, player: uuid.UUID | None, size: int
) -> int:
    """Entries of the range not in the tree of ``size`` (0 once the tree caught up)."""
    sql = text(
        f"SELECT count(*) FROM audit_log a LEFT JOIN audit_leaves l ON l.entry_id = a.id "  # noqa: S608
        f"WHERE {_AUDIT_FILTER} AND (l.position IS NULL OR l.position >= :size)"
    )
    return int(
        (await session.execute(sql, {**_params(start, end, player), "size": size})).scalar_one()
    )


async def oldest_other_transaction(session: AsyncSession) -> datetime | None:
    """The earliest start of a transaction open in this database besides ours."""
    found: datetime | None = (
        await session.execute(
            text(
                "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
                "AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
            )
        )
    ).scalar_one()
    return found


async def player_exists(session: AsyncSession, player: uuid.UUID) -> bool:
    found = await session.execute(text("SELECT 1 FROM players WHERE id = :p"), {"p": player})
    return found.first() is not None


async def database_now(session: AsyncSession) -> datetime:
    now: datetime = (await session.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return now


async def count_wallets(session: AsyncSession, at: datetime, player: uuid.UUID | None) -> int:
    sql = text(
        f"SELECT count(*) FROM wallets w WHERE w.created_at <= :at AND {_PLAYER.format(col='w.player_id')}"  # noqa: S608, E501
    )
    return int((await session.execute(sql, {"at": at, "player": player})).scalar_one())


async def checkpoint_before(
    session: AsyncSession, at: datetime, size: int
) -> tuple[int, int] | None:
    """(id, tree size) of the last checkpoint signed at or before ``at`` below ``size``."""
    row = (
        await session.execute(
            text(
                "SELECT id, tree_size FROM audit_checkpoints WHERE signed_at <= :at "
                "AND tree_size < :size AND tree_size > 0 ORDER BY tree_size DESC LIMIT 1"
            ),
            {"at": at, "size": size},
        )
    ).first()
    return (int(row.id), int(row.tree_size)) if row else None
