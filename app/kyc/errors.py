"""KYC failures with stable codes."""

from __future__ import annotations

from app.core.errors import DomainError


class VerificationRequired(DomainError):
    """The operation (a withdrawal, say) needs a VERIFIED player."""

    code = "VERIFICATION_REQUIRED"

    def __init__(self, confirm_status: str) -> None:
        super().__init__(f"the player must be verified first (status: {confirm_status})")
        self.confirm_status = confirm_status


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
