"""Second factors: TOTP (RFC 6238, codes accepted within +-1 step and never twice), SMS
one-time codes (6 digits, hashed, short-lived, few tries), WebAuthn security keys
(py_webauthn ceremonies, challenge kept server-side, sign count checked) and single-use
recovery codes. Services take a session and never commit."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pyotp
import webauthn
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from app.core.crypto import seal, token_hash, unseal
from app.core.settings import Settings
from app.identity.errors import MfaError, TooManyAttempts
from app.identity.models import MfaFactor, MfaKind, RecoveryCode
from app.identity.runtime import IdentityRuntime

TOTP_STEP = 30
RECOVERY_CODE_COUNT = 10


async def factors(session: AsyncSession, subject: str, confirmed: bool = True) -> list[MfaFactor]:
    stmt = select(MfaFactor).where(col(MfaFactor.subject) == subject)
    if confirmed:
        stmt = stmt.where(col(MfaFactor.confirmed_at).is_not(None))
    return list((await session.execute(stmt.order_by(col(MfaFactor.created_at)))).scalars())


def methods_of(rows: list[MfaFactor], has_recovery: bool) -> list[str]:
    methods = sorted({row.kind for row in rows})
    return [*methods, "RECOVERY_CODE"] if has_recovery and methods else methods


async def has_recovery_codes(session: AsyncSession, subject: str) -> bool:
    stmt = select(col(RecoveryCode.id)).where(
        col(RecoveryCode.subject) == subject, col(RecoveryCode.used_at).is_(None)
    )
    return (await session.execute(stmt.limit(1))).first() is not None


# --- TOTP ------------------------------------------------------------------------------


def totp_uri(secret: str, account: str, settings: Settings) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=settings.webauthn_rp_name)


async def begin_totp(
    session: AsyncSession, subject: str, account: str, settings: Settings
) -> tuple[MfaFactor, str]:
    """An unconfirmed TOTP factor and its otpauth:// URI (shown once as a QR code)."""
    secret = pyotp.random_base32()
    row = MfaFactor(
        subject=subject,
        kind=MfaKind.TOTP,
        label="authenticator",
        secret=seal(secret.encode(), settings),
    )
    session.add(row)
    await session.flush()
    return row, totp_uri(secret, account, settings)


def _matching_step(secret: str, code: str, now: float) -> int | None:
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // TOTP_STEP)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


async def check_totp(
    session: AsyncSession,
    factor: MfaFactor,
    code: str,
    settings: Settings,
    now: float | None = None,
) -> bool:
    """Accept ``code`` once: the step it matches must be later than the last one used
    (a conditional UPDATE, so two concurrent uses of one code cannot both pass)."""
    assert factor.secret is not None
    step = _matching_step(unseal(factor.secret, settings).decode(), code, now or time.time())
    if step is None:
        return False
    result = await session.execute(
        update(MfaFactor)
        .where(col(MfaFactor.id) == factor.id)
        .where((col(MfaFactor.last_used_step).is_(None)) | (col(MfaFactor.last_used_step) < step))
        .values(last_used_step=step)
        .returning(col(MfaFactor.id))
    )
    return result.first() is not None


async def confirm_factor(session: AsyncSession, factor: MfaFactor) -> list[str]:
    """Activate a factor; the subject's first factor also gets recovery codes (returned once)."""
    first = not await factors(session, factor.subject)
    await session.execute(
        update(MfaFactor)
        .where(col(MfaFactor.id) == factor.id)
        .values(confirmed_at=datetime.now(UTC))
    )
    return await new_recovery_codes(session, factor.subject) if first else []


async def pending_factor(
    session: AsyncSession, subject: str, factor_id: uuid.UUID, kind: MfaKind
) -> MfaFactor:
    row = await session.get(MfaFactor, factor_id)
    if row is None or row.subject != subject or row.kind != kind or row.confirmed_at is not None:
        raise MfaError("no such pending factor")
    return row


# --- recovery codes --------------------------------------------------------------------


async def new_recovery_codes(session: AsyncSession, subject: str) -> list[str]:
    """Replace the subject's recovery codes with fresh ones (returned in clear once)."""
    await session.execute(
        update(RecoveryCode)
        .where(col(RecoveryCode.subject) == subject, col(RecoveryCode.used_at).is_(None))
        .values(used_at=datetime.now(UTC))
    )
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(subject=subject, code_hash=token_hash(c)) for c in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, subject: str, code: str) -> bool:
    result = await session.execute(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.subject) == subject,
            col(RecoveryCode.code_hash) == token_hash(code.strip().lower()),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=datetime.now(UTC))
        .returning(col(RecoveryCode.id))
    )
    return result.first() is not None


# --- SMS -------------------------------------------------------------------------------


def sms_code_hash(salt: str, code: str) -> str:
    return token_hash(f"{salt}:{code}")


async def _within(runtime: IdentityRuntime, key: str, limit: int, window: int) -> None:
    if await runtime.store.incr(key, window) > limit:
        raise TooManyAttempts(max(await runtime.store.ttl(key), 1))


async def send_sms_code(
    runtime: IdentityRuntime, key: str, phone: str, subject: str, ip: str | None
) -> None:
    """Send a fresh 6-digit code and keep only its salted hash under ``key``.

    Raises TooManyAttempts past ``sms_max_sends_per_code`` sends for one key (a re-send does
    not reset the try counter either), ``sms_max_sends_per_phone_per_hour`` to one number,
    or the hourly caps per account and per client ip (SMS pumping through many numbers).
    """
    settings = runtime.settings
    await _within(runtime, f"{key}:sends", settings.sms_max_sends_per_code,
                  settings.sms_code_ttl_seconds)  # fmt: skip
    await _within(runtime, f"smsacct:{subject}", settings.sms_max_sends_per_account_per_hour, 3600)
    await _within(runtime, f"smsip:{ip or '-'}", settings.sms_max_sends_per_ip_per_hour, 3600)
    phone_key = f"smsphone:{token_hash(phone)}"
    await _within(runtime, phone_key, settings.sms_max_sends_per_phone_per_hour, 3600)
    code = f"{secrets.randbelow(10**6):06d}"
    await runtime.store.put(
        key, {"hash": sms_code_hash(key, code), "tries": 0}, settings.sms_code_ttl_seconds
    )
    await runtime.sms.send(phone, f"Your PMS code is {code}. It expires in 5 minutes.")


async def check_sms_code(runtime: IdentityRuntime, key: str, code: str) -> bool:
    """At most ``sms_code_max_attempts`` tries; a matching code works once."""
    tries = await runtime.store.incr(f"{key}:tries", runtime.settings.sms_code_ttl_seconds)
    if tries > runtime.settings.sms_code_max_attempts:
        await runtime.store.delete(key)
        return False
    stored = await runtime.store.get(key)
    if stored is None or not secrets.compare_digest(stored["hash"], sms_code_hash(key, code)):
        return False
    return await runtime.store.take(key) is not None


def phone_of(factor: MfaFactor, settings: Settings) -> str:
    assert factor.secret is not None
    return unseal(factor.secret, settings).decode()


async def begin_sms(
    session: AsyncSession, runtime: IdentityRuntime, subject: str, phone: str, ip: str | None
) -> MfaFactor:
    row = MfaFactor(
        subject=subject, kind=MfaKind.SMS, label=f"***{phone[-2:]}",
        secret=seal(phone.encode(), runtime.settings),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await send_sms_code(runtime, f"smsenrol:{row.id}", phone, subject, ip)
    return row


# --- WebAuthn --------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def webauthn_registration_options(
    session: AsyncSession, runtime: IdentityRuntime, subject: str, user_name: str
) -> dict[str, Any]:
    settings = runtime.settings
    existing = [f for f in await factors(session, subject) if f.kind == MfaKind.WEBAUTHN]
    options = webauthn.generate_registration_options(
        rp_id=settings.webauthn_rp_id,
        rp_name=settings.webauthn_rp_name,
        user_name=user_name,
        user_id=subject.encode(),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=f.credential_id) for f in existing if f.credential_id
        ],
    )
    await runtime.store.put(
        f"wareg:{subject}",
        {"challenge": _b64url(options.challenge)},
        settings.mfa_challenge_ttl_seconds,
    )
    options_json: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return options_json


async def register_webauthn(
    session: AsyncSession,
    runtime: IdentityRuntime,
    subject: str,
    credential: dict[str, Any],
    label: str,
) -> tuple[MfaFactor, list[str]]:
    settings = runtime.settings
    pending = await runtime.store.take(f"wareg:{subject}")
    if pending is None:
        raise MfaError("no registration in progress (or it expired)")
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=webauthn.base64url_to_bytes(pending["challenge"]),
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=list(settings.webauthn_origins),
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise MfaError(f"the security key registration was rejected: {exc}") from None
    row = MfaFactor(
        subject=subject, kind=MfaKind.WEBAUTHN, label=label[:64] or "security key",
        credential_id=verified.credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    codes = await confirm_factor(session, row)
    return row, codes


def webauthn_authentication_options(
    rows: list[MfaFactor], settings: Settings
) -> tuple[dict[str, Any], str]:
    options = webauthn.generate_authentication_options(
        rp_id=settings.webauthn_rp_id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=r.credential_id) for r in rows if r.credential_id
        ],
    )
    return json.loads(webauthn.options_to_json(options)), _b64url(options.challenge)


async def check_webauthn(
    session: AsyncSession,
    subject: str,
    assertion: dict[str, Any],
    challenge: str,
    settings: Settings,
) -> bool:
    """Verify an assertion against the subject's OWN credentials and the stored challenge;
    the sign count must grow (a cloned key shows an old count)."""
    try:
        raw_id = webauthn.base64url_to_bytes(str(assertion["rawId"]))
    except (KeyError, ValueError, TypeError):
        return False
    stmt = select(MfaFactor).where(
        col(MfaFactor.subject) == subject,
        col(MfaFactor.kind) == MfaKind.WEBAUTHN,
        col(MfaFactor.credential_id) == raw_id,
        col(MfaFactor.confirmed_at).is_not(None),
    )
    factor = (await session.execute(stmt)).scalar_one_or_none()
    if factor is None or factor.public_key is None:
        return False
    try:
        verified = webauthn.verify_authentication_response(
            credential=assertion,
            expected_challenge=webauthn.base64url_to_bytes(challenge),
            expected_rp_id=settings.webauthn_rp_id,
            expected_origin=list(settings.webauthn_origins),
            credential_public_key=factor.public_key,
            credential_current_sign_count=factor.sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return False
    result = await session.execute(
        update(MfaFactor)
        .where(col(MfaFactor.id) == factor.id, col(MfaFactor.sign_count) == factor.sign_count)
        .values(sign_count=verified.new_sign_count)
        .returning(col(MfaFactor.id))
    )
    return result.first() is not None
