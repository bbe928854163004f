"""Staff accounts and OAuth service clients. Services take a session and never commit."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import unique_violation_constraint
from app.core.errors import AlreadyExists, ValidationFailed
from app.core.password_policy import password_problem
from app.core.passwords import hash_password, verify_password
from app.core.settings import Settings
from app.identity import mfa
from app.identity.models import OAuthClient, StaffMember, StaffRole
from app.players.validation import normalise_email


async def create_staff(
    session: AsyncSession,
    email: str,
    display_name: str,
    role: str,
    password: str,
    settings: Settings,
) -> tuple[StaffMember, str, list[str]]:
    """A staff member with a TOTP factor already in place (staff sign-in always needs MFA):
    returns the row, the otpauth:// URI to scan, and the recovery codes (shown once)."""
    normalised = normalise_email(email)
    if normalised is None:
        raise ValidationFailed.single("email", "not a valid email address")
    if role not in StaffRole.__members__:
        raise ValidationFailed.single("role", f"one of {', '.join(StaffRole)}")
    if not settings.password_min_length <= len(password) <= settings.password_max_length:
        raise ValidationFailed.single("password", "length out of range")
    if weak := password_problem(password, login=None, email=normalised):
        raise ValidationFailed.single("password", weak)
    staff = StaffMember(
        id=uuid.uuid4(), email=normalised, display_name=display_name[:128] or normalised,
        role=role, password_hash=await hash_password(password, settings),
    )  # fmt: skip
    session.add(staff)
    try:
        await session.flush()
    except IntegrityError as exc:
        if unique_violation_constraint(exc) == "uq_staff_email":
            raise AlreadyExists("email", "a staff member with this email exists") from None
        raise
    subject = f"staff:{staff.id}"
    factor, uri = await mfa.begin_totp(session, subject, normalised, settings)
    codes = await mfa.confirm_factor(session, factor)
    return staff, uri, codes


async def create_client(
    session: AsyncSession,
    name: str,
    scopes: list[str],
    created_by: str,
    settings: Settings,
    grantable: frozenset[str],
) -> tuple[OAuthClient, str]:
    """A service client; the secret is returned once and stored only as an argon2 hash.
    ``grantable`` is permissions.roles.SERVICE_SCOPES (app/ does not import permissions/)."""
    unknown = sorted(set(scopes) - grantable)
    if unknown:
        raise ValidationFailed.single("scopes", f"not grantable: {', '.join(unknown)}")
    if not name or len(name) > 128:
        raise ValidationFailed.single("name", "1 to 128 characters")
    secret = secrets.token_urlsafe(32)
    client = OAuthClient(
        client_id="svc_" + secrets.token_hex(8), name=name, scopes=sorted(set(scopes)),
        secret_hash=await hash_password(secret, settings), created_by=created_by,
    )  # fmt: skip
    session.add(client)
    try:
        await session.flush()
    except IntegrityError as exc:
        if unique_violation_constraint(exc) == "uq_oauth_clients_name":
            raise AlreadyExists("name", "a client with this name exists") from None
        raise
    return client, secret


async def get_client(session: AsyncSession, client_id: str) -> OAuthClient | None:
    if len(client_id) > 64:
        return None
    return (
        await session.execute(select(OAuthClient).where(col(OAuthClient.client_id) == client_id))
    ).scalar_one_or_none()


async def check_client_secret(client: OAuthClient, secret: str, settings: Settings) -> bool:
    return await verify_password(client.secret_hash, secret, settings)
