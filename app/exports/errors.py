"""Export errors (each mapped to a GraphQL type in schema/error_registry.py)."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidExportCursor(DomainError):
    """Not a cursor this system issued, or one ahead of the data."""

    code = "INVALID_EXPORT_CURSOR"


class ExportCursorKindMismatch(DomainError):
    """A cursor of one export kind handed to another (a CRM cursor to the ERP export)."""

    code = "EXPORT_CURSOR_KIND_MISMATCH"


class ExportBusy(DomainError):
    """Transactions that may still add rows below the export's upper bound did not end in
    time; the range cannot be closed yet."""

    code = "EXPORT_BUSY"


class InvalidExportRange(DomainError):
    """A regulator export range that is reversed, empty, in the future or longer than the
    path allows (GraphQL runs bounded ranges; the CLI any)."""

    code = "EXPORT_RANGE_INVALID"
