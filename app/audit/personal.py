"""Personal values of audit entries, kept beside the tree. The insert trigger of
``audit_log`` (migration 0015) moves the ip, the user agent and the ``details`` values under
PERSONAL_DETAIL_KEYS into ``audit_personal_values`` and leaves in the entry a commitment
``sha256:`` + base64url(SHA-256(salt || value)): the leaf hashes commit to that, so
deleting a value (GDPR erasure) changes no leaf, no root and no checkpoint, while a kept
value can still be checked against its entry."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PERSONAL_DETAIL_KEYS = ("email", "login", "phone", "firstName", "lastName", "name",
                        "address", "birthDate", "ip", "deviceId", "identifier")  # fmt: skip
COMMITMENT_PREFIX = "sha256:"
ERASED = "[erased]"


def commitment(salt: bytes, value: str) -> str:
    digest = hashlib.sha256(salt + value.encode()).digest()
    return COMMITMENT_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def values_of(session: AsyncSession, entry_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """entry id -> field -> the value its commitment stands for (erased ones are absent)."""
    ids = sorted(set(entry_ids))
    if not ids:
        return {}
    rows = await session.execute(
        text("SELECT entry_id, field, value FROM audit_personal_values "
             "WHERE entry_id = ANY(:ids)"), {"ids": ids}
    )  # fmt: skip
    out: dict[int, dict[str, str]] = {}
    for entry_id, field, value in rows:
        out.setdefault(entry_id, {})[field] = value
    return out


def reveal(stored: str | None, field: str, values: dict[str, str]) -> str | None:
    """What to show for a stored column: the value, ERASED, or the stored text itself
    (rows written before the trigger existed hold their values in place)."""
    if stored is None or not stored.startswith(COMMITMENT_PREFIX):
        return stored
    return values.get(field, ERASED)


def reveal_details(details: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    return {
        k: reveal(v, f"details.{k}", values) if isinstance(v, str) else v
        for k, v in details.items()
    }


ERASE = text("""
DELETE FROM audit_personal_values v USING audit_log a
WHERE a.id = v.entry_id
  AND (a.actor = :key
       OR (a.target IN (:key, :bare)
           AND (v.field LIKE 'details.%'
                OR coalesce(a.principal_kind, '') NOT IN ('staff', 'service', 'system'))))
""")


async def erase_about(session: AsyncSession, player_key: str, bare_id: str) -> int:
    """Delete the personal values of every entry the player made or that is about them
    (an anonymous sign-in as them carries their ip); of a staff or service entry about
    them only the personal ``details`` go (the staff member's own ip is not theirs)."""
    result = await session.execute(ERASE, {"key": player_key, "bare": bare_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
