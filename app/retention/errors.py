"""Refusals of the retention purge (CLI exit codes and task log lines name the code)."""

from __future__ import annotations

from app.core.errors import DomainError


class RetentionTooShort(DomainError):
    """A retention below the 5-year floor: nothing is purged."""

    code = "RETENTION_TOO_SHORT"


class MonthTooRecent(DomainError):
    """A month not wholly older than the retention."""

    code = "RETENTION_MONTH_TOO_RECENT"


class PurgeInProgress(DomainError):
    """Another purge holds the retention lock (one purge at a time, in any replica)."""

    code = "RETENTION_PURGE_IN_PROGRESS"


class ArchiveFailed(DomainError):
    """The archive bundle could not be written or does not verify: the partition stays."""

    code = "RETENTION_ARCHIVE_FAILED"
