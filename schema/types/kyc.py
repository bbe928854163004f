"""KYC types and the typed errors of the KYC mutations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from app.core.errors import DomainError
from app.kyc.models import KycCase as CaseRow
from app.kyc.models import KycCaseStatus
from schema.enums import RiskLevelEnum
from schema.errors import UserError

KycCaseStatusEnum = KycCaseStatus  # strawberry.enum registers the class itself
strawberry.enum(KycCaseStatus, name="KycCaseStatus")


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


@strawberry.type
class KycCase:
    id: strawberry.ID
    player_id: strawberry.ID
    provider: str
    provider_ref: str | None
    status: KycCaseStatusEnum
    risk_level: RiskLevelEnum | None
    score: int | None
    pep: bool | None
    sanctions: bool | None
    reasons: list[str]
    documents: list[KycDocument]
    reviewed_by: str | None
    review_note: str | None
    decided_at: datetime | None
    created_at: datetime

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
