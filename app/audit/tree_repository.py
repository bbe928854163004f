"""SQL of the audit Merkle tree: the maintainer's state row, leaves, perfect nodes and the
rows not yet sequenced. Hashes are raw 32-byte BYTEA."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ENTRY_COLUMNS = """a.id, a.occurred_at, a.principal_kind, a.actor, a.action, a.target,
    a.outcome, a.ip, a.request_id, a.user_agent, a.details::text AS details"""


def entry_row(row: Any) -> dict[str, Any]:
    """An audit row as ``canonical.encode`` wants it (JSONB read as its normalised text)."""
    out = dict(row._mapping)
    out["details"] = json.loads(out["details"])
    return out


async def lock_state(session: AsyncSession, wait: bool = False) -> tuple[int, datetime] | None:
    """The state row, locked; None while another replica holds it (it is extending the
    tree: this one skips its turn), unless ``wait``."""
    skip = "" if wait else " SKIP LOCKED"
    # The row is made by the migration; this remakes it after a TRUNCATE (tests).
    await session.execute(
        text(
            "INSERT INTO audit_tree_state (id, size, time_floor) "
            "VALUES (1, 0, '1970-01-01 00:00:00+00') ON CONFLICT DO NOTHING"
        )
    )
    row = (
        await session.execute(
            # constant fragments only, no input in the SQL text
            text(f"SELECT size, time_floor FROM audit_tree_state WHERE id = 1 FOR UPDATE{skip}")  # noqa: S608
        )
    ).first()
    return (row.size, row.time_floor) if row else None


async def state_size(session: AsyncSession) -> tuple[int, datetime]:
    row = (
        await session.execute(text("SELECT size, time_floor FROM audit_tree_state WHERE id = 1"))
    ).one()
    return row.size, row.time_floor


async def oldest_open_transaction(session: AsyncSession) -> datetime:
    """The earliest start of a transaction still open in this database (ours included).

    An audit row's ``occurred_at`` is its transaction's start (``now()``), so every row
    that commits after this moment has ``occurred_at`` >= the returned time. Needs the
    writers' sessions visible in pg_stat_activity (same role, or pg_read_all_stats)."""
    found: datetime = (
        await session.execute(
            text(
                "SELECT least(now(), min(xact_start)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND xact_start IS NOT NULL"
            )
        )
    ).scalar_one()
    return found


async def unsequenced(session: AsyncSession, floor: datetime, limit: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            f"SELECT {ENTRY_COLUMNS} FROM audit_log a WHERE a.occurred_at >= :floor "  # noqa: S608
            "AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = a.id) "
            "ORDER BY a.occurred_at, a.id LIMIT :limit"
        ),
        {"floor": floor, "limit": limit},
    )
    return [entry_row(r) for r in rows]


async def node_hashes(
    session: AsyncSession, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Hashes of perfect subtrees by (level, index); level 0 reads the leaves."""
    wanted = set(keys)
    leaves = [i for lvl, i in wanted if lvl == 0]
    inner = [(lvl, i) for lvl, i in wanted if lvl > 0]
    found: dict[tuple[int, int], bytes] = {}
    if leaves:
        rows = await session.execute(
            text("SELECT position, leaf_hash FROM audit_leaves WHERE position = ANY(:p)"),
            {"p": leaves},
        )
        found.update({(0, r.position): r.leaf_hash for r in rows})
    if inner:
        rows = await session.execute(
            text(
                "SELECT n.level, n.index, n.hash FROM audit_tree_nodes n "
                "JOIN unnest(CAST(:l AS smallint[]), CAST(:i AS bigint[])) AS k(level, index) "
                "ON n.level = k.level AND n.index = k.index"
            ),
            {"l": [k[0] for k in inner], "i": [k[1] for k in inner]},
        )
        # positional: ``Row.index`` is the tuple method, not the column
        found.update({(int(r[0]), int(r[1])): bytes(r[2]) for r in rows})
    missing = wanted - found.keys()
    if missing:
        raise LookupError(f"audit tree nodes missing: {sorted(missing)[:5]}")
    return found


async def append(
    session: AsyncSession,
    leaves: Sequence[tuple[int, int, bytes]],
    nodes: Sequence[tuple[int, int, bytes]],
    size: int,
    floor: datetime,
) -> None:
    """Leaves (position, entry id, hash), nodes (level, index, hash) and the new state."""
    if leaves:
        await session.execute(
            text(
                "INSERT INTO audit_leaves (position, entry_id, leaf_hash) SELECT * FROM "
                "unnest(CAST(:p AS bigint[]), CAST(:e AS bigint[]), CAST(:h AS bytea[]))"
            ),
            {"p": [x[0] for x in leaves], "e": [x[1] for x in leaves], "h": [x[2] for x in leaves]},
        )
    if nodes:
        await session.execute(
            text(
                "INSERT INTO audit_tree_nodes (level, index, hash) SELECT * FROM "
                "unnest(CAST(:l AS smallint[]), CAST(:i AS bigint[]), CAST(:h AS bytea[]))"
            ),
            {"l": [x[0] for x in nodes], "i": [x[1] for x in nodes], "h": [x[2] for x in nodes]},
        )
    await session.execute(
        text("UPDATE audit_tree_state SET size = :s, time_floor = :f WHERE id = 1"),
        {"s": size, "f": floor},
    )


async def leaf_of_entry(session: AsyncSession, entry_id: int) -> tuple[int, bytes] | None:
    row = (
        await session.execute(
            text("SELECT position, leaf_hash FROM audit_leaves WHERE entry_id = :e"),
            {"e": entry_id},
        )
    ).first()
    return (row.position, row.leaf_hash) if row else None


def entry_row_from(mapping: dict[str, object]) -> dict[str, Any]:
    """As ``entry_row``, from an already materialised mapping."""
    out = dict(mapping)
    out["details"] = json.loads(str(out["details"]))
    return out
