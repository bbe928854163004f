"""``pms client create``, ``pms staff create``, ``pms keys rotate`` and ``pms keys reseal``."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from typing import Any

from app.core.db import Database
from app.core.settings import Settings
from pms.cli_db import run_with_database


def cmd_client_create(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import service as audit
    from app.core.errors import DomainError
    from app.identity import accounts
    from permissions.roles import SERVICE_SCOPES

    async def work(db: Database) -> int:
        try:
            async with db.transaction() as session:
                client, secret = await accounts.create_client(
                    session, args.name, args.scope, "system:cli", settings,
                    frozenset(map(str, SERVICE_SCOPES)),
                )  # fmt: skip
                target = f"service:{client.client_id}"
                await audit.record(session, audit.Actor("system:cli"), "client.create", target,
                                   details={"scopes": client.scopes})  # fmt: skip
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(f"client_id: {client.client_id}")
        print(f"client_secret: {secret}")
        print(f"scopes: {' '.join(client.scopes)}")
        print("The secret is shown only now; it is stored hashed.", file=sys.stderr)
        return 0

    return run_with_database(settings, work)


def cmd_staff_create(settings: Settings, args: argparse.Namespace) -> int:
    from app.audit import service as audit
    from app.core.errors import DomainError
    from app.identity import accounts

    password = args.password or (
        secrets.token_urlsafe(18) if args.generate else getpass.getpass("password: ")
    )

    async def work(db: Database) -> int:
        try:
            async with db.transaction() as session:
                staff, uri, codes = await accounts.create_staff(
                    session, args.email, args.name or args.email, args.role, password, settings
                )
                await audit.record(session, audit.Actor("system:cli"), "staff.create",
                                   f"staff:{staff.id}", details={"role": staff.role})  # fmt: skip
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        print(f"staff id: {staff.id} ({staff.role})")
        if args.generate:
            print(f"password: {password}")
        print(f"TOTP (scan as QR code): {uri}")
        print("recovery codes: " + " ".join(codes))
        return 0

    return run_with_database(settings, work)


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from app.identity import keys

    async def work(db: Database) -> int:
        async with db.transaction() as session:
            row = await keys.rotate(session, settings)
        print(f"new signing key: {row.kid}, published now, signs from {row.activates_at}")
        return 0

    return run_with_database(settings, work)


def sealed_columns() -> list[Any]:
    """Every column sealed with PMS_SECRET_KEY (app/core/crypto.py)."""
    from app.core.reseal import SealedColumn
    from app.events.models import WebhookEndpoint
    from app.identity.models import MfaFactor, SigningKey

    return [
        SealedColumn(SigningKey.__table__, "private_key"),  # type: ignore[attr-defined]
        SealedColumn(MfaFactor.__table__, "secret"),  # type: ignore[attr-defined]
        SealedColumn(WebhookEndpoint.__table__, "secret"),  # type: ignore[attr-defined]
    ]


def cmd_keys_reseal(settings: Settings, args: argparse.Namespace) -> int:
    """Re-seal everything an old key (PMS_OLD_SECRET_KEYS) opens under PMS_SECRET_KEY, in
    one transaction: a value no key opens stops it with nothing changed."""
    from app.core.reseal import reseal_column

    async def work(db: Database) -> int:
        async with db.transaction() as session:
            counts = [(c.name, await reseal_column(session, c, settings)) for c in sealed_columns()]
        for name, count in counts:
            print(f"{name}: {count} re-sealed")
        return 0

    return run_with_database(settings, work)


def register(sub: Any) -> None:
    from app.identity.models import StaffRole

    client = sub.add_parser("client", help="OAuth2 service clients").add_subparsers(
        dest="client_command", required=True
    )
    create = client.add_parser("create", help="create a client; prints its id and secret once")
    create.add_argument("name")
    create.add_argument("--scope", action="append", default=[], help="repeat for each scope")
    create.set_defaults(handler=cmd_client_create)

    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(
        dest="staff_command", required=True
    )
    screate = staff.add_parser("create", help="create a staff member with TOTP")
    screate.add_argument("email")
    screate.add_argument("--role", required=True, choices=[r.value for r in StaffRole])
    screate.add_argument("--name", default=None)
    screate.add_argument("--password", default=None, help="default: prompt")
    screate.add_argument("--generate", action="store_true", help="generate and print a password")
    screate.set_defaults(handler=cmd_staff_create)

    keys_parser = sub.add_parser("keys", help="JWT signing keys").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = keys_parser.add_parser("rotate", help="retire the signing key and make a new one")
    rotate.set_defaults(handler=cmd_keys_rotate)
    reseal = keys_parser.add_parser(
        "reseal", help="re-seal secrets at rest under PMS_SECRET_KEY (after a secret-key rotation)"
    )
    reseal.set_defaults(handler=cmd_keys_reseal)
