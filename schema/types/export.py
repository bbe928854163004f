"""Typed errors of the CRM/ERP exports."""

from __future__ import annotations

import strawberry

from schema.errors import UserError


@strawberry.type(description="Not an export cursor this system issued, or one ahead of the data.")
class InvalidExportCursor(UserError):
    pass


@strawberry.type(description="A cursor of another export kind (a CRM cursor for ERP).")
class ExportCursorKindMismatch(UserError):
    pass


@strawberry.type(description="The export range could not be closed yet; retry later.")
class ExportBusy(UserError):
    pass


@strawberry.type(description="A marketing list that cannot be read as a whole; nothing applied.")
class ImportFileInvalid(UserError):
    pass


@strawberry.type(description="The list's dry run found row errors; nothing applied.")
class ImportHasErrors(UserError):
    pass


@strawberry.type(description="This import id was applied before with another file.")
class ImportIdReused(UserError):
    pass


@strawberry.type(
    description="A regulator export range that is reversed, empty, in the future or longer "
    "than this path allows."
)
class InvalidExportRange(UserError):
    pass
