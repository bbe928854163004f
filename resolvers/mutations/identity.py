"""Sign-in, sessions, MFA enrolment, staff and service clients."""

from __future__ import annotations

import uuid
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from app.audit import service as audit
from app.core import errors
from app.core.phones import MESSAGE as PHONE
from app.core.phones import is_phone_number
from app.core.principal import PrincipalKind
from app.identity import accounts, login, mfa, sessions
from app.identity.errors import InvalidCredentials as InvalidCredentialsError
from app.identity.errors import MfaError
from app.identity.errors import TooManyAttempts as TooManyAttemptsError
from app.identity.models import MfaKind
from app.identity.runtime import IdentityRuntime
from permissions.roles import SERVICE_SCOPES
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result, public
from schema.context import Info
from schema.error_registry import to_graphql
from schema.errors import (
    AlreadyExists,
    Forbidden,
    InvalidCredentials,
    TooManyAttempts,
    ValidationError,
)
from schema.types.identity import (
    AuthTokens,
    Done,
    MfaEnrolled,
    MfaFailed,
    MfaMethod,
    MfaRequired,
    RecoveryCodes,
    ServiceClientCreated,
    SmsEnrollment,
    StaffCreated,
    StaffRoleEnum,
    StaffUser,
    TotpEnrollment,
    WebauthnRegistration,
)

LoginResult = Annotated[
    AuthTokens | MfaRequired | InvalidCredentials | TooManyAttempts | MfaFailed,
    strawberry.union("LoginResult"),
]
VerifyMfaResult = Annotated[
    AuthTokens | InvalidCredentials | TooManyAttempts, strawberry.union("VerifyMfaResult")
]
SendMfaCodeResult = Annotated[
    Done | InvalidCredentials | MfaFailed | TooManyAttempts, strawberry.union("SendMfaCodeResult")
]
LogoutResult = Annotated[Done | Forbidden, strawberry.union("LogoutResult")]
BeginTotpResult = Annotated[TotpEnrollment | Forbidden, strawberry.union("BeginTotpResult")]
BeginSmsResult = Annotated[
    SmsEnrollment | ValidationError | TooManyAttempts | Forbidden,
    strawberry.union("BeginSmsResult"),
]
WebauthnOptionsResult = Annotated[
    WebauthnRegistration | Forbidden, strawberry.union("WebauthnOptionsResult")
]
EnrollResult = Annotated[
    MfaEnrolled | InvalidCredentials | MfaFailed | Forbidden, strawberry.union("EnrollResult")
]
RecoveryCodesResult = Annotated[
    RecoveryCodes | MfaFailed | Forbidden, strawberry.union("RecoveryCodesResult")
]
CreateStaffResult = Annotated[
    StaffCreated | ValidationError | AlreadyExists | Forbidden,
    strawberry.union("CreateStaffResult"),
]
CreateClientResult = Annotated[
    ServiceClientCreated | ValidationError | AlreadyExists | Forbidden,
    strawberry.union("CreateServiceClientResult"),
]


def _runtime(info: Info) -> IdentityRuntime:
    assert info.context.identity is not None
    return info.context.identity


def _tokens(pair: sessions.TokenPair) -> AuthTokens:
    return AuthTokens(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


# The typed answers come from the one registry (schema/error_registry.py).
def _invalid(exc: InvalidCredentialsError) -> InvalidCredentials:
    answer: InvalidCredentials = to_graphql(exc)
    return answer


def _too_many(exc: TooManyAttemptsError) -> TooManyAttempts:
    answer: TooManyAttempts = to_graphql(exc)
    return answer


def _mfa_failed(exc: MfaError) -> MfaFailed:
    answer: MfaFailed = to_graphql(exc)
    return answer


def _enrollable(info: Info) -> Forbidden | None:
    if info.context.principal.kind in (PrincipalKind.PLAYER, PrincipalKind.STAFF):
        return None
    return Forbidden(code="FORBIDDEN", message="only players and staff enrol factors",
                     required_permission=str(P.SELF))  # fmt: skip


async def _login(info: Info, identifier: str, password: str, staff: bool) -> LoginResult:
    runtime = _runtime(info)
    actor = actor_of(info)
    action = "auth.staff_login" if staff else "auth.login"
    try:
        outcome, principal = await login.login(runtime, identifier, password, actor.ip, staff=staff)
    except TooManyAttemptsError as exc:
        await audit.record_now(
            runtime.db, actor, action, None, audit.DENIED, {"reason": "throttled"}
        )
        return _too_many(exc)
    except InvalidCredentialsError as exc:
        await audit.record_now(runtime.db, actor, action, None, audit.FAILURE)
        return _invalid(exc)
    except MfaError as exc:
        await audit.record_now(runtime.db, actor, action, None, audit.FAILURE, {"reason": "no mfa"})
        return _mfa_failed(exc)
    if isinstance(outcome, login.MfaChallenge):
        await audit.record_now(runtime.db, actor, action, principal.key, audit.SUCCESS,
                               {"stage": "password", "mfa": outcome.methods})  # fmt: skip
        return MfaRequired(
            challenge_id=outcome.challenge_id,
            methods=[MfaMethod(m) for m in outcome.methods],
            webauthn_options=cast("JSON | None", outcome.webauthn_options),
        )
    await audit.record_now(runtime.db, actor, action, principal.key, audit.SUCCESS)
    return _tokens(outcome)


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Player sign-in by login or email. Each call (aliases too) counts "
        "against the per-account and per-ip throttle.",
        extensions=[public()],
    )
    async def login(self, info: Info, login_or_email: str, password: str) -> LoginResult:
        return await _login(info, login_or_email, password, staff=False)

    @strawberry.mutation(
        description="Staff sign-in; always continues with verifyMfa.", extensions=[public()]
    )
    async def staff_login(self, info: Info, email: str, password: str) -> LoginResult:
        return await _login(info, email, password, staff=True)

    @strawberry.mutation(
        description="Send the SMS code of a sign-in challenge.", extensions=[public()]
    )
    async def send_mfa_sms_code(self, info: Info, challenge_id: str) -> SendMfaCodeResult:
        runtime = _runtime(info)
        try:
            await login.send_sms_for_challenge(runtime, challenge_id)
        except InvalidCredentialsError as exc:
            await audit.record_now(runtime.db, actor_of(info), "auth.mfa_sms", None, audit.FAILURE)
            return _invalid(exc)
        except MfaError as exc:
            return _mfa_failed(exc)
        except TooManyAttemptsError as exc:
            await audit.record_now(runtime.db, actor_of(info), "auth.mfa_sms", None, audit.DENIED)
            return _too_many(exc)
        await audit.record_now(runtime.db, actor_of(info), "auth.mfa_sms", None, audit.SUCCESS)
        return Done()

    @strawberry.mutation(description="Second step of sign-in.", extensions=[public()])
    async def verify_mfa(
        self,
        info: Info,
        challenge_id: str,
        method: MfaMethod,
        code: str | None = None,
        assertion: JSON | None = None,
    ) -> VerifyMfaResult:
        runtime = _runtime(info)
        actor = actor_of(info)
        try:
            pair, principal = await login.verify_mfa(
                runtime, challenge_id, method.value, code,
                assertion if isinstance(assertion, dict) else None,
            )  # fmt: skip
        except TooManyAttemptsError as exc:
            await audit.record_now(runtime.db, actor, "auth.verify_mfa", None, audit.DENIED,
                                   {"method": method.value, "reason": "attempts"})  # fmt: skip
            return _too_many(exc)
        except InvalidCredentialsError as exc:
            await audit.record_now(runtime.db, actor, "auth.verify_mfa", None, audit.FAILURE,
                                   {"method": method.value})  # fmt: skip
            return _invalid(exc)
        await audit.record_now(runtime.db, actor, "auth.verify_mfa", principal.key, audit.SUCCESS,
                               {"method": method.value})  # fmt: skip
        return _tokens(pair)

    @strawberry.mutation(
        description="Exchange a refresh token (single use; it rotates). Same as "
        "POST /oauth/token grant_type=refresh_token.",
        extensions=[public()],
    )
    async def refresh_tokens(self, info: Info, refresh_token: str) -> VerifyMfaResult:
        runtime = _runtime(info)
        try:
            pair = await sessions.refresh(runtime, refresh_token)
        except errors.DomainError as exc:
            await audit.record_now(runtime.db, actor_of(info), "auth.refresh", None, audit.FAILURE,
                                   {"reason": exc.message})  # fmt: skip
            return InvalidCredentials(code=exc.code, message=exc.message)
        await audit.record_now(runtime.db, actor_of(info), "auth.refresh", pair.principal.key,
                               audit.SUCCESS)  # fmt: skip
        return _tokens(pair)

    @strawberry.mutation(description="End this session.", extensions=[forbidden_result(P.SELF)])
    async def logout(self, info: Info) -> LogoutResult:
        claims = info.context.claims
        if claims is not None and claims.session_id:
            await sessions.revoke_family(_runtime(info), claims.session_id)
        await audit.record_now(info.context.db, actor_of(info), "auth.logout",
                               info.context.principal.key, audit.SUCCESS)  # fmt: skip
        return Done()

    @strawberry.mutation(
        description="End every session and access token of the caller.",
        extensions=[forbidden_result(P.SELF)],
    )
    async def logout_everywhere(self, info: Info) -> LogoutResult:
        await sessions.end_everywhere(_runtime(info), info.context.principal.key)
        await audit.record_now(info.context.db, actor_of(info), "auth.logout_everywhere",
                               info.context.principal.key, audit.SUCCESS)  # fmt: skip
        return Done()

    @strawberry.mutation(extensions=[forbidden_result(P.SELF)])
    async def begin_totp_enrollment(self, info: Info) -> BeginTotpResult:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key
        async with info.context.db.transaction() as session:
            row, uri = await mfa.begin_totp(session, subject, subject, info.context.settings)
            await audit.record(session, actor_of(info), "mfa.totp.begin", subject)
        return TotpEnrollment(factor_id=strawberry.ID(str(row.id)), otpauth_uri=uri)

    @strawberry.mutation(extensions=[forbidden_result(P.SELF)])
    async def confirm_totp_enrollment(
        self, info: Info, factor_id: strawberry.ID, code: str
    ) -> EnrollResult:
        return await _confirm(info, factor_id, MfaKind.TOTP, code)

    @strawberry.mutation(extensions=[forbidden_result(P.SELF)])
    async def begin_sms_enrollment(self, info: Info, phone: str) -> BeginSmsResult:
        if denied := _enrollable(info):
            return denied
        normalised = phone.replace(" ", "")
        if not is_phone_number(normalised):
            return ValidationError.from_domain(errors.ValidationFailed.single("phone", PHONE))
        subject = info.context.principal.key
        try:
            async with info.context.db.transaction() as session:
                row = await mfa.begin_sms(session, _runtime(info), subject, normalised)
                await audit.record(session, actor_of(info), "mfa.sms.begin", subject)
        except TooManyAttemptsError as exc:
            return _too_many(exc)
        return SmsEnrollment(factor_id=strawberry.ID(str(row.id)))

    @strawberry.mutation(extensions=[forbidden_result(P.SELF)])
    async def confirm_sms_enrollment(
        self, info: Info, factor_id: strawberry.ID, code: str
    ) -> EnrollResult:
        return await _confirm(info, factor_id, MfaKind.SMS, code)

    @strawberry.mutation(extensions=[forbidden_result(P.SELF)])
    async def begin_webauthn_registration(self, info: Info) -> WebauthnOptionsResult:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key
        async with info.context.db.transaction() as session:
            options = await mfa.webauthn_registration_options(
                session, _runtime(info), subject, subject
            )
            await audit.record(session, actor_of(info), "mfa.webauthn.begin", subject)
        return WebauthnRegistration(options=cast(JSON, options))

    @strawberry.mutation(extensions=[forbidden_result(P.SELF)])
    async def register_webauthn_key(
        self, info: Info, credential: JSON, label: str = "security key"
    ) -> EnrollResult:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key
        if not isinstance(credential, dict):
            return MfaFailed(code=MfaError.code, message="credential must be an object")
        try:
            async with info.context.db.transaction() as session:
                row, codes = await mfa.register_webauthn(
                    session, _runtime(info), subject, credential, label
                )
                await audit.record(session, actor_of(info), "mfa.webauthn.register", subject)
        except MfaError as exc:
            await audit.record_now(info.context.db, actor_of(info), "mfa.webauthn.register",
                                   subject, audit.FAILURE)  # fmt: skip
            return _mfa_failed(exc)
        return MfaEnrolled(factor_id=strawberry.ID(str(row.id)), recovery_codes=codes)

    @strawberry.mutation(
        description="Replace the caller's recovery codes.", extensions=[forbidden_result(P.SELF)]
    )
    async def regenerate_recovery_codes(self, info: Info) -> RecoveryCodesResult:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key
        async with info.context.db.transaction() as session:
            if not await mfa.factors(session, subject):
                return MfaFailed(code=MfaError.code, message="enrol a second factor first")
            codes = await mfa.new_recovery_codes(session, subject)
            await audit.record(session, actor_of(info), "mfa.recovery_codes", subject)
        return RecoveryCodes(codes=codes)

    @strawberry.mutation(
        description="Create a staff account (with TOTP).",
        extensions=[forbidden_result(P.STAFF_MANAGE)],
    )
    async def create_staff(
        self, info: Info, email: str, display_name: str, role: StaffRoleEnum, password: str
    ) -> CreateStaffResult:
        try:
            async with info.context.db.transaction() as session:
                row, uri, codes = await accounts.create_staff(
                    session, email, display_name, role.value, password, info.context.settings
                )
                await audit.record(session, actor_of(info), "staff.create", f"staff:{row.id}",
                                   details={"role": row.role})  # fmt: skip
        except errors.ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        except errors.AlreadyExists as exc:
            return AlreadyExists.from_domain(exc)
        return StaffCreated(staff=StaffUser.from_model(row), otpauth_uri=uri, recovery_codes=codes)

    @strawberry.mutation(
        description="Create an OAuth2 service client; its secret is shown once.",
        extensions=[forbidden_result(P.CLIENT_MANAGE)],
    )
    async def create_service_client(
        self, info: Info, name: str, scopes: list[str]
    ) -> CreateClientResult:
        try:
            async with info.context.db.transaction() as session:
                row, secret = await accounts.create_client(
                    session, name, scopes, info.context.principal.key, info.context.settings,
                    frozenset(map(str, SERVICE_SCOPES)),
                )  # fmt: skip
                target = f"service:{row.client_id}"
                await audit.record(session, actor_of(info), "client.create", target,
                                   details={"scopes": row.scopes})  # fmt: skip
        except errors.ValidationFailed as exc:
            return ValidationError.from_domain(exc)
        except errors.AlreadyExists as exc:
            return AlreadyExists.from_domain(exc)
        return ServiceClientCreated(
            client_id=row.client_id, client_secret=secret, name=row.name, scopes=row.scopes
        )


async def _confirm(info: Info, factor_id: strawberry.ID, kind: MfaKind, code: str) -> EnrollResult:
    if denied := _enrollable(info):
        return denied
    subject = info.context.principal.key
    action = f"mfa.{kind.value.lower()}.confirm"
    try:
        parsed = uuid.UUID(str(factor_id))
    except ValueError:
        return MfaFailed(code=MfaError.code, message="no such pending factor")
    try:
        async with info.context.db.transaction() as session:
            row = await mfa.pending_factor(session, subject, parsed, kind)
            if kind is MfaKind.TOTP:
                ok = await mfa.check_totp(session, row, code, info.context.settings)
            else:
                ok = await mfa.check_sms_code(_runtime(info), f"smsenrol:{row.id}", code)
            if not ok:
                raise InvalidCredentialsError("the code was not accepted")
            codes = await mfa.confirm_factor(session, row)
            await audit.record(session, actor_of(info), action, subject)
    except InvalidCredentialsError as exc:
        await audit.record_now(info.context.db, actor_of(info), action, subject, audit.FAILURE)
        return _invalid(exc)
    except MfaError as exc:
        return _mfa_failed(exc)
    return MfaEnrolled(factor_id=strawberry.ID(str(row.id)), recovery_codes=codes)
