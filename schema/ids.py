"""THE id parser of the whole API (GraphQL arguments and inputs, REST path and query
parameters). Ids are ASCII digits within BIGINT, or canonical UUIDs. Anything else is a
``ValidationFailed`` naming the field: never a crash, and never a superscript or
full-width digit silently read as a number (``str.isdigit`` and ``int`` accept those)."""

from __future__ import annotations

import re
import uuid

from app.core.errors import ValidationFailed

BIGINT_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE
)


def parse_int_id(raw: object, field: str) -> int:
    """A BIGINT row id: 1-19 ASCII digits, at most 2**63-1."""
    text = str(raw)
    if _DIGITS.fullmatch(text) is None or int(text) > BIGINT_MAX:
        raise ValidationFailed.single(field, "is not a valid id")
    return int(text)


def parse_uuid(raw: object, field: str) -> uuid.UUID:
    """A UUID id in its canonical 8-4-4-4-12 hex form."""
    text = str(raw)
    if _UUID.fullmatch(text) is None:
        raise ValidationFailed.single(field, "is not a valid id")
    return uuid.UUID(text)


def try_int_id(raw: object) -> int | None:
    """For reads, where an impossible id simply finds nothing."""
    try:
        return parse_int_id(raw, "id")
    except ValidationFailed:
        return None


def try_uuid(raw: object) -> uuid.UUID | None:
    try:
        return parse_uuid(raw, "id")
    except ValidationFailed:
        return None
