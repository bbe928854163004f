"""Import errors (each mapped to a GraphQL type in schema/error_registry.py)."""

from __future__ import annotations

from app.core.errors import DomainError


class ImportFileInvalid(DomainError):
    """The file as a whole cannot be read: too big, not UTF-8, wrong delimiter, missing
    header columns."""

    code = "IMPORT_FILE_INVALID"


class ImportHasErrors(DomainError):
    """Confirmation of a file whose dry run found row errors: nothing is applied."""

    code = "IMPORT_HAS_ERRORS"


class ImportIdReused(DomainError):
    """The import id was applied before with a different file."""

    code = "IMPORT_ID_REUSED"
