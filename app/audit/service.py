"""Writing audit records. ``record`` joins the caller's transaction (the record commits with
the change it describes); ``record_now`` commits on its own, for refusals and failures
where nothing else is written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository
from app.audit.models import AuditEntry
from app.core.db import Database
from app.core.logging import user_agent_var

SUCCESS = "success"
FAILURE = "failure"
DENIED = "denied"


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: the principal key, client ip and request id."""

    key: str
    ip: str | None = None
    request_id: str | None = None
    user_agent: str | None = None  # None: the current request's (app.core.http)


def _values(
    actor: Actor, action: str, target: str | None, outcome: str, details: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "actor": actor.key[:120],
        "action": action,
        "target": target[:120] if target else None,
        "outcome": outcome,
        "principal_kind": actor.key.split(":", 1)[0][:16],
        "ip": actor.ip,
        "request_id": actor.request_id,
        "user_agent": (actor.user_agent or user_agent_var.get() or None),
        "details": details or {},
    }


def _entry(
    actor: Actor, action: str, target: str | None, outcome: str, details: dict[str, Any] | None
) -> AuditEntry:
    return AuditEntry(**_values(actor, action, target, outcome, details))


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target: str | None = None,
    outcome: str = SUCCESS,
    details: dict[str, Any] | None = None,
) -> None:
    await repository.insert(session, _entry(actor, action, target, outcome, details))


# actor, action, target, outcome, details: one row for ``record_many_now``.
Row = tuple[Actor, str, str | None, str, dict[str, Any] | None]


async def record_many_now(db: Database, rows: Sequence[Row]) -> None:
    """Several rows in one transaction of their own (a request's audited reads)."""
    async with db.transaction() as session:
        session.add_all(_entry(*row) for row in rows)
        await session.flush()


@dataclass(frozen=True)
class Record:
    """One entry of ``record_many``."""

    action: str
    target: str | None = None
    details: dict[str, Any] | None = None
    outcome: str = SUCCESS


async def record_many(session: AsyncSession, actor: Actor, records: Sequence[Record]) -> None:
    """Many entries of one actor in the caller's transaction, inserted together. Each is an
    ordinary row: the insert trigger separates its personal values and the tree sequences
    it like any other (leaves in commit order), so the log's invariants hold."""
    await repository.insert_many(
        session, [_values(actor, r.action, r.target, r.outcome, r.details) for r in records]
    )


async def record_now(
    db: Database,
    actor: Actor,
    action: str,
    target: str | None = None,
    outcome: str = FAILURE,
    details: dict[str, Any] | None = None,
) -> None:
    async with db.transaction() as session:
        await repository.insert(session, _entry(actor, action, target, outcome, details))
