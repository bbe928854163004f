"""The canonical form of an audit entry, the bytes a Merkle leaf commits to: RFC 8785
(JCS) over a fixed set of fields. One documented deviation keeps every entry encodable:
an integer outside IEEE-754's exact range (|n| > 2**53 - 1), which JCS cannot express, is
written as its decimal string."""

from __future__ import annotations

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


def encode(row: Mapping[str, Any]) -> bytes:
    return rfc8785.dumps(_safe(entry_document(row)))


def entry_leaf_hash(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(encode(row))
