"""Expected failures of sign-in, sessions and MFA."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidCredentials(DomainError):
    """Unknown account, wrong password, wrong or replayed code: one error for all, so a
    caller cannot tell which part was wrong or whether the account exists."""

    code = "INVALID_CREDENTIALS"

    def __init__(self, message: str = "sign-in failed", *, account: str | None = None) -> None:
        super().__init__(message)
        # The known account a wrong password was tried on (for fraud signals, never shown).
        self.account = account


class TooManyAttempts(DomainError):
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts; try again later")
        self.retry_after = retry_after


class InvalidRefreshToken(DomainError):
    code = "INVALID_REFRESH_TOKEN"

    def __init__(self, message: str = "the refresh token is invalid or was already used") -> None:
        super().__init__(message)


class MfaError(DomainError):
    code = "MFA_FAILED"
