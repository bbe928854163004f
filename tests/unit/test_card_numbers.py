"""The card-number check of free text and payment references (app/core/text.py): every
common spelling of a PAN is found, and UUID references are never taken for one."""

from __future__ import annotations

import random
import uuid

import pytest

from app.core.text import card_numbers, looks_like_pan

PAN = "4111111111111111"


@pytest.mark.parametrize("text", [
    PAN, "4111 1111 1111 1111", "4111-1111-1111-1111", "4111.1111.1111.1111",
    f"psp-{PAN}", f"ref{PAN}", "order 12 4111 1111 1111 1111",
    f"psp-{uuid.UUID(int=7)} card {PAN}",  # a PAN beside a UUID is still found
])  # fmt: skip
def test_card_numbers_are_found_in_every_common_spelling(text):
    assert looks_like_pan(text)
    assert PAN in card_numbers(text)


def test_uuid_references_are_never_taken_for_card_numbers():
    rng = random.Random(20261201)
    references = [f"psp-{uuid.UUID(int=rng.getrandbits(128), version=4)}" for _ in range(5000)]
    # A UUID whose digit groups chain into a Luhn-valid stretch (found once refused).
    references.append("psp-ebf29653-2750-4223-96b8-4f69b1fb2eda")
    assert [r for r in references if looks_like_pan(r)] == []


def test_a_hex_string_longer_than_a_uuid_is_scanned_as_text():
    assert looks_like_pan(f"x{PAN}-aaaa-bbbb-cccc-dddddddddddd")
