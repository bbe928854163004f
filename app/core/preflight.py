"""Production start-up checks, run before anything touches a database (issue 17 item 1).

Each problem is one line naming the setting; ``pms serve``/``worker``/``migrate`` print them
and exit with status 1 instead of starting, migrating, or failing later with a traceback.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from pydantic import ValidationError

from app.core.crypto import DEV_SECRET_KEY
from app.core.settings import Settings

# PMS_* variables read by something other than Settings (the test suite's databases).
EXTRA_VARIABLES = frozenset({"PMS_TEST_DATABASE_URL", "PMS_TEST_REDIS_URL", "PMS_TEST_AMQP_URL"})
DEV_DOCUMENT_HASH_KEY = Settings.model_fields["kyc_document_hash_key"].default


class StartupRefused(SystemExit):
    """A SystemExit with the problems as its message: the interpreter prints it (one line
    per problem) on stderr and exits with status 1, no traceback."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"pms: refusing to start: {p}" for p in problems))
        self.problems = problems


def known_variables() -> frozenset[str]:
    return frozenset(f"PMS_{name.upper()}" for name in Settings.model_fields) | EXTRA_VARIABLES


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    known = known_variables()
    return sorted(k for k in environ if k.upper().startswith("PMS_") and k.upper() not in known)


def production_problems(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """What makes this configuration unfit for PMS_ENV=prod (empty outside prod)."""
    if settings.env != "prod":
        return []
    problems = [f"unknown setting {name} (a typo?)" for name in unknown_variables(environ)]
    if not settings.database_url:
        problems.append("PMS_DATABASE_URL is not set (no embedded PostgreSQL in prod)")
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not secret or secret == DEV_SECRET_KEY:
        problems.append("PMS_SECRET_KEY is missing or the development default")
    hash_key = settings.kyc_document_hash_key
    if not hash_key or hash_key == DEV_DOCUMENT_HASH_KEY:
        problems.append("PMS_KYC_DOCUMENT_HASH_KEY is missing or the development default")
    if settings.sms_sender == "log":
        problems.append("PMS_SMS_SENDER=log is for development only: set module:Class of a gateway")
    elif not importable(settings.sms_sender):
        problems.append(f"PMS_SMS_SENDER={settings.sms_sender} is no importable module:Class")
    return problems


def importable(target: str) -> bool:
    """``module:Class`` names an attribute of an importable module (a placeholder or typo
    fails here, not at the first SMS)."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return bool(attribute) and hasattr(module, attribute)


def check(settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    problems = production_problems(settings, os.environ if environ is None else environ)
    if problems:
        raise StartupRefused(problems)


def settings_error_lines(exc: ValidationError) -> list[str]:
    """A bad PMS_* value as ``PMS_PORT: Input should be a valid integer`` (no traceback)."""
    lines = []
    for error in exc.errors():
        name = "PMS_" + str(error["loc"][0]).upper() if error["loc"] else "settings"
        lines.append(f"{name}: {error['msg']}")
    return lines
