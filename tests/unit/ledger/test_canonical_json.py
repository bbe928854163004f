"""canonical_json (orjson) writes the standard library's canonical text: stored outcomes,
events and audit details keep their exact form, and request hashes never change."""

from __future__ import annotations

import json

from app.ledger.operation import canonical_json, request_hash


def stdlib(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_every_character_is_written_as_the_standard_library_writes_it():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(chars), 4096):
        chunk = chars[start : start + 4096]
        value = {c: c + "x" for c in chunk}  # keys sorted by code point, values escaped alike
        assert canonical_json(value) == stdlib(value)


def test_nested_documents_and_the_64_bit_range_match():
    doc = {"b": [1, -(2**63), 2**63 - 1, None, True, False, "é\u2028\n\"\\"],
           "a": {"z": 1, "y": {"é": 2, "e": 3, "E": 4}}, "": [], "w": [{}, [[]]]}  # fmt: skip
    assert canonical_json(doc) == stdlib(doc)


def test_what_orjson_refuses_falls_back_to_the_standard_library():
    doc = {"big": 2**80, "neg": -(2**70)}
    assert canonical_json(doc) == stdlib(doc)
    assert canonical_json({1: "a"}) == stdlib({1: "a"})


def test_request_hash_is_the_sha256_of_the_standard_librarys_text():
    import hashlib

    request = {"playerId": "p", "amount": 100, "ratio": 1e16, "currency": "EUR"}
    expected = hashlib.sha256(stdlib(["deposit", request]).encode()).hexdigest()
    assert request_hash("deposit", request) == expected
