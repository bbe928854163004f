"""Identity tables: signing keys, staff, OAuth clients, MFA factors, session state."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from app.core.orm import bigint_pk_column, created_at_column, enum_check, updated_at_column


class StaffRole(StrEnum):
    ADMIN = "ADMIN"
    SUPPORT = "SUPPORT"
    MARKETER = "MARKETER"
    COMPLIANCE = "COMPLIANCE"
    FINANCE = "FINANCE"


class StaffStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class MfaKind(StrEnum):
    TOTP = "TOTP"
    SMS = "SMS"
    WEBAUTHN = "WEBAUTHN"


class SigningKey(SQLModel, table=True):
    """A JWT signing key. The newest unretired key signs; retired keys keep verifying
    until every token they signed has expired."""

    __tablename__ = "signing_keys"

    kid: str = Field(sa_column=Column(String(64), primary_key=True))
    algorithm: str = Field(sa_column=Column(String(16), nullable=False))
    private_key: str = Field(sa_column=Column(Text, nullable=False))  # sealed JWK (crypto.py)
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    retired_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Signs from then on (null: from creation); published in the JWKS before (rotation).
    activates_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class StaffMember(SQLModel, table=True):
    __tablename__ = "staff"
    __table_args__ = (
        Index("uq_staff_email", "email", unique=True),
        enum_check("role", StaffRole),
        enum_check("status", StaffStatus),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(sa_column=Column(String(254), nullable=False))
    display_name: str = Field(sa_column=Column(String(128), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    password_hash: str = Field(sa_column=Column(String(255), nullable=False))
    status: str = Field(
        default=StaffStatus.ACTIVE,
        sa_column=Column(String(16), nullable=False, server_default=StaffStatus.ACTIVE.value),
    )
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())
    updated_at: datetime | None = Field(default=None, sa_column=updated_at_column())


class OAuthClient(SQLModel, table=True):
    """A service client (game engine, payments, CRM, partner) using client_credentials."""

    __tablename__ = "oauth_clients"
    __table_args__ = (Index("uq_oauth_clients_name", "name", unique=True),)

    client_id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(128), nullable=False))
    secret_hash: str = Field(sa_column=Column(String(255), nullable=False))
    scopes: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String(64)), nullable=False, server_default=text("'{}'")),
    )
    active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true"))
    )
    created_by: str = Field(sa_column=Column(String(80), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class MfaFactor(SQLModel, table=True):
    """One enrolled second factor of a subject (``player:<id>`` or ``staff:<id>``)."""

    __tablename__ = "mfa_factors"
    __table_args__ = (
        Index("ix_mfa_factors_subject", "subject"),
        Index(
            "uq_mfa_factors_credential_id",
            "credential_id",
            unique=True,
            postgresql_where=text("credential_id IS NOT NULL"),
        ),
        enum_check("kind", MfaKind),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject: str = Field(sa_column=Column(String(80), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    label: str = Field(sa_column=Column(String(64), nullable=False, server_default=""))
    # TOTP secret / SMS phone number, sealed (crypto.py).
    secret: str | None = Field(default=None, sa_column=Column(Text))
    # TOTP: the last accepted time step, so a code cannot be replayed.
    last_used_step: int | None = Field(default=None, sa_column=Column(BigInteger))
    credential_id: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    public_key: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    sign_count: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class RecoveryCode(SQLModel, table=True):
    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_subject", "subject"),)

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    subject: str = Field(sa_column=Column(String(80), nullable=False))
    code_hash: str = Field(sa_column=Column(String(64), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class SmsMessage(SQLModel, table=True):
    """What the log SMS sender 'sent' (dev/test). A real gateway does not write here."""

    __tablename__ = "sms_outbox"

    id: int | None = Field(default=None, sa_column=bigint_pk_column())
    phone: str = Field(sa_column=Column(String(32), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=created_at_column())


class SessionState(SQLModel, table=True):
    """Expiring key/value session state when Redis is not configured (store.py)."""

    __tablename__ = "session_state"
    __table_args__ = (Index("ix_session_state_expires_at", "expires_at"),)

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    value: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
