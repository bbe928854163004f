"""Phone numbers: E.164 and actually assignable, per libphonenumber's metadata
(``+10000000`` has the E.164 shape but is no number anywhere)."""

from __future__ import annotations

import phonenumbers

MESSAGE = "must be a valid phone number in E.164 form, e.g. +4915112345678"


def is_phone_number(value: str) -> bool:
    """True for a valid number written in E.164 (``+`` country code, digits only)."""
    if not value.startswith("+") or not value[1:].isdigit() or len(value) > 16:
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(number) and e164 == value
