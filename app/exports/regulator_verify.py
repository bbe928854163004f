"""Checks of a regulator bundle beyond the shared ones (hashes, row counts, the manifest
signature: app/core/bundles.py): the audit checkpoint notes verify against the audit log's
published keys, every audit entry re-encoded (RFC 8785) hashes to a leaf whose inclusion
proof reaches the checkpoint's root, and the earlier checkpoint is a prefix of it.

Pure file work with the keys handed in: a regulator can run it away from our database."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import checkpoints, merkle, note
from app.audit.canonical import entry_leaf_hash
from app.audit.errors import InvalidCheckpoint, UnknownSigningKey
from app.core import bundles
from app.exports import signing
from app.exports.regulator import KIND, entry_from_row

AuditKeys = dict[tuple[str, bytes], bytes]


ExportKeys = Callable[[str], Ed25519PublicKey | None]


async def verify_directory(session: AsyncSession, directory: Path) -> list[str]:
    """Every problem of the bundle in ``directory`` (empty: it holds), with the export and
    audit public keys in this system's database."""
    manifest = _manifest(directory)
    if isinstance(manifest, str):
        return [manifest]
    key = await signing.public_key(session, str(manifest["keyId"]))
    return verify_with_keys(directory, lambda _kid: key, await checkpoints.key_map(session))


def verify_with_keys(directory: Path, export_keys: ExportKeys, audit_keys: AuditKeys) -> list[str]:
    """As ``verify_directory``, with the keys handed in (offline: the published keys)."""
    manifest = _manifest(directory)
    if isinstance(manifest, str):
        return [manifest]
    kid = str(manifest["keyId"])
    key = export_keys(kid)
    if key is None:
        return [f"unknown signing key {kid}"]
    problems = bundles.verify_bundle(directory, key)
    if not problems and manifest.get("kind") == KIND:
        # Only a manifest whose signature held is trusted to say where the proofs are.
        problems = verify_regulator(directory, manifest, audit_keys)
    return problems


def _manifest(directory: Path) -> dict[str, Any] | str:
    try:
        manifest = bundles.read_manifest(directory)
        str(manifest["keyId"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest: {exc}"
    return manifest


def published_keys(export_doc: dict[str, Any], audit_doc: dict[str, Any]) -> tuple[
    dict[str, Ed25519PublicKey], AuditKeys
]:  # fmt: skip
    """The documents of /.well-known/pms-export-keys and /.well-known/pms-audit-keys."""
    export = {
        k["keyId"]: Ed25519PublicKey.from_public_bytes(base64.b64decode(k["publicKey"]))
        for k in export_doc["keys"]
    }
    audit = {
        (k["name"], bytes.fromhex(k["keyId"])): base64.b64decode(k["publicKey"])
        for k in audit_doc["keys"]
    }
    return export, audit


def verify_regulator(directory: Path, manifest: dict[str, Any], keys: AuditKeys) -> list[str]:
    """Problems found in the audit part (empty: every entry is proven in the log)."""
    part = manifest.get("audit")
    if part is None:
        entries = directory / "audit_entries.jsonl"
        if entries.is_file() and entries.stat().st_size:
            return ["audit entries without a checkpoint to prove them"]
        return []
    problems: list[str] = []
    signed = _checkpoint(directory / part["checkpoint"], keys, problems)
    if signed is None:
        return problems
    cp = signed.checkpoint
    if (cp.size, base64.b64encode(cp.root).decode()) != (part["treeSize"], part["rootHash"]):
        problems.append(f"{part['checkpoint']}: tree size or root differs from the manifest")
    try:
        problems += _entries(directory / "audit_entries.jsonl", cp.size, cp.root)
    except OSError as exc:
        problems.append(f"audit_entries.jsonl: unreadable ({exc})")
    if part.get("consistency"):
        problems += _consistency(directory, part["consistency"], cp, keys)
    return problems


def _checkpoint(path: Path, keys: AuditKeys, problems: list[str]) -> note.SignedCheckpoint | None:
    try:
        signed = note.parse(path.read_text(encoding="utf-8"))
        note.verify(signed, keys)
    except OSError as exc:
        problems.append(f"{path.name}: unreadable ({exc})")
        return None
    except (InvalidCheckpoint, UnknownSigningKey) as exc:
        problems.append(f"{path.name}: {exc.message}")
        return None
    return signed


def _entries(path: Path, size: int, root: bytes) -> list[str]:
    """Each entry's leaf rebuilt from its fields and proven against ``root``; positions
    strictly increasing (a duplicated or reordered entry is named)."""
    problems: list[str] = []
    last = -1
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            where = f"audit_entries.jsonl line {line_no}"
            try:
                row = json.loads(line)
                position = int(row["position"])
                leaf = entry_leaf_hash(entry_from_row(row))
                path_hashes = [base64.b64decode(h, validate=True)
                               for h in row["inclusionPath"].split()]  # fmt: skip
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                problems.append(f"{where}: unreadable entry ({exc})")
                continue
            if position <= last:
                problems.append(f"{where}: position {position} out of log order")
            last = max(last, position)
            if base64.b64encode(leaf).decode() != row.get("leafHash"):
                problems.append(
                    f"{where}: entry {row['entryId']} was edited (its fields do not hash "
                    "to its leaf)"
                )
            if not merkle.verify_inclusion(position, size, leaf, path_hashes, root):
                problems.append(
                    f"{where}: entry {row['entryId']} is not proven in the checkpoint "
                    f"(position {position}, tree size {size})"
                )
    return problems


def _consistency(
    directory: Path, part: dict[str, Any], current: note.Checkpoint, keys: AuditKeys
) -> list[str]:
    problems: list[str] = []
    earlier = _checkpoint(directory / part["checkpoint"], keys, problems)
    if earlier is None:
        return problems
    try:
        path = [base64.b64decode(h, validate=True) for h in part["path"]]
    except (ValueError, binascii.Error):
        return [f"{part['checkpoint']}: unreadable consistency proof"]
    first = earlier.checkpoint
    if first.size != part["treeSize"] or not merkle.verify_consistency(
        first.size, current.size, first.root, current.root, path
    ):
        problems.append(
            f"{part['checkpoint']}: the log of size {first.size} is not proven a prefix "
            f"of the checkpoint's log of size {current.size}"
        )
    return problems
