"""The archive bundle of one purged month (app/core/bundles.py format), and its verifier.

Files: ``audit_log`` (the month's audit rows with their tree position, by position),
``tree_leaves`` (every leaf hash of positions [from, size): the month's own and the few
of later months sequenced in between), ``ledger_transfers`` and ``ledger_totals`` (per
wallet and house account). The manifest's ``tree`` holds the frontier of [0, from) (the
perfect-subtree hashes left of the month), the root at ``size``, the signed checkpoint
(C2SP note) and the consistency proof from ``size`` to it, and inclusion proofs of the
month's rows sequenced before ``from``; ``keys`` holds the verifier keys. So the bundle
verifies alone: recompute the leaves from the rows, fold them onto the frontier, prove
the root consistent with the signed checkpoint.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit import merkle, note
from app.audit.canonical import entry_leaf_hash
from app.audit.errors import InvalidCheckpoint, UnknownSigningKey
from app.audit.tree import Frontier, node_key
from app.core import bundles
from app.retention.partitions import month_of

KIND = "pms-retention-archive"
AUDIT_COLUMNS = ("position", "leaf_hash", "id", "occurred_at", "principal_kind", "actor",
                 "action", "target", "outcome", "ip", "request_id", "user_agent",
                 "details")  # fmt: skip
LEAF_COLUMNS = ("position", "entry_id", "leaf_hash", "in_bundle")
LEDGER_COLUMNS = ("id", "operation_id", "player_id", "wallet_id", "house_account", "currency",
                  "amount", "kind", "balance_after", "reference", "idempotency_key", "actor",
                  "created_at")  # fmt: skip
TOTAL_COLUMNS = ("wallet_id", "house_account", "currency", "amount", "transfers")


def cell(value: Any) -> Any:
    """A column value as JSON (timestamps ISO 8601 UTC with microseconds, bytes hex)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str | dict | list):
        return value
    return str(value)


@dataclass(frozen=True)
class TreePart:
    tree_from: int
    tree_size: int
    frontier: list[bytes]
    root: bytes
    checkpoint: str  # the signed note text
    consistency: list[bytes]
    inclusions: dict[int, list[bytes]]  # entry id -> path, rows sequenced before tree_from

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.tree_from, "size": self.tree_size,
            "frontier": [h.hex() for h in self.frontier], "root": self.root.hex(),
            "checkpoint": self.checkpoint, "consistency": [h.hex() for h in self.consistency],
            "inclusions": {str(k): [h.hex() for h in v] for k, v in self.inclusions.items()},
        }  # fmt: skip


def _hashes(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _lines(directory: Path, name: str) -> Iterator[dict[str, Any]]:
    with (directory / f"{name}.jsonl").open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _keys(manifest: Mapping[str, Any]) -> dict[tuple[str, bytes], bytes]:
    keys = {}
    for entry in manifest["keys"]:
        public = base64.b64decode(entry["publicKey"])
        kid = note.key_hash(entry["name"], public)
        if kid.hex() != entry["keyId"]:
            raise ValueError(f"key {entry['name']}: its hash is not {entry['keyId']}")
        keys[(entry["name"], kid)] = public
    return keys


def verify_archive(
    directory: Path, trusted: Mapping[tuple[str, bytes], bytes] | None = None
) -> list[str]:
    """Problems found in an archive bundle (empty: it holds). ``trusted``: the keys the
    signer must be among (the log's published keys); without it the bundle's own keys."""
    try:
        manifest = bundles.read_manifest(directory)
        keys = _keys(manifest)
    except (OSError, ValueError, KeyError) as exc:
        return [f"unreadable archive: {exc}"]
    if trusted is not None and any(trusted.get(k) != v for k, v in keys.items()):
        return ["the archive is signed with a key this log does not publish"]
    signer = [v for (name, kid), v in keys.items() if kid.hex() == manifest["keyId"]]
    if not signer:
        return ["the manifest's signing key is not among its keys"]
    problems = bundles.verify_bundle(directory, Ed25519PublicKey.from_public_bytes(signer[0]))
    if problems:
        return problems
    month = date.fromisoformat(manifest["month"])
    problems += _verify_ledger(directory, manifest, month)
    if manifest["tree"] is not None:
        problems += _verify_tree(directory, manifest, keys, month)
    return problems


def _in_month(moment: str, month: date) -> bool:
    return month_of(datetime.fromisoformat(moment).astimezone(UTC)) == month


def _verify_ledger(directory: Path, manifest: Mapping[str, Any], month: date) -> list[str]:
    sums: dict[tuple[int, str], list[int]] = {}
    problems = []
    for row in _lines(directory, "ledger_transfers"):
        if not _in_month(row["created_at"], month):
            problems.append(f"ledger transfer {row['id']} is not of {month:%Y-%m}")
        total = sums.setdefault((row["wallet_id"], row["house_account"]), [0, 0])
        total[0] += row["amount"]
        total[1] += 1
    stated = {
        (r["wallet_id"], r["house_account"]): [r["amount"], r["transfers"]]
        for r in _lines(directory, "ledger_totals")
    }
    if stated != sums:
        problems.append("ledger_totals do not equal the sums of ledger_transfers")
    if sum(n for _, n in sums.values()) != manifest["ledgerRows"]:
        problems.append("ledger row count differs from the manifest")
    return problems


def _verify_tree(
    directory: Path, manifest: Mapping[str, Any], keys: dict[tuple[str, bytes], bytes],
    month: date,
) -> list[str]:  # fmt: skip
    tree = manifest["tree"]
    lo, hi = int(tree["from"]), int(tree["size"])
    try:
        signed = note.parse(tree["checkpoint"])
        note.verify(signed, keys)
    except (InvalidCheckpoint, UnknownSigningKey) as exc:
        return [f"checkpoint: {exc}"]
    cp = signed.checkpoint
    frontier_hashes = _hashes(tree["frontier"])
    ranges = merkle.perfect_ranges(0, lo)
    if len(ranges) != len(frontier_hashes):
        return ["the frontier does not fit the tree position the archive starts at"]
    frontier = Frontier(
        lo, [(node_key(*r)[0], h) for r, h in zip(ranges, frontier_hashes, strict=True)]
    )
    problems: list[str] = []
    leaves = _lines(directory, "tree_leaves")
    rows = 0
    for row in _lines(directory, "audit_log"):
        rows += 1
        position, stored = int(row["position"]), bytes.fromhex(row["leaf_hash"])
        if not _in_month(row["occurred_at"], month):
            problems.append(f"audit entry {row['id']} is not of {month:%Y-%m}")
        if entry_leaf_hash(_entry(row)) != stored:
            problems.append(f"audit entry {row['id']} at {position}: its leaf hash differs")
        if position < lo:
            path = _hashes(tree["inclusions"].get(str(row["id"]), []))
            if not merkle.verify_inclusion(position, cp.size, stored, path, cp.root):
                problems.append(f"audit entry {row['id']}: inclusion proof fails")
            continue
        problems += _advance(frontier, leaves, position, row["id"], stored)
    problems += _advance(frontier, leaves, hi, None, None)
    if frontier.size != hi or frontier.root() != bytes.fromhex(tree["root"]):
        problems.append(f"the recomputed root at {hi} differs from the manifest's")
    elif not merkle.verify_consistency(
        hi, cp.size, frontier.root(), cp.root, _hashes(tree["consistency"])
    ):
        problems.append(f"the root at {hi} is not consistent with the signed checkpoint")
    if rows != manifest["auditRows"]:
        problems.append("audit row count differs from the manifest")
    return problems


def _advance(
    frontier: Frontier, leaves: Iterator[dict[str, Any]], position: int,
    entry_id: int | None, leaf: bytes | None,
) -> list[str]:  # fmt: skip
    """Fold the leaves before ``position`` (other months' entries) onto the frontier, then
    the row's own leaf, which the leaves file must hold at ``position``."""
    while frontier.size < position:
        other = next(leaves, None)
        if other is None or int(other["position"]) != frontier.size or other["in_bundle"]:
            return [f"tree leaf {frontier.size} is missing or out of order"]
        frontier.append(bytes.fromhex(other["leaf_hash"]))
    if leaf is None:
        return [] if next(leaves, None) is None else [f"tree leaves beyond {position}"]
    own = next(leaves, None)
    if (
        own is None
        or int(own["position"]) != position
        or own["entry_id"] != entry_id
        or bytes.fromhex(own["leaf_hash"]) != leaf
    ):
        return [f"tree leaf {position} does not hold audit entry {entry_id}"]
    frontier.append(leaf)
    return []


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {c: row[c] for c in AUDIT_COLUMNS[2:]}
    out["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
    return out
