"""Export cursors: ``<kind>:v1:<position>``, the position being the last row id a run
covered (outbox event id for CRM, ledger transfer id for ERP)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.exports.errors import ExportCursorKindMismatch, InvalidExportCursor

_CURSOR = re.compile(r"^([a-z]{2,16}):v1:(0|[1-9][0-9]{0,18})$")


class ExportKind(StrEnum):
    CRM = "crm"
    ERP = "erp"


@dataclass(frozen=True)
class Cursor:
    kind: ExportKind
    position: int

    def __str__(self) -> str:
        return f"{self.kind.value}:v1:{self.position}"


def start(kind: ExportKind) -> Cursor:
    return Cursor(kind, 0)


def parse(raw: str | None, kind: ExportKind) -> Cursor:
    """The cursor ``raw`` for an export of ``kind`` (None: from the beginning)."""
    if raw is None:
        return start(kind)
    match = _CURSOR.match(raw.strip())
    if match is None:
        raise InvalidExportCursor("not an export cursor (expected e.g. crm:v1:1234)")
    try:
        found = ExportKind(match.group(1))
    except ValueError:
        raise InvalidExportCursor(f"unknown export kind {match.group(1)!r}") from None
    if found is not kind:
        raise ExportCursorKindMismatch(
            f"a {found.value} cursor cannot resume a {kind.value} export"
        )
    position = int(match.group(2))
    if position >= 2**63:
        raise InvalidExportCursor("cursor position out of range")
    return Cursor(kind, position)
