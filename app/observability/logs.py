"""Structured logs: with ``PMS_LOG_FORMAT=json`` every line is one JSON object carrying the
request id and, when tracing is on, the trace and span ids (so a log line and its trace
join up in the log store)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from app.core.logging import request_id_var
from app.core.settings import Settings

# Set by tracing.enable(); without tracing there is no trace id (and no import of OTel).
TraceIds = Callable[[], tuple[str, str] | None]
_trace_ids: TraceIds = lambda: None  # noqa: E731

# LogRecord attributes that are not "extra" fields of the caller.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def set_trace_ids(source: TraceIds) -> None:
    global _trace_ids
    _trace_ids = source


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        ids = _trace_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_formatter(settings: Settings) -> logging.Formatter | None:
    """The JSON formatter when ``PMS_LOG_FORMAT=json``; None keeps the text format."""
    return JsonFormatter() if settings.log_format == "json" else None
