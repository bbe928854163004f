"""Input checks of the ledger that are not about amounts (app/core/money.py does those)."""

from __future__ import annotations

from app.core.errors import ValidationFailed
from app.core.text import looks_like_pan

MAX_KEY_LENGTH = 128


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
