"""The bundle format: canonical files, formula-safe CSV, manifest hashes, detached signature."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import bundles
from app.exports import cursor
from app.exports.cursor import ExportKind
from app.exports.errors import ExportCursorKindMismatch, InvalidExportCursor


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("-12.50", "-12.50"),  # an amount is data
        (-1250, "-1250"),
        ("plain", "plain"),
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(value, cell):
    assert bundles.csv_cell(value) == cell


def _bundle(tmp_path, key):
    writer = bundles.DatasetWriter(tmp_path, "people", ("id", "name"))
    writer.write({"id": 1, "name": "=cmd|' /C calc'!A0"})
    writer.write({"id": 2, "name": "Zoë"})
    files = writer.close()
    bundles.seal_bundle(tmp_path, "test", "k1", key, files, cursor={"since": "a", "until": "b"})
    return files


def test_a_bundle_has_both_files_a_manifest_and_a_verifying_signature(tmp_path):
    key = Ed25519PrivateKey.generate()
    files = _bundle(tmp_path, key)
    assert (tmp_path / "people.csv").read_text() == "id,name\n1,'=cmd|' /C calc'!A0\n2,Zoë\n"
    assert (tmp_path / "people.jsonl").read_text(encoding="utf-8").splitlines() == [
        '{"id":1,"name":"=cmd|\' /C calc\'!A0"}',
        '{"id":2,"name":"Zoë"}',
    ]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["files"] == [f.as_dict() for f in files]
    assert [f["rows"] for f in manifest["files"]] == [2, 2]
    assert manifest["cursor"] == {"since": "a", "until": "b"}
    assert bundles.verify_bundle(tmp_path, key.public_key()) == []
    assert not list(tmp_path.glob("*.partial"))


def test_a_changed_file_or_manifest_or_another_key_fails_verification(tmp_path):
    key = Ed25519PrivateKey.generate()
    _bundle(tmp_path, key)
    assert bundles.verify_bundle(tmp_path, Ed25519PrivateKey.generate().public_key()) == [
        "the manifest signature does not verify"
    ]
    (tmp_path / "people.csv").write_text("id,name\n1,x\n2,y\n")
    assert bundles.verify_bundle(tmp_path, key.public_key()) == [
        "people.csv: SHA-256 does not match the manifest"
    ]
    (tmp_path / "people.csv").write_text("id,name\n1,x\n")  # a row removed
    assert bundles.verify_bundle(tmp_path, key.public_key()) == [
        "people.csv: SHA-256 does not match the manifest",
        "people.csv: 1 rows, the manifest says 2",
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"rows":2', '"rows":3', 1))
    assert bundles.verify_bundle(tmp_path, key.public_key()) == [
        "the manifest signature does not verify"
    ]


def test_the_same_rows_and_key_give_byte_identical_bundles(tmp_path):
    key = Ed25519PrivateKey.generate()
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    _bundle(first, key)
    _bundle(second, key)
    for name in ("people.csv", "people.jsonl", "manifest.json", "manifest.json.sig"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_an_aborted_dataset_leaves_no_file(tmp_path):
    writer = bundles.DatasetWriter(tmp_path, "people", ("id",))
    writer.write({"id": 1})
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_cursors_name_their_kind():
    assert str(cursor.parse("erp:v1:42", ExportKind.ERP)) == "erp:v1:42"
    assert cursor.parse(None, ExportKind.CRM).position == 0
    with pytest.raises(ExportCursorKindMismatch):
        cursor.parse("erp:v1:42", ExportKind.CRM)
    too_big = "crm:v1:" + "9" * 20
    for bad in ("42", "crm:v2:1", "crm:v1:-1", "crm:v1:01", "ftp:v1:1", too_big):
        with pytest.raises(InvalidExportCursor):
            cursor.parse(bad, ExportKind.CRM)


_CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(), st.lists(st.text(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(_CELLS, _CELLS, _CELLS), min_size=1, max_size=5))
def test_batched_rows_are_spelled_as_the_canonical_json_and_csv_of_each_row(rows):
    """``write_rows`` (the export's fast path) writes exactly the bytes of one
    ``canonical_json`` object and one csv.writer line per row, formulas escaped."""
    columns = ("zeta", "alpha", "mid")  # not sorted: the JSON keys are
    with tempfile.TemporaryDirectory() as tmp:
        writer = bundles.DatasetWriter(Path(tmp), "d", columns)
        writer.write_rows(rows)
        writer.close()
        jsonl = (Path(tmp) / "d.jsonl").read_bytes().decode()
        written_csv = (Path(tmp) / "d.csv").read_bytes().decode()
    expected = "".join(bundles.canonical_json(dict(zip(columns, r, strict=True))) + "\n"
                       for r in rows)  # fmt: skip
    assert jsonl == expected
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(columns)
    out.writerows([bundles.csv_cell(v) for v in r] for r in rows)
    assert written_csv == buffer.getvalue()
