"""Alert refusals, each with a stable code."""

from __future__ import annotations

from app.core.errors import DomainError


class InvalidAlertRule(DomainError):
    """A rule names an unknown kind or metric, or a window/threshold is out of range."""

    code = "INVALID_ALERT_RULE"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AlertNotOpen(DomainError):
    """The alert is resolved already (or acknowledged already, for an acknowledgement)."""

    code = "ALERT_NOT_OPEN"
