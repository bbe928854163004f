"""Decimal strings on the API <-> integer minor units inside PMS. No float ever touches money."""

from __future__ import annotations

import re

from app.core.currencies import CURRENCY_EXPONENTS, exponent
from app.core.errors import ValidationFailed

# Plain decimal notation only: no exponent ("1e400"), no sign other than a leading "-",
# no thousands separators, no whitespace. Bounded length keeps hostile input cheap.
_AMOUNT = re.compile(r"^-?(?:0|[1-9][0-9]{0,17})(?:\.([0-9]{1,18}))?$")
MAX_MINOR_UNITS = 2**63 - 1


def parse_amount(
    text: str, currency: str, *, field: str = "amount", allow_zero: bool = False
) -> int:
    """Parse a positive decimal string into minor units of ``currency``.

    Raises ValidationFailed for non-numeric input, negative (or zero, unless allowed)
    amounts, more decimal places than the currency's exponent, or out-of-range values.
    """
    minor = parse_minor_units(text, currency, field=field, allow_zero=allow_zero)
    if minor > MAX_MINOR_UNITS:
        raise ValidationFailed.single(field, "is too large")
    return minor


def parse_minor_units(
    text: str, currency: str, *, field: str = "amount", allow_zero: bool = False
) -> int:
    """``parse_amount`` without the upper bound, for callers that answer a too large
    amount with their own typed error (the ledger's AmountTooLarge). The format bounds
    the value (18 integer digits), so it stays cheap."""
    if currency not in CURRENCY_EXPONENTS:
        raise ValidationFailed.single("currency", f"unsupported currency {currency!r}")
    match = _AMOUNT.match(text) if isinstance(text, str) and len(text) <= 40 else None
    if match is None:
        raise ValidationFailed.single(field, "must be a decimal number such as 10.50")
    places: str = match.group(1) or ""
    if len(places) > exponent(currency):
        raise ValidationFailed.single(
            field, f"{currency} allows at most {exponent(currency)} decimal places"
        )
    # Integer arithmetic on the matched digits (no Decimal per amount): the format has
    # already bounded them and the places fit the exponent, so this is exact.
    places_n = exponent(currency)
    magnitude: int = abs(int(text.partition(".")[0])) * 10**places_n
    if places:
        magnitude += int(places.ljust(places_n, "0"))
    minor = -magnitude if text[0] == "-" else magnitude
    if minor < 0 or (minor == 0 and not allow_zero):
        raise ValidationFailed.single(field, "must be greater than zero")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Minor units as a decimal string with exactly the currency's number of places."""
    places = exponent(currency)
    if places == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"
