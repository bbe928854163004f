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
import operator
import os
import re
from collections.abc import Callable, Mapping, Sequence
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
    """A CSV cell; a text cell a spreadsheet would run as a formula gets a leading quote.
    THE escaping rule of every CSV file we write (all go through ``DatasetWriter``)."""
    kind = type(value)
    if kind is int:
        return str(value)  # fast path: ids and amounts (a negative amount is a number)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    text = value if kind is str else str(value)
    if text[:1] in _FORMULA_CHARS and not _NUMBER.match(text):
        return "'" + text
    return text


_FORMULA_CHARS = frozenset(_FORMULA_START)


def _json_value(value: Any) -> str:
    """``canonical_json`` of one value; the scalar cases spelled as ``json.dumps`` spells
    them (the same C string encoder, ``int``/``float`` reprs), anything else through it."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return canonical_json(value)


_encode_str: Callable[[str], str] = json.encoder.encode_basestring


def _one(index: int) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    return lambda values: (values[index],)


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
    memory stays constant whatever the row count). ``write_rows`` takes a batch of value
    sequences in column order and writes each file once per batch; a JSONL line is the
    ``canonical_json`` of the row's object, byte for byte."""

    def __init__(self, directory: Path, name: str, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._jsonl = _HashingFile(directory, name + ".jsonl")
        self._csv = _HashingFile(directory, name + ".csv")
        self._buffer = io.StringIO()
        self._csv_writer = csv.writer(self._buffer, lineterminator="\n")
        # Keys in canonical (sorted) order, each with its spelled prefix.
        order = sorted(range(len(self.columns)), key=lambda i: self.columns[i])
        self._keys = [_encode_str(self.columns[i]) + ":" for i in order]
        self._sorted = operator.itemgetter(*order) if len(order) > 1 else _one(order[0])
        self._csv_writer.writerow([csv_cell(c) for c in self.columns])
        self._csv.write(self._take())

    def _take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text

    def _json_line(self, values: Sequence[Any]) -> str:
        spelled = map(_json_value, self._sorted(values))
        return "{" + ",".join(map(operator.add, self._keys, spelled)) + "}\n"

    def write(self, row: Mapping[str, Any]) -> None:
        self.write_rows([[row[c] for c in self.columns]])

    def write_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.write_rows([[row[c] for c in self.columns] for row in rows])

    def write_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        width = len(self.columns)
        if any(len(values) != width for values in rows):
            raise ValueError(f"every row has {width} values")
        self._jsonl.write("".join([self._json_line(values) for values in rows]))
        self._csv_writer.writerows([list(map(csv_cell, values)) for values in rows])
        self._csv.write(self._take())
        self._jsonl.rows += len(rows)
        self._csv.rows += len(rows)

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
