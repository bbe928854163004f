"""The fraud ledger extension: a withdrawal refused while a rule or a case decision holds
the player's withdrawals for review. One column in LOAD (a primary-key read of
``fraud_flags``), no extra round trip; scoring itself stays downstream (consumer.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.fraud.errors import WithdrawalsOnHold
from app.ledger.hooks import ExtensionBase
from app.ledger.operation import Operation
from app.ledger.repository import LoadParts

NAME = "fraud"


class FraudExtension(ExtensionBase):
    name = NAME
    load_parts = LoadParts(
        columns=",\n       COALESCE((SELECT hold_withdrawals FROM fraud_flags"
        " WHERE player_id = $5), false) AS fraud_hold_withdrawals"
    )

    batch_load_parts = LoadParts(
        columns=",\n       COALESCE((SELECT hold_withdrawals FROM fraud_flags"
        " WHERE player_id = q.id), false) AS fraud_hold_withdrawals"
    )

    def loaded(self, row: Mapping[str, Any]) -> bool:
        return bool(row["fraud_hold_withdrawals"])

    def withdrawing(self, op: Operation, currency: str) -> None:
        if op.loaded.extensions.get(NAME):
            raise WithdrawalsOnHold("withdrawals are held for a fraud review")
