"""Types of sign-in, sessions, MFA, staff and service clients."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.audit.models import AuditEntry
from app.audit.personal import reveal, reveal_details
from app.identity.models import StaffMember, StaffRole
from permissions.roles import ROLE_PERMISSIONS
from schema.errors import UserError


@strawberry.enum
class MfaMethod(StrEnum):
    TOTP = "TOTP"
    SMS = "SMS"
    WEBAUTHN = "WEBAUTHN"
    RECOVERY_CODE = "RECOVERY_CODE"


StaffRoleEnum = StaffRole  # strawberry.enum registers the class itself
strawberry.enum(StaffRole, name="StaffRole")


@strawberry.type(description="Signed in. Send `Authorization: Bearer <accessToken>`.")
class AuthTokens:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds the access token is valid.")
    token_type: str = "Bearer"  # noqa: S105


@strawberry.type(description="Password accepted; finish with `verifyMfa`.")
class MfaRequired:
    challenge_id: str
    methods: list[MfaMethod]
    webauthn_options: JSON | None = strawberry.field(
        default=None, description="PublicKeyCredentialRequestOptions for navigator.credentials.get"
    )


@strawberry.type
class MfaFailed:
    code: str
    message: str


@strawberry.type
class Done:
    ok: bool = True


@strawberry.type
class TotpEnrollment:
    factor_id: strawberry.ID
    otpauth_uri: str = strawberry.field(description="Show as a QR code; shown only now.")


@strawberry.type
class SmsEnrollment:
    factor_id: strawberry.ID


@strawberry.type
class WebauthnRegistration:
    options: JSON = strawberry.field(description="PublicKeyCredentialCreationOptions")


@strawberry.type
class MfaEnrolled:
    factor_id: strawberry.ID
    recovery_codes: list[str] = strawberry.field(
        description="Single-use codes, shown only now (empty unless this was the first factor)."
    )


@strawberry.type
class RecoveryCodes:
    codes: list[str]


@strawberry.type(description="A member of staff.")
class StaffUser:
    id: strawberry.ID
    email: str
    display_name: str
    role: StaffRoleEnum
    permissions: list[str] = strawberry.field(
        description="What this role may do (the permission matrix), so a client can offer "
        "only the actions the server will allow; the server still checks every call."
    )

    @classmethod
    def from_model(cls, row: StaffMember) -> StaffUser:
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            display_name=row.display_name,
            role=StaffRoleEnum(row.role),
            permissions=sorted(ROLE_PERMISSIONS[StaffRole(row.role)]),
        )


@strawberry.type(description="A service client calling with OAuth2 client credentials.")
class ServiceClient:
    client_id: str
    scopes: list[str]


@strawberry.type
class StaffCreated:
    staff: StaffUser
    otpauth_uri: str = strawberry.field(description="TOTP enrolment; shown only now.")
    recovery_codes: list[str]


@strawberry.type
class ServiceClientCreated:
    client_id: str
    client_secret: str = strawberry.field(description="Shown only now; stored hashed.")
    name: str
    scopes: list[str]


@strawberry.type
class AuditRecord:
    id: strawberry.ID
    occurred_at: datetime
    actor: str
    action: str
    target: str | None
    outcome: str
    ip: str | None
    request_id: str | None
    details: JSON

    @classmethod
    def from_model(cls, row: AuditEntry, personal: dict[str, str] | None = None) -> AuditRecord:
        """``personal``: the entry's values kept beside the tree (app/audit/personal.py);
        an erased one shows as ``[erased]``."""
        assert row.occurred_at is not None
        values = personal or {}
        return cls(
            id=strawberry.ID(str(row.id)), occurred_at=row.occurred_at, actor=row.actor,
            action=row.action, target=row.target, outcome=row.outcome,
            ip=reveal(row.ip, "ip", values), request_id=row.request_id,
            details=cast(JSON, reveal_details(row.details, values)),
        )  # fmt: skip


@strawberry.type(
    description="Sign in again (password and second factor) and retry within "
    "`maxAgeSeconds`: changing second factors needs a recent full sign-in."
)
class StepUpRequired(UserError):
    max_age_seconds: int
