"""Sign-in: password check with brute-force throttling, then MFA when enrolled (always for
staff), ending in a token pair. Unknown accounts cost the same argon2 verification (against
a dummy hash) and get the same error and the same lockout as known ones."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import col

from app.audit import service as audit
from app.core.crypto import token_hash
from app.core.identifiers import normalise_identifier
from app.core.passwords import hash_password, verify_password
from app.core.principal import Principal, PrincipalKind
from app.core.settings import Settings
from app.identity import mfa, mfa_lockout, sessions
from app.identity.errors import InvalidCredentials, MfaError, TooManyAttempts
from app.identity.models import MfaKind, StaffMember, StaffStatus
from app.identity.runtime import IdentityRuntime
from app.identity.standing import LOGIN_ALLOWED_PLAYER_STATUSES
from app.players.models import Player
from app.players.validation import normalise_email

_dummy_hashes: dict[tuple[int, int, int], str] = {}


@dataclass(frozen=True)
class MfaChallenge:
    challenge_id: str
    methods: list[str]
    webauthn_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Account:
    principal: Principal
    password_hash: str
    active: bool
    mfa_required: bool = False
    phone_factors: list[Any] = field(default_factory=list)


async def _dummy_hash(settings: Settings) -> str:
    params = (
        settings.argon2_time_cost,
        settings.argon2_memory_cost_kib,
        settings.argon2_parallelism,
    )
    if params not in _dummy_hashes:
        _dummy_hashes[params] = await hash_password(secrets.token_urlsafe(16), settings)
    return _dummy_hashes[params]


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return int(value.get("n", 0))
    return int(value) if isinstance(value, int) else 0


def _throttle_keys(
    kind: str, identifier: str, account: Account | None, ip: str | None
) -> tuple[str, str]:
    """The account's bucket (keyed on the resolved account, so every spelling of its login
    or email shares it; an unknown identifier gets one by its normalised text) and the
    client ip's, a much higher ceiling since many people share one proxy."""
    owner = account.principal.key if account else f"?{normalise_identifier(identifier)}"
    return (f"thr:{kind}:a:{token_hash(owner)}", f"thr:ip:{ip or '-'}")


async def _check_throttle(runtime: IdentityRuntime, keys: tuple[str, str]) -> None:
    settings = runtime.settings
    account, ip = await runtime.store.get_many(list(keys))
    if _count(account) >= settings.login_max_failures_per_account:
        raise TooManyAttempts(max(await runtime.store.ttl(keys[0]), 1))
    if _count(ip) >= settings.login_max_failures_per_ip:
        raise TooManyAttempts(max(await runtime.store.ttl(keys[1]), 1))


async def _record_failure(runtime: IdentityRuntime, keys: tuple[str, str]) -> None:
    window = runtime.settings.login_lockout_seconds
    for key in keys:
        await runtime.store.incr(key, window)


async def _find_player(runtime: IdentityRuntime, identifier: str) -> Account | None:
    canonical = normalise_identifier(identifier)
    email = normalise_email(canonical) if "@" in canonical else None
    condition = col(Player.email) == email if email else func.lower(col(Player.login)) == canonical
    async with runtime.db.read_session() as session:
        row = (await session.execute(select(Player).where(condition))).scalar_one_or_none()
    if row is None:
        return None
    return Account(
        principal=Principal(PrincipalKind.PLAYER, id=str(row.id)),
        password_hash=row.password_hash,
        active=row.status in LOGIN_ALLOWED_PLAYER_STATUSES,
    )


async def _find_staff(runtime: IdentityRuntime, identifier: str) -> Account | None:
    email = normalise_email(identifier) or normalise_identifier(identifier)
    async with runtime.db.read_session() as session:
        stmt = select(StaffMember).where(or_(col(StaffMember.email) == email))
        row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        return None
    return Account(
        principal=Principal(PrincipalKind.STAFF, id=str(row.id), roles=frozenset({row.role})),
        password_hash=row.password_hash,
        active=row.status == StaffStatus.ACTIVE,
        mfa_required=True,
    )


async def login(
    runtime: IdentityRuntime, identifier: str, password: str, ip: str | None, *, staff: bool = False
) -> tuple[sessions.TokenPair | MfaChallenge, Principal]:
    """Check the password; tokens, or an MFA challenge when the account has factors.

    Raises ``TooManyAttempts`` (locked identifier or ip, known or not) or
    ``InvalidCredentials`` (unknown account, wrong password, inactive account).
    """
    settings = runtime.settings
    if len(identifier) > 254 or len(password) > settings.password_max_length:
        account = None
    else:
        account = await (_find_staff if staff else _find_player)(runtime, identifier)
    keys = _throttle_keys("staff" if staff else "player", identifier, account, ip)
    await _check_throttle(runtime, keys)
    stored = account.password_hash if account else await _dummy_hash(settings)
    password_ok = await verify_password(stored, password, settings)
    if account is None or not password_ok or not account.active:
        await _record_failure(runtime, keys)
        raise InvalidCredentials()
    await runtime.store.delete(keys[0])
    challenge = await _challenge_for(runtime, account)
    if challenge is not None:
        return challenge, account.principal
    if account.mfa_required:
        raise MfaError("staff sign-in needs an enrolled second factor")
    return await sessions.start_session(runtime, account.principal, ("pwd",)), account.principal


async def _challenge_for(runtime: IdentityRuntime, account: Account) -> MfaChallenge | None:
    subject = account.principal.key
    async with runtime.db.read_session() as session:
        rows = await mfa.factors(session, subject)
        recovery = await mfa.has_recovery_codes(session, subject)
    if not rows:
        return None
    challenge_id = secrets.token_urlsafe(24)
    data: dict[str, Any] = {"principal": {"kind": account.principal.kind.value,
                                          "id": account.principal.id,
                                          "roles": sorted(account.principal.roles)}}  # fmt: skip
    options = None
    keys = [r for r in rows if r.kind == MfaKind.WEBAUTHN]
    if keys:
        options, data["webauthn_challenge"] = mfa.webauthn_authentication_options(
            keys, runtime.settings
        )
    await runtime.store.put(f"mfa:{challenge_id}", data, runtime.settings.mfa_challenge_ttl_seconds)
    return MfaChallenge(challenge_id, mfa.methods_of(rows, recovery), options)


async def _challenge(
    runtime: IdentityRuntime, challenge_id: str
) -> tuple[dict[str, Any], Principal]:
    data = await runtime.store.get(f"mfa:{challenge_id}") if len(challenge_id) < 100 else None
    if data is None:
        raise InvalidCredentials("the sign-in challenge is unknown or expired")
    p = data["principal"]
    return data, Principal(PrincipalKind(p["kind"]), id=p["id"], roles=frozenset(p["roles"]))


async def send_sms_for_challenge(
    runtime: IdentityRuntime, challenge_id: str, ip: str | None = None
) -> None:
    _, principal = await _challenge(runtime, challenge_id)
    async with runtime.db.read_session() as session:
        phones = [f for f in await mfa.factors(session, principal.key) if f.kind == MfaKind.SMS]
    if not phones:
        raise MfaError("no phone is enrolled")
    phone = mfa.phone_of(phones[0], runtime.settings)
    await mfa.send_sms_code(runtime, f"mfa:{challenge_id}:sms", phone, principal.key, ip)


async def verify_mfa(
    runtime: IdentityRuntime,
    challenge_id: str,
    method: str,
    code: str | None,
    assertion: dict[str, Any] | None,
    actor: audit.Actor | None = None,
) -> tuple[sessions.TokenPair, Principal]:
    """Second step of sign-in. ``TooManyAttempts`` past the challenge's tries or while the
    account's second factor is locked (mfa_lockout.py); ``InvalidCredentials`` otherwise."""
    settings = runtime.settings
    data, principal = await _challenge(runtime, challenge_id)
    subject = principal.key
    await mfa_lockout.ensure_unlocked(runtime, subject)
    attempts = await runtime.store.incr(f"mfa:{challenge_id}:n", settings.mfa_challenge_ttl_seconds)
    if attempts > settings.mfa_max_attempts:
        await runtime.store.delete(f"mfa:{challenge_id}")
        raise TooManyAttempts(1)
    try:
        await _check_second_factor(runtime, challenge_id, data, subject, method, code, assertion)
    except InvalidCredentials:
        locked = await mfa_lockout.record_failure(runtime, subject, actor or audit.Actor(subject))
        if locked:
            await runtime.store.delete(f"mfa:{challenge_id}")
            raise TooManyAttempts(locked) from None
        raise
    await mfa_lockout.clear_failures(runtime, subject)
    pair = await sessions.start_session(runtime, principal, ("pwd", method.lower()))
    return pair, principal


async def _check_second_factor(
    runtime: IdentityRuntime,
    challenge_id: str,
    data: dict[str, Any],
    subject: str,
    method: str,
    code: str | None,
    assertion: dict[str, Any] | None,
) -> None:
    settings = runtime.settings
    ok = False
    async with runtime.db.transaction() as session:
        if method == MfaKind.TOTP and code:
            for factor in await mfa.factors(session, subject):
                if factor.kind == MfaKind.TOTP and await mfa.check_totp(
                    session, factor, code, settings
                ):
                    ok = True
                    break
        elif method == MfaKind.SMS and code:
            ok = await mfa.check_sms_code(runtime, f"mfa:{challenge_id}:sms", code)
        elif method == "RECOVERY_CODE" and code:
            ok = await mfa.use_recovery_code(session, subject, code)
        elif method == MfaKind.WEBAUTHN and assertion and data.get("webauthn_challenge"):
            ok = await mfa.check_webauthn(
                session, subject, assertion, data["webauthn_challenge"], settings
            )
        # The challenge is consumed atomically: of two concurrent successes one wins.
        if ok and await runtime.store.take(f"mfa:{challenge_id}") is None:
            ok = False
        if not ok:
            raise InvalidCredentials("the code or security key was not accepted")


async def staff_by_id(runtime: IdentityRuntime, staff_id: str) -> StaffMember | None:
    try:
        key = uuid.UUID(staff_id)
    except ValueError:
        return None
    async with runtime.db.read_session() as session:
        return await session.get(StaffMember, key)
