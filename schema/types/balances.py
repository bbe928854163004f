"""A wallet's amounts at one moment: shared by ledger results and live balance events."""

from __future__ import annotations

import strawberry

from schema.enums import WalletKindEnum
from schema.scalars import Money


@strawberry.type(description="A wallet's figures right after a committed change.")
class WalletBalance:
    kind: WalletKindEnum
    currency: str
    balance: Money
    held: Money
    available: Money

    @classmethod
    def from_doc(cls, doc: dict[str, str]) -> WalletBalance:
        """From the ``{kind, currency, balance, held, available}`` documents that ledger
        results and ``wallet.balance_changed`` events carry (amounts as decimal strings)."""
        currency = doc["currency"]
        return cls(
            kind=WalletKindEnum(doc["kind"]),
            currency=currency,
            balance=Money(amount=doc["balance"], currency=currency),
            held=Money(amount=doc["held"], currency=currency),
            available=Money(amount=doc["available"], currency=currency),
        )
