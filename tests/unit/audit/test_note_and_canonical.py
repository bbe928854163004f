"""Checkpoint notes (C2SP signed-note) and the canonical entry encoding (RFC 8785)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit import canonical, note
from app.audit.errors import InvalidCheckpoint, UnknownSigningKey

WHEN = datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC)


def signed(name: str = "pms.example/audit") -> tuple[note.SignedCheckpoint, bytes]:
    key = Ed25519PrivateKey.generate()
    cp = note.Checkpoint("pms.example/audit", 42, hashlib.sha256(b"root").digest(), WHEN)
    return note.sign(cp, name, key), key.public_key().public_bytes_raw()


def test_note_text_is_the_c2sp_layout_and_round_trips():
    s, public = signed()
    text = s.text()
    body, signature = text.split("\n\n")
    assert body.split("\n") == [
        "pms.example/audit", "42", base64.b64encode(hashlib.sha256(b"root").digest()).decode(),
        "time 2026-12-01T09:30:00.123456Z",
    ]  # fmt: skip
    dash, name, blob = signature.rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    assert dash == "\u2014" and name == "pms.example/audit" and len(raw) == 68
    expected_hash = hashlib.sha256(b"pms.example/audit\n\x01" + public).digest()[:4]
    assert raw[:4] == expected_hash
    parsed = note.parse(text)
    assert parsed == s
    note.verify(parsed, {(name, expected_hash): public})
    assert note.verifier_key(name, public).startswith(f"{name}+{expected_hash.hex()}+")


def test_unknown_key_and_edited_note_are_refused():
    s, public = signed()
    with pytest.raises(UnknownSigningKey):
        note.verify(note.parse(s.text()), {})
    edited = s.text().replace("\n42\n", "\n43\n")
    with pytest.raises(InvalidCheckpoint):
        note.verify(note.parse(edited), {(s.key_name, s.key_id): public})
    with pytest.raises(InvalidCheckpoint):
        note.parse("not a note")


def row(**overrides):
    base = {
        "id": 7, "occurred_at": WHEN, "principal_kind": "staff", "actor": "staff:s-1",
        "action": "graphql.blockPlayer", "target": "p-1", "outcome": "success", "ip": "10.0.0.1",
        "request_id": "req-1", "user_agent": "curl/8", "details": {"b": 1, "a": [2, 1.5]},
    }  # fmt: skip
    return {**base, **overrides}


def test_canonical_form_is_jcs_with_sorted_keys_and_fixed_time():
    encoded = canonical.encode(row())
    assert encoded == (
        b'{"action":"graphql.blockPlayer","actor":"staff:s-1","details":{"a":[2,1.5],"b":1},'
        b'"id":7,"ip":"10.0.0.1","outcome":"success","principalKind":"staff",'
        b'"requestId":"req-1","resource":"p-1","time":"2026-12-01T09:30:00.123456Z",'
        b'"userAgent":"curl/8","v":1}'
    )
    assert canonical.encode(row(details={"a": [2, 1.5], "b": 1})) == encoded  # key order


def test_every_field_is_committed_and_huge_integers_still_encode():
    base = canonical.entry_leaf_hash(row())
    for field, value in [("actor", "staff:s-2"), ("outcome", "failure"), ("ip", None),
                         ("user_agent", "x"), ("details", {}), ("id", 8),
                         ("occurred_at", WHEN.replace(microsecond=0))]:  # fmt: skip
        assert canonical.entry_leaf_hash(row(**{field: value})) != base, field
    assert b'"n":"9007199254740993"' in canonical.encode(row(details={"n": 2**53 + 1}))


# The fast path must spell every document exactly as RFC 8785 does: the tree's leaves
# (and every signed root) depend on these bytes.
_text = st.text(st.characters(codec="utf-8"), max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60), _text)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(st.characters(codec="ascii")), _text), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(details=_json, target=_text, agent=st.one_of(st.none(), _text))
def test_the_fast_encoding_is_byte_identical_to_rfc8785(details, target, agent):
    doc_row = row(details={"d": details, "ctl": "\x00\x1f\x7f\u2028\U0001f600"}, target=target,
                  user_agent=agent)  # fmt: skip
    expected = rfc8785.dumps(canonical._safe(canonical.entry_document(doc_row)))
    assert canonical.encode(doc_row) == expected


def test_documents_the_fast_path_cannot_spell_go_through_rfc8785():
    for details in ({"a": 1.5}, {"\U0001f600": 1, "\uff01": 2}, {"n": [1e21]}):
        doc_row = row(details=details)
        assert not canonical._plain(canonical._safe(canonical.entry_document(doc_row)))
        expected = rfc8785.dumps(canonical._safe(canonical.entry_document(doc_row)))
        assert canonical.encode(doc_row) == expected
