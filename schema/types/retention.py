"""Typed errors of the retention purge (answered by the CLI and the scheduled task today;
registered so any GraphQL mutation that runs a purge answers them typed)."""

from __future__ import annotations

import strawberry

from schema.errors import UserError


@strawberry.type(description="A retention below the 5-year floor: nothing is purged.")
class RetentionTooShort(UserError):
    pass


@strawberry.type(description="A month not wholly older than the retention.")
class RetentionMonthTooRecent(UserError):
    pass


@strawberry.type(description="Another retention purge is running.")
class RetentionPurgeInProgress(UserError):
    pass


@strawberry.type(description="The archive could not be written or verified; nothing dropped.")
class RetentionArchiveFailed(UserError):
    pass
