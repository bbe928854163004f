"""Ledger types: operation results (rendered from the stored result document, so a
replay is byte-identical), ledger rows, the reconciliation report and typed errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from app.ledger import errors as ledger_errors
from app.ledger.models import LedgerTransfer
from app.ledger.reconcile import Report
from schema.context import Info
from schema.errors import UserError
from schema.inputs.ledger import LedgerFilter
from schema.loaders import LedgerPageKey, LedgerPages
from schema.pagination import Connection, check_page_size, decode_id_cursor, encode_cursor
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
    # The stored result document: the lists below are built only when selected (a game
    # engine asking for ``reservationId`` alone builds no Money objects, ~3 % of a money
    # request's CPU otherwise).
    doc: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def transfers(self) -> list[TransferLine]:
        return [
            TransferLine(kind=t["kind"], wallet_kind=t["walletKind"], amount=_money(t))
            for t in self.doc["transfers"]
        ]

    @strawberry.field
    def holds(self) -> list[HoldLine]:
        return [HoldLine(wallet_kind=h["walletKind"], amount=_money(h)) for h in self.doc["holds"]]

    @strawberry.field
    def wallets(self) -> list[WalletBalance]:
        return [WalletBalance.from_doc(w) for w in self.doc["wallets"]]

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> WalletOperation:
        reservation = doc.get("reservationId")
        return cls(
            operation=doc["operation"],
            operation_id=strawberry.ID(doc["operationId"]),
            player_id=strawberry.ID(doc["playerId"]),
            reservation_id=strawberry.ID(reservation) if reservation else None,
            game_round_id=doc.get("gameRoundId"),
            doc=doc,
        )


def _money(line: dict[str, str]) -> Money:
    return Money(amount=line["amount"], currency=line["currency"])


@strawberry.type(description="Not enough available funds; stored with the idempotency key.")
class InsufficientFunds(UserError):
    wallets: list[WalletBalance]


def _error_type(name: str, description: str) -> type:
    cls = type(name, (UserError,), {"__annotations__": {}})
    return strawberry.type(cls, name=name, description=description)


@strawberry.type(
    description="Not applied: another operation of this atomic batch failed, so nothing of "
    "the batch was written; retry with the same keys."
)
class BatchNotApplied(UserError):
    failed_index: int


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
AmountTooLarge = _error_type(
    "AmountTooLarge",
    "Above the maximum amount per operation, or a balance would exceed the largest amount; "
    "nothing changed.",
)
MaxBetExceeded = _error_type(
    "MaxBetExceeded", "The stake is above the maximum bet of an active bonus; nothing held."
)


@strawberry.type(description="The player must be KYC-verified first (withdrawals).")
class VerificationRequired(UserError):
    pass


def from_document(doc: dict[str, Any]) -> Any:
    if doc["status"] == "OK":
        return WalletOperation.from_doc(doc)
    assert doc["status"] == ledger_errors.InsufficientFunds.code
    return InsufficientFunds(
        code=doc["code"],
        message=doc["message"],
        wallets=[WalletBalance.from_doc(w) for w in doc["wallets"]],
    )


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


async def ledger_page(
    info: Info,
    flt: LedgerFilter | None,
    first: int,
    after: str | None,
    *,
    wallet_id: int | None = None,
    player_id: uuid.UUID | None = None,
) -> Connection[LedgerEntry]:
    """A page of ledger rows of one wallet or of all a player's wallets, newest first."""
    limit = check_page_size(first, info.context.settings.max_page_size)
    before = decode_id_cursor(after)
    key = LedgerPageKey((flt or LedgerFilter()).to_data(), limit, before, wallet_id, player_id)
    rows, has_next, total = await info.context.loaders.get(LedgerPages).load(key)
    return Connection[LedgerEntry].build(
        [(encode_cursor(row.id), LedgerEntry.from_row(row, kind)) for row, kind in rows],
        has_next=has_next,
        has_previous=before is not None,
        total=total,
    )
