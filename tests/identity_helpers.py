"""Shared test helpers of the identity tests: GraphQL documents, staff/client factories,
reading the SMS outbox and the audit log."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core.crypto import unseal
from app.core.db import Database
from app.core.settings import Settings
from app.identity import accounts
from app.identity.models import MfaFactor, SmsMessage

LOGIN = """
mutation Login($id: String!, $pw: String!) {
  login(loginOrEmail: $id, password: $pw) {
    __typename
    ... on AuthTokens { accessToken refreshToken expiresIn tokenType }
    ... on MfaRequired { challengeId methods webauthnOptions }
    ... on InvalidCredentials { code message }
    ... on TooManyAttempts { code message retryAfterSeconds }
  }
}
"""

STAFF_LOGIN = LOGIN.replace("Login(", "StaffLogin(").replace(
    "login(loginOrEmail: $id", "staffLogin(email: $id"
)

VERIFY_MFA = """
mutation Verify($c: String!, $m: MfaMethod!, $code: String, $a: JSON) {
  verifyMfa(challengeId: $c, method: $m, code: $code, assertion: $a) {
    __typename
    ... on AuthTokens { accessToken refreshToken expiresIn }
    ... on InvalidCredentials { code message }
    ... on TooManyAttempts { code retryAfterSeconds }
  }
}
"""

ME = """
query { me { __typename
  ... on Player { id login email }
  ... on StaffUser { id staffEmail: email role }
  ... on ServiceClient { clientId scopes } } }
"""

PASSWORD = "correct horse battery staple"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def create_staff(db: Database, settings: Settings, role: str = "SUPPORT", **kw: Any):
    """A staff member (with TOTP) -> (row, pyotp.TOTP, recovery codes)."""
    email = kw.pop("email", f"{role.lower()}{id(kw)}@casino.example")
    async with db.transaction() as session:
        row, uri, codes = await accounts.create_staff(
            session, email, role.title(), role, kw.pop("password", PASSWORD), settings
        )
    return row, pyotp.parse_uri(uri), codes


async def create_client(db: Database, settings: Settings, *scopes: str, name: str = "game"):
    from permissions.roles import SERVICE_SCOPES

    async with db.transaction() as session:
        return await accounts.create_client(
            session,
            name,
            list(scopes),
            "system:test",
            settings,
            frozenset(map(str, SERVICE_SCOPES)),
        )


async def totp_of(db: Database, settings: Settings, subject: str) -> pyotp.TOTP:
    async with db.read_session() as session:
        row = (
            await session.execute(
                select(MfaFactor).where(MfaFactor.subject == subject, MfaFactor.kind == "TOTP")
            )
        ).scalar_one()
    return pyotp.TOTP(unseal(row.secret, settings).decode())


async def last_sms_code(db: Database, phone: str) -> str:
    async with db.read_session() as session:
        body = (
            await session.execute(
                select(SmsMessage.body)
                .where(SmsMessage.phone == phone)
                .order_by(SmsMessage.id.desc())
                .limit(1)
            )
        ).scalar_one()
    return re.search(r"\b(\d{6})\b", body).group(1)


async def audit_rows(db: Database, action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    async with db.read_session() as session:
        return list((await session.execute(stmt)).scalars())
