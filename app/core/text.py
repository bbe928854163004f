"""What no string may carry into PMS, checked at the edge (schema/input_guard.py for
GraphQL, resolvers/rest/params.py for REST) and by the PCI scope test: NUL and lone
surrogates anywhere (PostgreSQL text cannot hold NUL, UTF-8 cannot encode a lone
surrogate), and in free text a card number (PMS is out of PCI DSS scope: payment tokens
only, never a PAN)."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Python keeps a correctly paired surrogate (JSON "\ud83d\ude00") as one astral character,
# so any surrogate code point left in a str is a lone one.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")

# A card number as people and systems write it: 13-19 digits, optionally grouped by
# spaces, dots, dashes, slashes or underscores, anywhere in the text, prefixes included:
# "4111 1111 1111 1111", "4111.1111.1111.1111", "psp-4111111111111111", "ref4111...".
# Within a longer grouped run every stretch of whole groups holding 13-19 digits is tried
# ("order 12 4111 1111 1111 1111" still has one); an unbroken run of more than 19 digits
# is some other number, not a card.
_GROUPED_RUN = re.compile(r"[0-9]+(?:[ .\-/_][0-9]+)*")
_SEPARATORS = re.compile(r"[ .\-/_]")
# A UUID (the usual payment-provider reference or idempotency key) is hex, not a card
# number spelled with dashes: its digit groups ("...f29653-2750-4223-96b8...") chain into
# 13-19 digit stretches, one in ten of them Luhn-valid: one random UUID in about 380
# (measured over 20,000) was refused as a card. Blanked before the scan.
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
    r"[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
PAN_MIN_DIGITS = 13
PAN_MAX_DIGITS = 19


def forbidden_character(text: str) -> str | None:
    """A description of the first character no input may hold, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    return (
        "must not contain NUL" if found.group() == "\x00" else "must not contain a lone surrogate"
    )


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _candidates(text: str) -> Iterator[str]:
    for match in _GROUPED_RUN.finditer(_UUID.sub(" ", text)):
        groups = _SEPARATORS.split(match.group())
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > PAN_MAX_DIGITS:
                    break
                if len(digits) >= PAN_MIN_DIGITS:
                    yield digits


def card_numbers(text: str) -> list[str]:
    """The Luhn-valid 13-19 digit numbers in ``text`` (digits only)."""
    return [digits for digits in _candidates(text) if luhn_ok(digits)]


def looks_like_pan(text: str) -> bool:
    """True if ``text`` holds a Luhn-valid 13-19 digit number in any common spelling."""
    return any(luhn_ok(digits) for digits in _candidates(text))
