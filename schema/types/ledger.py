"""Ledger types: operation results (rendered from the stored result document, so a
replay is byte-identical), ledger rows, the reconciliation report and typed errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from app.core.errors import DomainError
from app.kyc import errors as kyc_errors
from app.ledger import errors as ledger_errors
from app.ledger.models import LedgerTransfer
from app.ledger.reconcile import Report
from schema.errors import Forbidden, NotFound, UserError, ValidationError
from schema.scalars import Money
from schema.types.balances import WalletBalance


@strawberry.type(description="One posted transfer of an operation (signed, wallet side).")
class TransferLine:
    kind: str
    wallet_kind: str
    amount: Money


@strawberry.type(description="Money an operation moved from available to held, per wallet.")
class HoldLine:
    wallet_kind: str
    amount: Money


@strawberry.type(description="A money operation that took effect.")
class WalletOperation:
    operation: str
    operation_id: strawberry.ID
    player_id: strawberry.ID
    reservation_id: strawberry.ID | None
    game_round_id: str | None
    transfers: list[TransferLine]
    holds: list[HoldLine]
    wallets: list[WalletBalance]

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> WalletOperation:
        def money(line: dict[str, str]) -> Money:
            return Money(amount=line["amount"], currency=line["currency"])

        return cls(
            operation=doc["operation"],
            operation_id=strawberry.ID(doc["operationId"]),
            player_id=strawberry.ID(doc["playerId"]),
            reservation_id=strawberry.ID(doc["reservationId"])
            if doc.get("reservationId")
            else None,
            game_round_id=doc.get("gameRoundId"),
            transfers=[
                TransferLine(kind=t["kind"], wallet_kind=t["walletKind"], amount=money(t))
                for t in doc["transfers"]
            ],
            holds=[HoldLine(wallet_kind=h["walletKind"], amount=money(h)) for h in doc["holds"]],
            wallets=[WalletBalance.from_doc(w) for w in doc["wallets"]],
        )


@strawberry.type(description="Not enough available funds; stored with the idempotency key.")
class InsufficientFunds(UserError):
    wallets: list[WalletBalance]


def _error_type(name: str, description: str) -> type:
    cls = type(name, (UserError,), {"__annotations__": {}})
    return strawberry.type(cls, name=name, description=description)


IdempotencyKeyReused = _error_type(
    "IdempotencyKeyReused", "The key was used before with different input; nothing changed."
)
RequestInProgress = _error_type(
    "RequestInProgress", "A request with this key is still running; retry with the same key."
)
ReservationNotFound = _error_type(
    "ReservationNotFound", "No such reservation (or withdrawal) for this player."
)
HoldNotPending = _error_type(
    "HoldNotPending", "The hold or round is expired or already final; nothing changed."
)
RoundNotFound = _error_type("RoundNotFound", "No such game round for this player.")
AccountBlocked = _error_type("AccountBlocked", "The player may not start new debits.")
CurrencyMismatch = _error_type("CurrencyMismatch", "The wallet holds another currency.")
DuplicateTransaction = _error_type(
    "DuplicateTransaction", "This game transaction id was used before (or rolled back)."
)
MaxBetExceeded = _error_type(
    "MaxBetExceeded", "The stake is above the maximum bet of an active bonus; nothing held."
)


@strawberry.type(description="The player must be KYC-verified first (withdrawals).")
class VerificationRequired(UserError):
    pass


_BY_CODE: dict[str, Any] = {
    kyc_errors.VerificationRequired.code: VerificationRequired,
    ledger_errors.IdempotencyKeyReused.code: IdempotencyKeyReused,
    ledger_errors.RequestInProgress.code: RequestInProgress,
    ledger_errors.ReservationNotFound.code: ReservationNotFound,
    ledger_errors.HoldNotPending.code: HoldNotPending,
    ledger_errors.RoundNotFound.code: RoundNotFound,
    ledger_errors.AccountBlocked.code: AccountBlocked,
    ledger_errors.CurrencyMismatch.code: CurrencyMismatch,
    ledger_errors.DuplicateTransaction.code: DuplicateTransaction,
    "MAX_BET_EXCEEDED": MaxBetExceeded,  # app.bonuses.errors.MaxBetExceeded (reserveBet)
}

WalletOperationResult = (
    WalletOperation
    | InsufficientFunds
    | IdempotencyKeyReused  # type: ignore[operator]
    | RequestInProgress
    | ReservationNotFound
    | HoldNotPending
    | RoundNotFound
    | AccountBlocked
    | CurrencyMismatch
    | DuplicateTransaction
    | MaxBetExceeded
    | ValidationError
    | NotFound
    | VerificationRequired
    | Forbidden
)


def result_union(name: str) -> Any:
    return Annotated[WalletOperationResult, strawberry.union(name)]


def from_document(doc: dict[str, Any]) -> Any:
    if doc["status"] == "OK":
        return WalletOperation.from_doc(doc)
    assert doc["status"] == ledger_errors.InsufficientFunds.code
    return InsufficientFunds(
        code=doc["code"],
        message=doc["message"],
        wallets=[WalletBalance.from_doc(w) for w in doc["wallets"]],
    )


def from_error(exc: DomainError) -> Any:
    from app.core import errors

    if isinstance(exc, errors.ValidationFailed):
        return ValidationError.from_domain(exc)
    if isinstance(exc, errors.NotFound):
        return NotFound.from_domain(exc)
    error_type = _BY_CODE.get(exc.code)
    if error_type is None:
        raise exc
    return error_type(code=exc.code, message=exc.message)


@strawberry.type(description="One ledger row: a balance change of a wallet.")
class LedgerEntry:
    id: strawberry.ID
    operation_id: strawberry.ID
    kind: str
    wallet_kind: str
    house_account: str
    amount: Money
    balance_after: Money
    reference: str | None
    idempotency_key: str | None
    actor: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: LedgerTransfer, wallet_kind: str) -> LedgerEntry:
        assert row.id is not None and row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            operation_id=strawberry.ID(str(row.operation_id)),
            kind=row.kind,
            wallet_kind=wallet_kind,
            house_account=row.house_account,
            amount=Money.of(row.amount, row.currency),
            balance_after=Money.of(row.balance_after, row.currency),
            reference=row.reference,
            idempotency_key=row.idempotency_key,
            actor=row.actor,
            created_at=row.created_at,
        )


@strawberry.type
class LedgerMismatch:
    kind: str
    account: str
    currency: str
    expected: str = strawberry.field(description="Minor units, as a string (64-bit).")
    actual: str


@strawberry.type(description="Every account recomputed from the ledger.")
class LedgerVerification:
    ok: bool
    wallets_checked: int
    transfers_checked: int
    currencies_checked: int
    mismatches: list[LedgerMismatch]

    @classmethod
    def from_report(cls, report: Report) -> LedgerVerification:
        return cls(
            ok=report.ok,
            wallets_checked=report.wallets_checked,
            transfers_checked=report.transfers_checked,
            currencies_checked=report.currencies_checked,
            mismatches=[
                LedgerMismatch(kind=m.kind, account=m.account, currency=m.currency,
                               expected=str(m.expected), actual=str(m.actual))
                for m in report.mismatches
            ],
        )  # fmt: skip
