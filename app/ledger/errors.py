"""Expected failures of the ledger, each with a stable ``code``."""

from __future__ import annotations

from app.core.errors import DomainError


class InsufficientFunds(DomainError):
    code = "INSUFFICIENT_FUNDS"


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"


class RequestInProgress(DomainError):
    code = "REQUEST_IN_PROGRESS"


class ReservationNotFound(DomainError):
    code = "RESERVATION_NOT_FOUND"


class HoldNotPending(DomainError):
    code = "HOLD_NOT_PENDING"


class RoundNotFound(DomainError):
    code = "ROUND_NOT_FOUND"


class AccountBlocked(DomainError):
    code = "ACCOUNT_BLOCKED"


class CurrencyMismatch(DomainError):
    code = "CURRENCY_MISMATCH"


class DuplicateTransaction(DomainError):
    code = "DUPLICATE_TRANSACTION"


class AmountTooLarge(DomainError):
    """Above the configured maximum per operation, or a balance would leave BIGINT."""

    code = "AMOUNT_TOO_LARGE"


# Business errors that are part of an operation's stored outcome: the idempotency record
# commits with them and a retry with the same key replays them. Every other error rolls
# the transaction back, so nothing at all is written.
STORED_ERRORS: dict[str, type[DomainError]] = {InsufficientFunds.code: InsufficientFunds}


class BatchNotApplied(DomainError):
    """An operation of an atomic batch that was rolled back because another one failed."""

    code = "BATCH_NOT_APPLIED"

    def __init__(self, failed_index: int) -> None:
        super().__init__(
            f"not applied: operation {failed_index} of this atomic batch failed; "
            "nothing of the batch was written (retry with the same keys)"
        )
        self.failed_index = failed_index
