"""The identity-verification refusal shared by KYC (which decides the status) and the
ledger (whose payouts need it, read in its LOAD statement): a core error, so neither
domain package imports the other."""

from __future__ import annotations

from app.core.errors import DomainError


class VerificationRequired(DomainError):
    """The operation (a withdrawal, say) needs a VERIFIED player."""

    code = "VERIFICATION_REQUIRED"

    def __init__(self, confirm_status: str) -> None:
        super().__init__(f"the player must be verified first (status: {confirm_status})")
        self.confirm_status = confirm_status
