"""Anti-fraud refusals, each with a stable code."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidFraudRule(DomainError):
    """A rule names an unknown signal or action, or its threshold/weight is out of range."""

    code = "INVALID_FRAUD_RULE"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CaseNotOpen(DomainError):
    """The case was decided already: a decision is final."""

    code = "FRAUD_CASE_NOT_OPEN"


class WithdrawalsOnHold(DomainError):
    """A fraud rule or a case decision holds this player's withdrawals for review."""

    code = "WITHDRAWALS_ON_HOLD"
