"""Input checks of the ledger that are not about amounts (app/core/money.py does those)."""

from __future__ import annotations

import re

from app.core.errors import ValidationFailed

MAX_KEY_LENGTH = 128
_DIGIT_RUN = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-]?\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_pan(text: str) -> bool:
    """True if ``text`` holds a 13-19 digit run (spaces/dashes allowed) passing Luhn:
    card numbers must never reach PMS, only the payment service's tokens."""
    runs = (re.sub(r"[ -]", "", m.group()) for m in _DIGIT_RUN.finditer(text))
    return any(luhn_ok(digits) for digits in runs)


def check_text(field: str, value: str | None, *, required: bool = True, max_len: int = 128) -> None:
    if value is None or value == "":
        if required:
            raise ValidationFailed.single(field, "is required")
        return
    if len(value) > max_len:
        raise ValidationFailed.single(field, f"must be at most {max_len} characters")
    if not value.isprintable():
        raise ValidationFailed.single(field, "must be printable text")


def check_idempotency_key(key: str) -> None:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValidationFailed.single("idempotencyKey", f"must be 1 to {MAX_KEY_LENGTH} characters")


def check_payment_reference(field: str, value: str | None, *, required: bool) -> None:
    check_text(field, value, required=required)
    if value and looks_like_pan(value):
        raise ValidationFailed.single(field, "looks like a card number; send a payment token")
