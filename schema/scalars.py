"""Custom scalars and the shared Money type."""

from __future__ import annotations

import strawberry

from app.core.money import format_amount


@strawberry.type(description="An amount of money: a decimal string in the currency's units.")
class Money:
    amount: str
    currency: str

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(amount=format_amount(minor, currency), currency=currency)
