"""Signed file bundles: data files (JSONL + CSV) plus a manifest (files, row counts, SHA-256,
whatever range the producer declares) and a detached Ed25519 signature of the manifest.

Shared by every export that leaves the system (CRM/ERP exports, the regulator export), so a
receiver verifies all of them the same way. Output is deterministic: canonical JSON, fixed
column order, ``\\n`` line ends, no wall-clock time unless the producer puts one in; with
Ed25519 (deterministic signatures) the same data and key give byte-identical bundles.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
FORMAT = "pms-bundle/1"

# Spreadsheet formula triggers (OWASP CSV injection); tab and CR as well.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number (an amount such as -12.50) is data, not a formula: left as it is.
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept (the hashes depend on it)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def csv_cell(value: Any) -> str:
    """A CSV cell; a text cell a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


@dataclass(frozen=True)
class FileEntry:
    name: str
    rows: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


class _HashingFile:
    """A text file written to ``<name>.partial`` and renamed into place on close, hashing
    what it writes (a crash leaves no complete-looking file behind)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self._final = directory / name
        self._partial = directory / (name + ".partial")
        self._file: TextIO = self._partial.open("w", encoding="utf-8", newline="")
        self._hash = hashlib.sha256()
        self._bytes = 0
        self.rows = 0

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self._hash.update(data)
        self._bytes += len(data)
        self._file.write(text)

    def close(self) -> FileEntry:
        self._file.close()
        os.replace(self._partial, self._final)
        return FileEntry(self.name, self.rows, self._bytes, self._hash.hexdigest())

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class DatasetWriter:
    """One dataset written as ``<name>.jsonl`` and ``<name>.csv`` in one pass (streaming:
    memory stays constant whatever the row count)."""

    def __init__(self, directory: Path, name: str, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._jsonl = _HashingFile(directory, name + ".jsonl")
        self._csv = _HashingFile(directory, name + ".csv")
        self._line = io.StringIO()
        self._csv_writer = csv.writer(self._line, lineterminator="\n")
        self._csv_row(self.columns)

    def _csv_row(self, cells: Sequence[Any]) -> None:
        self._line.seek(0)
        self._line.truncate()
        self._csv_writer.writerow([csv_cell(c) for c in cells])
        self._csv.write(self._line.getvalue())

    def write(self, row: Mapping[str, Any]) -> None:
        values = [row[c] for c in self.columns]
        self._jsonl.write(canonical_json(dict(zip(self.columns, values, strict=True))) + "\n")
        self._csv_row(values)
        self._jsonl.rows += 1
        self._csv.rows += 1

    @property
    def rows(self) -> int:
        return self._jsonl.rows

    def close(self) -> list[FileEntry]:
        return [self._jsonl.close(), self._csv.close()]

    def abort(self) -> None:
        self._jsonl.abort()
        self._csv.abort()


def write_text_file(directory: Path, name: str, text: str, rows: int = 1) -> FileEntry:
    """A plain file of the bundle (a signed checkpoint note), listed in the manifest."""
    out = _HashingFile(directory, name)
    out.write(text)
    out.rows = rows
    return out.close()


def manifest_bytes(kind: str, key_id: str, files: Sequence[FileEntry], **fields: Any) -> bytes:
    body = {"format": FORMAT, "kind": kind, "keyId": key_id,
            "files": [f.as_dict() for f in files], **fields}  # fmt: skip
    return (canonical_json(body) + "\n").encode("utf-8")


def seal_bundle(
    directory: Path, kind: str, key_id: str, key: Ed25519PrivateKey,
    files: Sequence[FileEntry], **fields: Any,
) -> bytes:  # fmt: skip
    """Write the manifest and its detached signature (base64, one line); the manifest is
    written last but one, the signature last, so a signature marks a complete bundle."""
    manifest = manifest_bytes(kind, key_id, files, **fields)
    _write_atomic(directory / MANIFEST, manifest)
    signature = base64.b64encode(key.sign(manifest)) + b"\n"
    _write_atomic(directory / SIGNATURE, signature)
    return manifest


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def read_manifest(directory: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((directory / MANIFEST).read_bytes())
    return loaded


def verify_bundle(directory: Path, public_key: Ed25519PublicKey) -> list[str]:
    """Problems found (empty: the signature holds and every file matches its hash)."""
    try:
        manifest = (directory / MANIFEST).read_bytes()
        signature = base64.b64decode((directory / SIGNATURE).read_bytes().strip(), validate=True)
    except (OSError, ValueError) as exc:
        return [f"unreadable bundle: {exc}"]
    try:
        public_key.verify(signature, manifest)
    except InvalidSignature:
        return ["the manifest signature does not verify"]
    problems = []
    for entry in json.loads(manifest)["files"]:
        path = directory / entry["name"]
        if not path.is_file():
            problems.append(f"{entry['name']}: missing")
            continue
        if _sha256(path) != entry["sha256"]:
            problems.append(f"{entry['name']}: SHA-256 does not match the manifest")
        if (rows := count_rows(path)) is not None and rows != entry["rows"]:
            problems.append(f"{entry['name']}: {rows} rows, the manifest says {entry['rows']}")
    return problems


def count_rows(path: Path) -> int | None:
    """Data rows of a JSONL (lines) or CSV file (records after the header); None for
    other files. Streams the file."""
    if path.suffix == ".jsonl":
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return max(sum(1 for _ in csv.reader(f)) - 1, 0)
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
