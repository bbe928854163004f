"""The canonical form of an audit entry, the bytes a Merkle leaf commits to: RFC 8785
(JCS) over a fixed set of fields. One documented deviation keeps every entry encodable:
an integer outside IEEE-754's exact range (|n| > 2**53 - 1), which JCS cannot express, is
written as its decimal string."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

from app.audit.merkle import leaf_hash

FORMAT_VERSION = 1
_SAFE = 2**53 - 1


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _safe(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -_SAFE <= value <= _SAFE else str(value)
    if isinstance(value, Mapping):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return value


def entry_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an ``audit_log`` row that the tree commits to (PCI DSS 10.2 set)."""
    return {
        "v": FORMAT_VERSION,
        "id": row["id"],
        "time": _timestamp(row["occurred_at"]),
        "principalKind": row["principal_kind"],
        "actor": row["actor"],
        "action": row["action"],
        "resource": row["target"],
        "outcome": row["outcome"],
        "ip": row["ip"],
        "requestId": row["request_id"],
        "userAgent": row["user_agent"],
        "details": row["details"],
    }


def _plain(value: Any) -> bool:
    """True when JCS and ``json.dumps(sort_keys, compact, ensure_ascii=False)`` spell
    ``value`` alike: no floats (JCS writes numbers the ECMAScript way), ASCII keys only
    (JCS sorts keys by UTF-16 code units, Python by code points). Strings escape the same
    way in both (the two-character forms for \\b \\t \\n \\f \\r, lowercase \\u00hh for
    the other controls, nothing else escaped)."""
    if isinstance(value, str | bool | int) or value is None:
        return True
    if isinstance(value, dict):
        return all(k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def encode(row: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of the entry. The rfc8785 package is pure Python and was ~75 % of
    the tree maintainer's time; documents it would spell like the standard library's
    compact sorted JSON (nearly all: see ``_plain``) take that C path instead."""
    document = _safe(entry_document(row))
    if _plain(document):
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")
    return rfc8785.dumps(document)


def entry_leaf_hash(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(encode(row))
