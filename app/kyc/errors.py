"""KYC failures with stable codes."""

from __future__ import annotations

from app.core.errors import DomainError

# Defined in core: the ledger raises it too (withdrawals), without importing kyc.
from app.core.verification import VerificationRequired as VerificationRequired


class KycCaseOpen(DomainError):
    code = "KYC_CASE_OPEN"


class AlreadyVerified(DomainError):
    code = "ALREADY_VERIFIED"


class CaseNotReviewable(DomainError):
    code = "KYC_CASE_NOT_REVIEWABLE"


class ProviderUnavailable(DomainError):
    code = "KYC_PROVIDER_UNAVAILABLE"


class UnknownProvider(DomainError):
    code = "KYC_UNKNOWN_PROVIDER"


class CallbackRejected(DomainError):
    """A callback whose signature is missing, wrong or stale (HTTP 401)."""

    code = "KYC_CALLBACK_REJECTED"
