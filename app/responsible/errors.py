"""Expected failures of responsible gambling, each with a stable ``code``."""

from __future__ import annotations

from datetime import datetime

from app.core.errors import DomainError


class LimitExceeded(DomainError):
    """A deposit or bet would pass a limit in force; nothing was written."""

    code = "LIMIT_EXCEEDED"

    def __init__(
        self, kind: str, period: str, limit: int, remaining: int, currency: str,
        resets_at: datetime,
    ) -> None:  # fmt: skip
        super().__init__(f"the {period.lower()} {kind.lower()} limit does not allow this")
        self.kind, self.period, self.currency = kind, period, currency
        self.limit, self.remaining, self.resets_at = limit, remaining, resets_at


class SessionLimitReached(DomainError):
    """The play session reached its time limit: no new bets until a break has passed."""

    code = "SESSION_LIMIT_REACHED"

    def __init__(self, limit_minutes: int, available_at: datetime) -> None:
        super().__init__(f"the session limit of {limit_minutes} minutes is reached; take a break")
        self.limit_minutes, self.available_at = limit_minutes, available_at


class LimitChangeNotFound(DomainError):
    """No pending change with this id for the caller (someone else's looks the same)."""

    code = "LIMIT_CHANGE_NOT_FOUND"


class CoolDownActive(DomainError):
    """The increase or removal waits for its cool-down before it can be confirmed."""

    code = "LIMIT_COOL_DOWN_ACTIVE"

    def __init__(self, message: str, effective_at: datetime) -> None:
        super().__init__(message)
        self.effective_at = effective_at


class StaffMayOnlyLower(DomainError):
    code = "LIMIT_STAFF_MAY_ONLY_LOWER"


class ExclusionActive(DomainError):
    """An exclusion in force cannot be shortened (nor replaced by a shorter one)."""

    code = "EXCLUSION_ACTIVE"


class NoActiveExclusion(DomainError):
    code = "NO_ACTIVE_EXCLUSION"


class GamblingRestricted(DomainError):
    """The access token carries a gambling restriction (a break, a self-exclusion, or a
    return not yet open): the account pages work, gambling does not."""

    code = "GAMBLING_RESTRICTED"

    def __init__(self, restriction: str) -> None:
        super().__init__(f"gambling is not available to this session ({restriction.lower()})")
        self.restriction = restriction
