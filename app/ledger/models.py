"""Ledger tables.

Every balance change is a transfer between a player wallet (``wallets``) and a house
account of the same currency (``house_accounts``). ``amount`` is signed from the wallet's
side: > 0 credits the wallet and debits the house account, < 0 the reverse, so each row is
a balanced two-legged entry and every currency sums to zero by construction. Player
balances are stored on the wallet row (and equal the sum of its transfers); house
balances are derived from the transfers: a stored house balance would be one row every
transaction of a currency has to lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import (
    bigint_pk_column,
    created_at_column,
    enum_check,
    partition_key_column,
    updated_at_column,
)


class HouseAccountKind(StrEnum):
    CASH_CLEARING = "CASH_CLEARING"
    GAME = "GAME"
    BONUS_LIABILITY = "BONUS_LIABILITY"
    FEES = "FEES"


class TransferKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    BET = "BET"
    WIN = "WIN"
    BET_REFUND = "BET_REFUND"
    WIN_REVERSAL = "WIN_REVERSAL"
    FEE = "FEE"
    ADJUSTMENT = "ADJUSTMENT"
    FREESPINS_GRANT = "FREESPINS_GRANT"
    FREESPINS_CONSUME = "FREESPINS_CONSUME"
    TOURNAMENT_CREDIT = "TOURNAMENT_CREDIT"
    TOURNAMENT_DEBIT = "TOURNAMENT_DEBIT"
    BONUS_AWARD = "BONUS_AWARD"
    BONUS_CONVERSION = "BONUS_CONVERSION"
    BONUS_FORFEIT = "BONUS_FORFEIT"


class HoldPurpose(StrEnum):
    BET = "BET"
    WITHDRAWAL = "WITHDRAWAL"


class HoldStatus(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    VOIDED = "VOIDED"
    EXPIRED = "EXPIRED"
    ROLLED_BACK = "ROLLED_BACK"


class RoundStatus(StrEnum):
    OPEN = "OPEN"
    SETTLED = "SETTLED"
    ROLLED_BACK = "ROLLED_BACK"


class GameTransactionKind(StrEnum):
    BET = "BET"
    WIN = "WIN"
    ROUND_ROLLBACK = "ROUND_ROLLBACK"
    # A rollback arrived for a bet never seen: the bet, should it come later, is refused.
    TOMBSTONE = "TOMBSTONE"


class HouseAccount(SQLModel, table=True):
    """A house account, created lazily (INSERT ... ON CONFLICT DO NOTHING) per currency."""

    __tablename__ = "house_accounts"
    __table_args__ = (
        PrimaryKeyConstraint("currency", "kind"),
        enum_check("kind", HouseAccountKind),
    )

    currency: str = Field(sa_column=Column(String(3), nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class LedgerTransfer(SQLModel, table=True):
    """One append-only balanced entry: wallet <-> house account (see module docstring)."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        enum_check("kind", TransferKind),
        enum_check("house_account", HouseAccountKind),
        Index("ix_ledger_transfers_wallet_id_id", "wallet_id", "id"),
        Index("ix_ledger_transfers_player_id_id", "player_id", "id"),
        # One key for both (migration 0025): the wallet exists and belongs to the player.
        ForeignKeyConstraint(
            ["wallet_id", "player_id"],
            ["wallets.id", "wallets.player_id"],
            name="fk_ledger_transfers_wallet_id_player_id_wallets",
            ondelete="RESTRICT",
        ),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    operation_id: uuid.UUID = Field(nullable=False)
    player_id: uuid.UUID = Field(nullable=False)
    wallet_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    house_account: str = Field(sa_column=Column(String(24), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    balance_after: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(128)))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(128)))
    actor: str = Field(sa_column=Column(String(160), nullable=False))
    # Monthly partitions (migration 0015): the key must be part of the primary key.
    created_at: datetime | None = Field(default=None, sa_column=partition_key_column())


class LedgerCarryForward(SQLModel, table=True):
    """What archived (purged) months of transfers summed to, per wallet and house account:
    the opening balance at the cut, so balance = carried + remaining transfers still holds."""

    __tablename__ = "ledger_carry_forward"
    __table_args__ = (PrimaryKeyConstraint("wallet_id", "house_account"),)

    wallet_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("wallets.id", ondelete="RESTRICT"), nullable=False)
    )
    house_account: str = Field(sa_column=Column(String(24), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    transfers: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Every transfer before this time is archived and summed here.
    through: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def _counter() -> Column[Any]:
    return Column(BigInteger, nullable=False, server_default="0")


class GameRound(SQLModel, table=True):
    __tablename__ = "game_rounds"
    __table_args__ = (
        UniqueConstraint("client", "round_ref"),
        enum_check("status", RoundStatus),
        Index("ix_game_rounds_player_id", "player_id"),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    client: str = Field(sa_column=Column(String(160), nullable=False))
    round_ref: str = Field(sa_column=Column(String(128), nullable=False))
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="RESTRICT"), nullable=False)
    )
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    status: str = Field(
        default=RoundStatus.OPEN,
        sa_column=Column(String(16), nullable=False, server_default=RoundStatus.OPEN.value),
    )
    stake_real: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    stake_bonus: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    win_real: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    win_bonus: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    # What the settlement added to derived state: {"wagering": {bonus id: minor units},
    # "points": loyalty points}; a rollback of the round takes exactly this back.
    derived: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class LedgerHold(SQLModel, table=True):
    """A pending transfer: money moved from available to held until posted or voided."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint(
            "real_amount >= 0 AND bonus_amount >= 0 AND real_amount + bonus_amount > 0",
            name="positive_amount",
        ),
        enum_check("purpose", HoldPurpose),
        enum_check("status", HoldStatus),
        # Pending holds only (migration 0029): every read by player asks for those, and a
        # finalized hold's (never HOT) update then skips this index.
        Index(
            "ix_ledger_holds_pending_player_id",
            "player_id",
            postgresql_where=text("status = 'PENDING'"),
        ),
        Index("ix_ledger_holds_game_round_id", "game_round_id"),
        Index("ix_ledger_holds_client_transaction_id", "client", "transaction_id"),
        Index(
            "ix_ledger_holds_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'PENDING' AND expires_at IS NOT NULL"),
        ),
        # Through the wallets (migration 0032): each key probes a wallet row the operation
        # holds locked (no lock of the player's row) and says it is the hold's player's.
        ForeignKeyConstraint(
            ["real_wallet_id", "player_id"],
            ["wallets.id", "wallets.player_id"],
            name="fk_ledger_holds_real_wallet_id_player_id_wallets",
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["bonus_wallet_id", "player_id"],
            ["wallets.id", "wallets.player_id"],
            name="fk_ledger_holds_bonus_wallet_id_player_id_wallets",
            ondelete="RESTRICT",
        ),
    )

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    player_id: uuid.UUID = Field(nullable=False)
    purpose: str = Field(sa_column=Column(String(16), nullable=False))
    client: str = Field(sa_column=Column(String(160), nullable=False))
    game_round_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("game_rounds.id", ondelete="RESTRICT")),
    )
    transaction_id: str | None = Field(default=None, sa_column=Column(String(128)))
    reference: str | None = Field(default=None, sa_column=Column(String(128)))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    real_wallet_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus_wallet_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    real_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    bonus_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(
        default=HoldStatus.PENDING,
        sa_column=Column(String(16), nullable=False, server_default=HoldStatus.PENDING.value),
    )
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    finalized_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class GameTransaction(SQLModel, table=True):
    """Every game-engine transaction id ever seen, per client, kept forever."""

    __tablename__ = "game_transactions"
    __table_args__ = (
        PrimaryKeyConstraint("client", "transaction_id"),
        enum_check("kind", GameTransactionKind),
    )

    client: str = Field(sa_column=Column(String(160), nullable=False))
    transaction_id: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    game_round_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    hold_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class IdempotencyRecord(SQLModel, table=True):
    """The stored outcome of one money mutation, by (caller, operation, key)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        PrimaryKeyConstraint("scope", "operation", "key"),
        # BRIN: keys arrive in time order, and only the purge reads by age (0035).
        Index("ix_idempotency_keys_created_at_brin", "created_at", postgresql_using="brin"),
    )

    scope: str = Field(sa_column=Column(String(160), nullable=False))
    operation: str = Field(sa_column=Column(String(64), nullable=False))
    key: str = Field(sa_column=Column(String(128), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    # The result as JSON text, written in the same transaction as the effect and
    # replayed byte for byte.
    response: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
