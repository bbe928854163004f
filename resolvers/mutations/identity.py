"""Sign-in, sessions, MFA enrolment, staff and service clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, TypeVar, cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.scalars import JSON

from app.audit import service as audit
from app.core import errors
from app.core.errors import DomainError
from app.core.phones import MESSAGE as PHONE
from app.core.phones import is_phone_number
from app.core.principal import PrincipalKind
from app.fraud import access as fraud_access
from app.identity import accounts, login, mfa, sessions, step_up
from app.identity.errors import InvalidCredentials as InvalidCredentialsError
from app.identity.errors import InvalidRefreshToken, MfaError
from app.identity.errors import TooManyAttempts as TooManyAttemptsError
from app.identity.models import MfaKind
from app.identity.runtime import IdentityRuntime
from app.identity.step_up import StepUpRequired as StepUpRequiredError
from permissions.errors import Forbidden
from permissions.roles import SERVICE_SCOPES
from permissions.roles import Permission as P
from permissions.rules import actor_of, forbidden_result, public
from resolvers.runner import MutationSpec, run, run_unmanaged
from schema.context import Info
from schema.input_guard import FreeTextArg
from schema.types.identity import (
    AuthTokens,
    Done,
    MfaEnrolled,
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

T = TypeVar("T")


def _reason(reason: str) -> Callable[[DomainError], dict[str, Any]]:
    return lambda _exc: {"reason": reason}


def _no_details(_exc: DomainError) -> None:
    return None


def _denied_if_throttled(exc: DomainError) -> str:
    return audit.DENIED if isinstance(exc, TooManyAttemptsError) else audit.FAILURE


def _login_details(exc: DomainError) -> dict[str, Any] | None:
    if isinstance(exc, TooManyAttemptsError):
        return {"reason": "throttled"}
    return {"reason": "no mfa"} if isinstance(exc, MfaError) else None


SIGN_IN = (InvalidCredentialsError, TooManyAttemptsError)
LOGIN = MutationSpec(
    "LoginResult", (AuthTokens, MfaRequired), (*SIGN_IN, MfaError),
    failure_audit="auth.{python_name}", audit_details=_login_details,
    audit_outcome=_denied_if_throttled, forbidden=False,
)  # fmt: skip
SEND_MFA_CODE = MutationSpec(
    "SendMfaCodeResult", (Done,), (InvalidCredentialsError, MfaError, TooManyAttemptsError),
    failure_audit="auth.mfa_sms", audit_details=_no_details,
    audit_outcome=_denied_if_throttled, forbidden=False,
)  # fmt: skip
TOKENS = (AuthTokens,)
VERIFY_MFA = MutationSpec(
    "VerifyMfaResult", TOKENS, SIGN_IN, failure_audit="auth.verify_mfa",
    audit_details=_no_details, audit_outcome=_denied_if_throttled, forbidden=False,
)  # fmt: skip
REFRESH = MutationSpec(
    "VerifyMfaResult", TOKENS, (InvalidRefreshToken, *SIGN_IN), failure_audit="auth.refresh",
    audit_details=lambda exc: {"reason": exc.message}, forbidden=False,
)  # fmt: skip
LOGOUT = MutationSpec("LogoutResult", (Done,), ())
BEGIN_TOTP = MutationSpec("BeginTotpResult", (TotpEnrollment,), (StepUpRequiredError,))
BEGIN_SMS = MutationSpec(
    "BeginSmsResult", (SmsEnrollment,),
    (errors.ValidationFailed, TooManyAttemptsError, StepUpRequiredError),
)  # fmt: skip
WEBAUTHN_OPTIONS = MutationSpec(
    "WebauthnOptionsResult", (WebauthnRegistration,), (StepUpRequiredError,)
)
ENROLL = MutationSpec(
    "EnrollResult", (MfaEnrolled,), (InvalidCredentialsError, MfaError),
    failure_audit="mfa.{python_name}", audit_details=_no_details, audit_caller=True,
)  # fmt: skip
RECOVERY_CODES = MutationSpec(
    "RecoveryCodesResult", (RecoveryCodes,), (MfaError, StepUpRequiredError)
)
CREATE_STAFF = MutationSpec(
    "CreateStaffResult", (StaffCreated,), (errors.ValidationFailed, errors.AlreadyExists)
)
CREATE_CLIENT = MutationSpec(
    "CreateServiceClientResult", (ServiceClientCreated,),
    (errors.ValidationFailed, errors.AlreadyExists),
)  # fmt: skip


def _runtime(info: Info) -> IdentityRuntime:
    assert info.context.identity is not None
    return info.context.identity


def _tokens(pair: sessions.TokenPair) -> AuthTokens:
    return AuthTokens(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


async def _step_up(info: Info, session: AsyncSession, always: bool = False) -> None:
    """Refuses (StepUpRequired, audited as denied) when this factor change needs a fresh
    full sign-in (step_up.py)."""
    subject = info.context.principal.key
    try:
        await step_up.require_for_factor_change(
            session, info.context.claims, subject, info.context.settings, always=always
        )
    except StepUpRequiredError:
        await audit.record_now(info.context.db, actor_of(info), "mfa.step_up", subject,
                               audit.DENIED, {"field": info.field_name})  # fmt: skip
        raise


def _enrollable(info: Info) -> Forbidden | None:
    if info.context.principal.kind in (PrincipalKind.PLAYER, PrincipalKind.STAFF):
        return None
    return Forbidden(code="FORBIDDEN", message="only players and staff enrol factors",
                     required_permission=str(P.SELF))  # fmt: skip


async def _login(
    info: Info, identifier: str, password: str, staff: bool, device: str | None = None
) -> object:
    runtime = _runtime(info)
    actor = actor_of(info)
    action = "auth.staff_login" if staff else "auth.login"

    async def sign_in() -> login.MfaChallenge | sessions.TokenPair:
        try:
            outcome, principal = await login.login(
                runtime, identifier, password, actor.ip, staff=staff
            )
        except InvalidCredentialsError as exc:
            if not staff:  # fraud signals: failed sign-ins on a known account
                await fraud_access.record_login(runtime.db, exc.account, False, actor.ip, device)
            raise
        if not staff:  # device and IP of a correct password, whether MFA follows or not
            await fraud_access.record_login(runtime.db, principal.id, True, actor.ip, device)
        details = (
            {"stage": "password", "mfa": outcome.methods}
            if isinstance(outcome, login.MfaChallenge)
            else None
        )
        await audit.record_now(runtime.db, actor, action, principal.key, audit.SUCCESS, details)
        return outcome

    def present(outcome: login.MfaChallenge | sessions.TokenPair) -> object:
        if isinstance(outcome, login.MfaChallenge):
            return MfaRequired(
                challenge_id=outcome.challenge_id,
                methods=[MfaMethod(m) for m in outcome.methods],
                webauthn_options=cast("JSON | None", outcome.webauthn_options),
            )
        return _tokens(outcome)

    return await run_unmanaged(info, LOGIN, sign_in, present)


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        graphql_type=LOGIN.union,
        description="Player sign-in by login or email. Each call (aliases too) counts "
        "against the per-account and per-ip throttle.",
        extensions=[public()],
    )
    async def login(
        self,
        info: Info,
        login_or_email: str,
        password: str,
        device_fingerprint: Annotated[
            str | None,
            strawberry.argument(description="The client's device fingerprint (anti-fraud)."),
        ] = None,
    ) -> object:
        return await _login(info, login_or_email, password, staff=False, device=device_fingerprint)

    @strawberry.mutation(
        graphql_type=LOGIN.union,
        description="Staff sign-in; always continues with verifyMfa.",
        extensions=[public()],
    )
    async def staff_login(self, info: Info, email: str, password: str) -> object:
        return await _login(info, email, password, staff=True)

    @strawberry.mutation(
        graphql_type=SEND_MFA_CODE.union,
        description="Send the SMS code of a sign-in challenge.",
        extensions=[public()],
    )
    async def send_mfa_sms_code(self, info: Info, challenge_id: str) -> object:
        runtime = _runtime(info)

        async def send() -> None:
            await login.send_sms_for_challenge(runtime, challenge_id, actor_of(info).ip)
            await audit.record_now(runtime.db, actor_of(info), "auth.mfa_sms", None, audit.SUCCESS)

        return await run_unmanaged(info, SEND_MFA_CODE, send, lambda _: Done())

    @strawberry.mutation(
        graphql_type=VERIFY_MFA.union, description="Second step of sign-in.", extensions=[public()]
    )
    async def verify_mfa(
        self,
        info: Info,
        challenge_id: str,
        method: MfaMethod,
        code: str | None = None,
        assertion: JSON | None = None,
    ) -> object:
        runtime = _runtime(info)
        actor = actor_of(info)
        details = {"method": method.value}

        async def verify() -> sessions.TokenPair:
            pair, principal = await login.verify_mfa(
                runtime, challenge_id, method.value, code,
                assertion if isinstance(assertion, dict) else None, actor,
            )  # fmt: skip
            await audit.record_now(
                runtime.db, actor, "auth.verify_mfa", principal.key, audit.SUCCESS, details
            )
            return pair

        spec = replace(VERIFY_MFA, audit_details=lambda exc: _verify_details(exc, details))
        return await run_unmanaged(info, spec, verify, _tokens)

    @strawberry.mutation(
        graphql_type=REFRESH.union,
        description="Exchange a refresh token (single use; it rotates). Same as "
        "POST /oauth/token grant_type=refresh_token.",
        extensions=[public()],
    )
    async def refresh_tokens(self, info: Info, refresh_token: str) -> object:
        runtime = _runtime(info)

        async def refresh() -> sessions.TokenPair:
            pair = await sessions.refresh(runtime, refresh_token)
            await audit.record_now(runtime.db, actor_of(info), "auth.refresh",
                                   pair.principal.key, audit.SUCCESS)  # fmt: skip
            return pair

        return await run_unmanaged(info, REFRESH, refresh, _tokens)

    @strawberry.mutation(
        graphql_type=LOGOUT.union,
        description="End this session.",
        extensions=[forbidden_result(P.SELF)],
    )
    async def logout(self, info: Info) -> object:
        async def end() -> None:
            claims = info.context.claims
            if claims is not None and claims.session_id:
                await sessions.revoke_family(_runtime(info), claims.session_id)
            await audit.record_now(info.context.db, actor_of(info), "auth.logout",
                                   info.context.principal.key, audit.SUCCESS)  # fmt: skip

        return await run_unmanaged(info, LOGOUT, end, lambda _: Done())

    @strawberry.mutation(
        graphql_type=LOGOUT.union,
        description="End every session and access token of the caller.",
        extensions=[forbidden_result(P.SELF)],
    )
    async def logout_everywhere(self, info: Info) -> object:
        async def end() -> None:
            await sessions.end_everywhere(_runtime(info), info.context.principal.key)
            await audit.record_now(info.context.db, actor_of(info), "auth.logout_everywhere",
                                   info.context.principal.key, audit.SUCCESS)  # fmt: skip

        return await run_unmanaged(info, LOGOUT, end, lambda _: Done())

    @strawberry.mutation(graphql_type=BEGIN_TOTP.union, extensions=[forbidden_result(P.SELF)])
    async def begin_totp_enrollment(self, info: Info) -> object:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key

        async def begin(session: AsyncSession) -> TotpEnrollment:
            await _step_up(info, session)
            row, uri = await mfa.begin_totp(session, subject, subject, info.context.settings)
            await audit.record(session, actor_of(info), "mfa.totp.begin", subject)
            return TotpEnrollment(factor_id=strawberry.ID(str(row.id)), otpauth_uri=uri)

        return await run(info, BEGIN_TOTP, begin, _same)

    @strawberry.mutation(graphql_type=ENROLL.union, extensions=[forbidden_result(P.SELF)])
    async def confirm_totp_enrollment(
        self, info: Info, factor_id: strawberry.ID, code: str
    ) -> object:
        return await _confirm(info, factor_id, MfaKind.TOTP, code)

    @strawberry.mutation(graphql_type=BEGIN_SMS.union, extensions=[forbidden_result(P.SELF)])
    async def begin_sms_enrollment(self, info: Info, phone: str) -> object:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key

        async def begin(session: AsyncSession) -> SmsEnrollment:
            normalised = _e164(phone)
            await _step_up(info, session)
            row = await mfa.begin_sms(
                session, _runtime(info), subject, normalised, actor_of(info).ip
            )
            await audit.record(session, actor_of(info), "mfa.sms.begin", subject)
            return SmsEnrollment(factor_id=strawberry.ID(str(row.id)))

        return await run(info, BEGIN_SMS, begin, _same)

    @strawberry.mutation(graphql_type=ENROLL.union, extensions=[forbidden_result(P.SELF)])
    async def confirm_sms_enrollment(
        self, info: Info, factor_id: strawberry.ID, code: str
    ) -> object:
        return await _confirm(info, factor_id, MfaKind.SMS, code)

    @strawberry.mutation(graphql_type=WEBAUTHN_OPTIONS.union, extensions=[forbidden_result(P.SELF)])
    async def begin_webauthn_registration(self, info: Info) -> object:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key

        async def begin(session: AsyncSession) -> WebauthnRegistration:
            await _step_up(info, session)
            options = await mfa.webauthn_registration_options(
                session, _runtime(info), subject, subject
            )
            await audit.record(session, actor_of(info), "mfa.webauthn.begin", subject)
            return WebauthnRegistration(options=cast(JSON, options))

        return await run(info, WEBAUTHN_OPTIONS, begin, _same)

    @strawberry.mutation(graphql_type=ENROLL.union, extensions=[forbidden_result(P.SELF)])
    async def register_webauthn_key(
        self, info: Info, credential: JSON, label: FreeTextArg = "security key"
    ) -> object:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key

        async def register(session: AsyncSession) -> MfaEnrolled:
            if not isinstance(credential, dict):
                raise MfaError("credential must be an object")
            row, codes = await mfa.register_webauthn(
                session, _runtime(info), subject, credential, label
            )
            await audit.record(session, actor_of(info), "mfa.webauthn.register", subject)
            return MfaEnrolled(factor_id=strawberry.ID(str(row.id)), recovery_codes=codes)

        spec = replace(ENROLL, failure_audit="mfa.webauthn.register")
        return await run(info, spec, register, _same)

    @strawberry.mutation(
        graphql_type=RECOVERY_CODES.union,
        description="Replace the caller's recovery codes.",
        extensions=[forbidden_result(P.SELF)],
    )
    async def regenerate_recovery_codes(self, info: Info) -> object:
        if denied := _enrollable(info):
            return denied
        subject = info.context.principal.key

        async def regenerate(session: AsyncSession) -> RecoveryCodes:
            if not await mfa.factors(session, subject):
                raise MfaError("enrol a second factor first")
            await _step_up(info, session, always=True)
            codes = await mfa.new_recovery_codes(session, subject)
            await audit.record(session, actor_of(info), "mfa.recovery_codes", subject)
            return RecoveryCodes(codes=codes)

        return await run(info, RECOVERY_CODES, regenerate, _same)

    @strawberry.mutation(
        graphql_type=CREATE_STAFF.union,
        description="Create a staff account (with TOTP).",
        extensions=[forbidden_result(P.STAFF_MANAGE)],
    )
    async def create_staff(
        self,
        info: Info,
        email: FreeTextArg,
        display_name: FreeTextArg,
        role: StaffRoleEnum,
        password: str,
    ) -> object:
        async def create(session: AsyncSession) -> StaffCreated:
            row, uri, codes = await accounts.create_staff(
                session, email, display_name, role.value, password, info.context.settings
            )
            await audit.record(session, actor_of(info), "staff.create", f"staff:{row.id}",
                               details={"role": row.role})  # fmt: skip
            return StaffCreated(
                staff=StaffUser.from_model(row), otpauth_uri=uri, recovery_codes=codes
            )

        return await run(info, CREATE_STAFF, create, _same)

    @strawberry.mutation(
        graphql_type=CREATE_CLIENT.union,
        description="Create an OAuth2 service client; its secret is shown once.",
        extensions=[forbidden_result(P.CLIENT_MANAGE)],
    )
    async def create_service_client(
        self, info: Info, name: FreeTextArg, scopes: list[str]
    ) -> object:
        async def create(session: AsyncSession) -> ServiceClientCreated:
            row, secret = await accounts.create_client(
                session, name, scopes, info.context.principal.key, info.context.settings,
                frozenset(map(str, SERVICE_SCOPES)),
            )  # fmt: skip
            target = f"service:{row.client_id}"
            await audit.record(session, actor_of(info), "client.create", target,
                               details={"scopes": row.scopes})  # fmt: skip
            return ServiceClientCreated(
                client_id=row.client_id, client_secret=secret, name=row.name, scopes=row.scopes
            )

        return await run(info, CREATE_CLIENT, create, _same)


def _same(value: T) -> T:
    return value


def _verify_details(exc: DomainError, details: dict[str, Any]) -> dict[str, Any]:
    if isinstance(exc, TooManyAttemptsError):
        return {**details, "reason": "attempts"}
    return details


def _e164(phone: str) -> str:
    normalised = phone.replace(" ", "")
    if not is_phone_number(normalised):  # libphonenumber: +10000000 has the shape only
        raise errors.ValidationFailed.single("phone", PHONE)
    return normalised


async def _confirm(info: Info, factor_id: strawberry.ID, kind: MfaKind, code: str) -> object:
    if denied := _enrollable(info):
        return denied
    subject = info.context.principal.key

    async def confirm(session: AsyncSession) -> MfaEnrolled:
        try:
            parsed = uuid.UUID(str(factor_id))
        except ValueError:
            raise MfaError("no such pending factor") from None
        row = await mfa.pending_factor(session, subject, parsed, kind)
        if kind is MfaKind.TOTP:
            ok = await mfa.check_totp(session, row, code, info.context.settings)
        else:
            ok = await mfa.check_sms_code(_runtime(info), f"smsenrol:{row.id}", code)
        if not ok:
            raise InvalidCredentialsError("the code was not accepted")
        codes = await mfa.confirm_factor(session, row)
        await audit.record(session, actor_of(info), f"mfa.{kind.value.lower()}.confirm", subject)
        return MfaEnrolled(factor_id=strawberry.ID(str(row.id)), recovery_codes=codes)

    # A refused confirmation (wrong code, unknown factor) is audited as a failure.
    spec = replace(
        ENROLL,
        failure_audit=f"mfa.{kind.value.lower()}.confirm",
        audit_details=_no_details,
    )
    return await run(info, spec, confirm, _same)
