"""Wallet tables. A wallet is one ledger account of a player in one currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check, updated_at_column


class WalletKind(StrEnum):
    REAL = "REAL"
    BONUS = "BONUS"
    FREESPINS = "FREESPINS"
    TOURNAMENT = "TOURNAMENT"


class Wallet(SQLModel, table=True):
    __tablename__ = "wallets"
    __table_args__ = (
        UniqueConstraint("player_id", "kind"),
        # The target of ledger_transfers' (wallet_id, player_id) key (migration 0025).
        UniqueConstraint("id", "player_id", name="uq_wallets_id_player_id"),
        enum_check("kind", WalletKind),
        # held is money reserved by pending holds; available = balance - held never < 0.
        CheckConstraint("held >= 0 AND balance >= held", name="balance_covers_held"),
    )

    # Ascending ids give the fixed order in which several wallets are locked.
    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="RESTRICT"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    balance: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    held: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    # Stakes posted from this wallet (settled bets, less rolled-back rounds): derived data
    # kept beside the balance so a settle needs no extra statement.
    turnover: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())

    @property
    def available(self) -> int:
        return self.balance - self.held
