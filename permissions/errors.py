"""The error types the permission layer itself answers with: the ``UserError`` interface
every typed failure implements, and ``Forbidden``. They live here, below schema/, so that
permission classes need nothing from the schema (schema/errors.py re-exports them)."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An expected failure; `code` is stable for machines.")
class UserError:
    code: str
    message: str


@strawberry.type(description="The caller may not do this; nothing was changed (it is audited).")
class Forbidden(UserError):
    required_permission: str
