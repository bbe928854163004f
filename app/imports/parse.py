"""Reading a marketing list (CSV or JSONL) into rows, and the per-row checks that need no
database. Whole-file problems raise ``ImportFileInvalid``; row problems are collected."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from app.consents.service import CHANNELS
from app.imports.errors import ImportFileInvalid

IDENTIFIERS = ("player_id", "email", "login")
ACTIONS = ("add_tag", "consent_on", "consent_off", "opt_out", "add_to_segment")
NEEDS_VALUE = {"add_tag", "consent_on", "consent_off", "add_to_segment"}
COLUMNS = (*IDENTIFIERS, "action", "value")


@dataclass(frozen=True)
class Row:
    line: int
    identifier: str  # player_id, email or login
    key: str
    action: str
    value: str


@dataclass(frozen=True)
class Problem:
    line: int
    code: str  # UNKNOWN_PLAYER, BAD_EMAIL, UNKNOWN_CHANNEL, DUPLICATE_ROW, ...
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code, "message": self.message}


def decode(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise ImportFileInvalid(f"the file is over the limit of {max_bytes} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileInvalid(f"the file is not UTF-8 (byte {exc.start})") from None


def records(text: str, fmt: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, raw fields) per data row."""
    return _jsonl(text) if fmt == "jsonl" else _csv(text)


def _csv(text: str) -> list[tuple[int, dict[str, str]]]:
    header_line = text.split("\n", 1)[0]
    if "," not in header_line and any(d in header_line for d in (";", "\t", "|")):
        raise ImportFileInvalid("the delimiter must be a comma")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    _check_header(header)
    found = []
    for raw in reader:
        if None in raw:
            raise ImportFileInvalid(f"line {reader.line_num}: more fields than the header")
        found.append((reader.line_num, {k: (v or "") for k, v in raw.items()}))
    return found


def _jsonl(text: str) -> list[tuple[int, dict[str, str]]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise ImportFileInvalid(f"line {number}: not JSON") from None
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ImportFileInvalid(f"line {number}: an object of strings is expected")
        _check_header(list(raw))
        found.append((number, raw))
    return found


def _check_header(header: list[str]) -> None:
    if "action" not in header or not set(IDENTIFIERS) & set(header):
        raise ImportFileInvalid("columns needed: action and one of player_id, email, login")
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        raise ImportFileInvalid(f"unknown column {unknown[0]!r}")


def check_row(line: int, raw: dict[str, str]) -> Row | Problem:
    """One row parsed, or its first problem."""
    given = [(k, raw[k].strip()) for k in IDENTIFIERS if raw.get(k, "").strip()]
    if len(given) != 1:
        return Problem(line, "BAD_IDENTIFIER", "exactly one of player_id, email, login")
    identifier, key = given[0]
    action = raw.get("action", "").strip()
    value = raw.get("value", "").strip()
    if action not in ACTIONS:
        return Problem(line, "UNKNOWN_ACTION", f"action must be one of {', '.join(ACTIONS)}")
    if action in NEEDS_VALUE and not value:
        return Problem(line, "MISSING_VALUE", f"{action} needs a value")
    if action in ("consent_on", "consent_off") and value not in CHANNELS:
        return Problem(line, "UNKNOWN_CHANNEL", f"channel must be one of {', '.join(CHANNELS)}")
    return Row(line, identifier, key, action, value)
