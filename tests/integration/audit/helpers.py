"""Shared steps of the audit trail tests: write audit rows, run the maintainer, read the
tree back as plain values."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import text

from app.audit import tasks
from app.audit.canonical import encode
from app.audit.tree_repository import ENTRY_COLUMNS, entry_row
from app.core.db import Database
from app.core.settings import Settings
from tests import audit_verifier as ref


async def write_rows(db: Database, count: int, action: str = "test.action") -> None:
    """``count`` committed audit rows in one transaction."""
    async with db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO audit_log (actor, principal_kind, action, target, outcome, ip, "
                "request_id, user_agent, details) SELECT 'staff:s-' || g, 'staff', :a, "
                "'p-' || g, 'success', '10.0.0.1', 'req-' || g, 'ua', "
                "jsonb_build_object('n', g) FROM generate_series(1, :n) g"
            ),
            {"a": action, "n": count},
        )


def audit_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update=overrides)


async def maintain(db: Database, settings: Settings) -> int:
    return await tasks.maintain(db, settings)


async def leaves_in_order(db: Database) -> list[dict[str, Any]]:
    async with db.read_session() as session:
        rows = await session.execute(
            text(
                f"SELECT l.position, l.entry_id, l.leaf_hash, {ENTRY_COLUMNS} "
                "FROM audit_leaves l JOIN audit_log a ON a.id = l.entry_id ORDER BY l.position"
            )
        )
        return [{**entry_row(r), "position": r.position, "entry_id": r.entry_id,
                 "leaf_hash": r.leaf_hash} for r in rows]  # fmt: skip


async def independent_root(db: Database, size: int | None = None) -> bytes:
    """The root recomputed from the audit rows alone, by the test's own RFC 6962 code."""
    leaves = await leaves_in_order(db)
    if size is not None:
        leaves = leaves[:size]
    return ref.mth([ref.leaf(encode(r)) for r in leaves])


def b64(value: str) -> bytes:
    return base64.b64decode(value)
