"""Logging setup and the request id carried through every log line of a request."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
# The caller's address as the server saw it (audit records written below the API layer).
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)
# The caller's User-Agent header, cut to the audit column (PCI DSS 10.2 "origination").
user_agent_var: ContextVar[str | None] = ContextVar("user_agent", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str, formatter: logging.Formatter | None = None) -> None:
    """Plain text lines unless ``formatter`` (the JSON one of ``PMS_LOG_FORMAT=json``)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        formatter
        or logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
