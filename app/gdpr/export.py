"""Subject access / portability export (GDPR art. 15, 20): every row about one player in
every table, found from the live database schema rather than a hand-kept list, so a new
table or column that refers to a player is exported without anyone remembering to.

A table is about a player when it has a ``player_id`` column, is ``players`` itself, or
names the player in a principal column (``subject``/``actor``/``target``: the
``player:<id>`` key or the bare id). A few tables reach the player another way (LINKED):
the personal values of their audit entries (kept beside the tree), their sign-in sessions
(session state, when Redis does not hold it) and the SMS sent to their phone. Credential
material (password hashes, MFA secrets, recovery code hashes, token keys) is listed but
withheld: it is not information about the person.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound

PRINCIPAL_COLUMNS = ("subject", "actor", "target")
WITHHELD = frozenset({"password_hash", "secret", "code_hash", "secret_hash", "private_key"})
WITHHELD_VALUE = "[withheld: security credential]"
# Bookkeeping of the tree and the outbox relay, not data about the person.
SKIP_TABLES = frozenset({"alembic_version", "audit_leaves", "audit_tree_nodes"})

# Tables about the player through another table; the salt of an audit value is kept so the
# subject can check the value against the commitment in their audit entry.
LINKED = {
    "audit_personal_values": """entry_id IN (SELECT id FROM audit_log WHERE actor = :key
                                 OR target IN (:key, :text))""",
    "session_state": "value -> 'principal' ->> 'id' = :text AND key LIKE 'rf:%'",
    "sms_outbox": """phone IN (SELECT phone FROM player_profiles
                               WHERE player_id = CAST(:pid AS uuid) AND phone IS NOT NULL)""",
}

COLUMNS = text("""
SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
""")


async def schema_columns(session: AsyncSession) -> dict[str, list[tuple[str, str]]]:
    """Each table's (column, data type), in column order."""
    columns: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for table, column, data_type in await session.execute(COLUMNS):
        if table not in SKIP_TABLES:
            columns[table].append((column, data_type))
    return dict(columns)


def player_predicate(table: str, typed: list[tuple[str, str]]) -> str | None:
    """The WHERE clause selecting this table's rows about the player (``:pid``/``:key``),
    or None when the table holds nothing about players."""
    if table == "players":
        return "id = CAST(:pid AS uuid)"
    if table in LINKED:
        return LINKED[table]
    types = dict(typed)
    clauses = []
    if "player_id" in types:  # typed like the column, so its index is used
        uuid_typed = types["player_id"] == "uuid"
        clauses.append("player_id = CAST(:pid AS uuid)" if uuid_typed else "player_id = :text")
    clauses += [f'"{c}" IN (:key, :text)' for c in PRINCIPAL_COLUMNS if c in types]
    return " OR ".join(clauses) or None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


async def export_player(session: AsyncSession, player_id: uuid.UUID) -> dict[str, Any]:
    """The whole document: ``tables`` maps each table about players to its ``columns``
    and this player's ``rows`` (column -> JSON value)."""
    # one parameter per SQL type: PostgreSQL types a parameter once per statement
    params = {"pid": str(player_id), "text": str(player_id), "key": f"player:{player_id}"}
    exists = await session.execute(
        text("SELECT 1 FROM players WHERE id = CAST(:pid AS uuid)"), params
    )
    if exists.first() is None:
        raise NotFound(f"player {player_id} not found")
    tables: dict[str, Any] = {}
    for table, typed in (await schema_columns(session)).items():
        where = player_predicate(table, typed)
        if where is None:
            continue
        columns = [c for c, _ in typed]
        quoted = ", ".join(f'"{c}"' for c in columns)
        # names come from the catalogue, values are bound: no input in the SQL text
        sql = f'SELECT {quoted} FROM "{table}" WHERE {where}'  # noqa: S608
        result = await session.execute(text(sql), params)
        rows = [
            {
                c: WITHHELD_VALUE if c in WITHHELD else _plain(v)
                for c, v in zip(columns, r, strict=True)
            }
            for r in result
        ]
        tables[table] = {"columns": columns, "rows": rows}
    generated = (await session.execute(text("SELECT now()"))).scalar_one()
    return {"player": str(player_id), "generatedAt": _plain(generated), "tables": tables}


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
