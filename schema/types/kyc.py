"""KYC types and the typed errors of the KYC mutations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import strawberry

from app.core.errors import DomainError
from app.kyc.models import KycCase as CaseRow
from permissions.roles import Permission as P
from permissions.rules import nullable, required
from schema.enums import KycCaseStatusEnum, RiskLevelEnum
from schema.errors import UserError


@strawberry.enum
class KycReviewDecision(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@strawberry.type(description="Metadata of a submitted document; never the image or number.")
class KycDocument:
    type: str
    country: str
    number_last4: str
    expiry: str
    provider_document_ref: str | None


def _case() -> Any:
    """A KYC case field: the player may see their own case's progress (owner_ok)..."""
    return strawberry.field(extensions=[required(P.KYC_READ, owner_ok=True)])


def _screening() -> Any:
    """...but never the AML screening internals (PEP/sanctions hits, score, reasons, the
    reviewer's note): telling a player about them is tipping-off. Staff only, no owner_ok."""
    return strawberry.field(extensions=[nullable(P.KYC_READ)])


@strawberry.type
class KycCase:
    id: strawberry.ID = _case()
    player_id: strawberry.ID = _case()
    provider: str = _case()
    provider_ref: str | None = strawberry.field(extensions=[nullable(P.KYC_READ, owner_ok=True)])
    status: KycCaseStatusEnum = _case()
    risk_level: RiskLevelEnum | None = strawberry.field(  # as Player.riskLevel
        extensions=[nullable(P.KYC_READ, owner_ok=True)]
    )
    score: int | None = _screening()
    pep: bool | None = _screening()
    sanctions: bool | None = _screening()
    reasons: list[str] = _screening()
    documents: list[KycDocument] = _case()
    reviewed_by: str | None = _screening()
    review_note: str | None = _screening()
    decided_at: datetime | None = strawberry.field(extensions=[nullable(P.KYC_READ, owner_ok=True)])
    created_at: datetime = _case()

    def owner_id(self) -> str:
        return str(self.player_id)

    @classmethod
    def from_model(cls, row: CaseRow) -> KycCase:
        assert row.created_at is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            player_id=strawberry.ID(str(row.player_id)),
            provider=row.provider,
            provider_ref=row.provider_ref,
            status=KycCaseStatusEnum(row.status),
            risk_level=RiskLevelEnum(row.risk_level) if row.risk_level else None,
            score=row.score,
            pep=row.pep,
            sanctions=row.sanctions,
            reasons=list(row.reasons),
            documents=[
                KycDocument(
                    type=d["type"],
                    country=d["country"],
                    number_last4=d["numberLast4"],
                    expiry=d["expiry"],
                    provider_document_ref=d.get("providerDocumentRef"),
                )
                for d in row.documents
            ],
            reviewed_by=row.reviewed_by,
            review_note=row.review_note,
            decided_at=row.decided_at,
            created_at=row.created_at,
        )


@strawberry.type(description="A case awaiting a decision, in the staff queue.")
class KycQueueEntry:
    case: KycCase
    age_seconds: int = strawberry.field(description="Since the case was opened, at query time.")


def _simple(name: str, description: str) -> type:
    @strawberry.type(name=name, description=description)
    class _Error(UserError):
        @classmethod
        def from_domain(cls, exc: DomainError) -> _Error:
            return cls(code=exc.code, message=exc.message)

    return _Error


KycCaseOpen = _simple("KycCaseOpen", "A verification is already in progress.")
AlreadyVerified = _simple("AlreadyVerified", "The player is already verified.")
KycProviderUnavailable = _simple(
    "KycProviderUnavailable", "The KYC provider could not be reached; try again later."
)
KycCaseNotReviewable = _simple("KycCaseNotReviewable", "The case is not in manual review.")
