"""KYC tables. Document images never reach the database: a case keeps the provider's
reference and per-document metadata (type, country, last 4 and a keyed hash of the number,
expiry) only."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check, updated_at_column
from app.players.models import RiskLevel


class KycCaseStatus(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    MANUAL_REVIEW = "MANUAL_REVIEW"
    FAILED = "FAILED"  # the provider could not be reached; the check never started

    @property
    def is_final(self) -> bool:
        return self in (KycCaseStatus.VERIFIED, KycCaseStatus.REJECTED, KycCaseStatus.FAILED)


# A case awaiting a decision: the provider's result (PENDING) or a reviewer's (MANUAL_REVIEW).
AWAITING_DECISION = (KycCaseStatus.PENDING, KycCaseStatus.MANUAL_REVIEW)
_AWAITING_SQL = "status IN ('PENDING', 'MANUAL_REVIEW')"


class KycCase(SQLModel, table=True):
    __tablename__ = "kyc_cases"
    __table_args__ = (
        Index("ix_kyc_cases_player_id_created_at", "player_id", "created_at"),
        Index("uq_kyc_cases_provider_ref", "provider", "provider_ref", unique=True),
        # At most one open check per player: a second submit is refused by the database too.
        Index(
            "uq_kyc_cases_open_per_player",
            "player_id",
            unique=True,
            postgresql_where=text(_AWAITING_SQL),
        ),
        # The staff queue: open cases oldest first (a small partial index).
        Index(
            "ix_kyc_cases_awaiting_created_at",
            "created_at",
            "id",
            postgresql_where=text(_AWAITING_SQL),
        ),
        enum_check("status", KycCaseStatus),
        enum_check("risk_level", RiskLevel),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="RESTRICT"), nullable=False)
    )
    provider: str = Field(sa_column=Column(String(32), nullable=False))
    provider_ref: str | None = Field(default=None, sa_column=Column(String(128)))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    risk_level: str | None = Field(default=None, sa_column=Column(String(8)))
    score: int | None = Field(default=None, sa_column=Column(Integer))
    pep: bool | None = Field(default=None)
    sanctions: bool | None = Field(default=None)
    reasons: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    # [{type, country, numberLast4, numberHash, expiry, providerDocumentRef}]
    documents: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    reviewed_by: str | None = Field(default=None, sa_column=Column(String(128)))
    review_note: str | None = Field(default=None, sa_column=Column(Text))
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class KycCaseEvent(SQLModel, table=True):
    """Append-only history of every case change (who, when, from -> to, why).

    Kept by the KYC module until the general audit log (app/audit, branch identity) lands;
    the integrator may then also write these changes there.
    """

    __tablename__ = "kyc_case_events"
    __table_args__ = (Index("ix_kyc_case_events_case_id_id", "case_id", "id"),)

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    case_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("kyc_cases.id", ondelete="RESTRICT"), nullable=False)
    )
    player_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("players.id", ondelete="RESTRICT"), nullable=False)
    )
    actor: str = Field(sa_column=Column(String(128), nullable=False))
    action: str = Field(sa_column=Column(String(32), nullable=False))
    from_status: str | None = Field(default=None, sa_column=Column(String(16)))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    risk_level: str | None = Field(default=None, sa_column=Column(String(8)))
    reasons: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
