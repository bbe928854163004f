"""Step-up: changing the second factors (another factor, fresh recovery codes) needs a
recent password + second-factor sign-in, read from the access token (``amr`` says which
methods, ``auth_time`` when; a refreshed token keeps the original ``auth_time``). A stolen
access or refresh token alone cannot plant an attacker's factor or read new codes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import DomainError
from app.core.settings import Settings
from app.identity import mfa
from app.identity.tokens import AccessClaims

SECOND_FACTOR_METHODS = frozenset({"totp", "sms", "webauthn", "recovery_code"})


class StepUpRequired(DomainError):
    code = "STEP_UP_REQUIRED"

    def __init__(self, max_age_seconds: int) -> None:
        super().__init__(
            f"sign in again with password and second factor (within {max_age_seconds} s)"
        )
        self.max_age_seconds = max_age_seconds


def require_recent_mfa(
    claims: AccessClaims | None, settings: Settings, now: datetime | None = None
) -> None:
    """``StepUpRequired`` unless the token comes from a password + second-factor sign-in
    at most ``step_up_max_age_seconds`` ago."""
    max_age = settings.step_up_max_age_seconds
    if claims is None or claims.auth_time is None:
        raise StepUpRequired(max_age)
    methods = set(claims.methods)
    if "pwd" not in methods or not methods & SECOND_FACTOR_METHODS:
        raise StepUpRequired(max_age)
    age = ((now or datetime.now(UTC)) - claims.auth_time).total_seconds()
    if age > max_age:
        raise StepUpRequired(max_age)


async def require_for_factor_change(
    session: AsyncSession,
    claims: AccessClaims | None,
    subject: str,
    settings: Settings,
    *,
    always: bool = False,
) -> None:
    """Enrolling the first factor needs only the session; another one (or new recovery
    codes, ``always``) needs a recent password + second-factor sign-in."""
    if always or await mfa.factors(session, subject):
        require_recent_mfa(claims, settings)
