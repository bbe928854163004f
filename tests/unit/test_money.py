"""Decimal strings <-> minor units."""

from __future__ import annotations

import pytest

from app.core.errors import ValidationFailed
from app.core.money import format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("10.50", "EUR", 1050), ("10.5", "EUR", 1050), ("10", "EUR", 1000), ("0.01", "EUR", 1),
     ("1000", "JPY", 1000), ("1.234", "KWD", 1234), ("25", "XFS", 25)],
)  # fmt: skip
def test_parse_valid_amounts(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("12.345", "EUR", "at most 2 decimal places"),
        ("1.5", "JPY", "at most 0 decimal places"),
        ("-5", "EUR", "greater than zero"),
        ("0", "EUR", "greater than zero"),
        ("0.00", "EUR", "greater than zero"),
        ("1e400", "EUR", "decimal number"),
        ("NaN", "EUR", "decimal number"),
        ("Infinity", "EUR", "decimal number"),
        (" 5", "EUR", "decimal number"),
        ("1,000.00", "EUR", "decimal number"),
        ("00.5", "EUR", "decimal number"),
        ("", "EUR", "decimal number"),
        ("9" * 19, "EUR", "decimal number"),
        ("92233720368547758.08", "EUR", "too large"),
    ],
)
def test_parse_rejects_bad_amounts(text, currency, message):
    with pytest.raises(ValidationFailed) as raised:
        parse_amount(text, currency)
    assert message in raised.value.problems[0].message


def test_parse_rejects_unknown_currency():
    with pytest.raises(ValidationFailed) as raised:
        parse_amount("1", "ABC")
    assert raised.value.problems[0].field == "currency"


def test_zero_allowed_only_when_asked():
    assert parse_amount("0", "EUR", allow_zero=True) == 0


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1050, "EUR", "10.50"), (1, "EUR", "0.01"), (0, "EUR", "0.00"), (-1050, "EUR", "-10.50"),
     (1000, "JPY", "1000"), (1234, "KWD", "1.234"), (2**63 - 1, "EUR", "92233720368547758.07")],
)  # fmt: skip
def test_format_amount(minor, currency, text):
    assert format_amount(minor, currency) == text


def test_parse_is_the_decimal_value_for_every_accepted_form():
    """The integer parse gives what Decimal(text).scaleb(exponent) gives, sign included."""
    from decimal import Decimal

    from app.core.money import parse_minor_units

    texts = ["0", "0.5", "0.05", "1", "1.0", "1.00", "10.5", "999999999999999999",
             "999999999999999999.99", "123456789012345678.1", "7.123", "-0", "-0.00",
             "-1.25"]  # fmt: skip
    for currency in ("EUR", "JPY", "KWD"):
        for text in texts:
            try:
                minor = parse_minor_units(text, currency, allow_zero=True)
            except ValidationFailed:
                minor = None
            expected = int(Decimal(text).scaleb({"EUR": 2, "JPY": 0, "KWD": 3}[currency]))
            places = len(text.partition(".")[2])
            fits = places <= {"EUR": 2, "JPY": 0, "KWD": 3}[currency] and expected >= 0
            assert minor == (expected if fits else None), (text, currency)
