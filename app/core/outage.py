"""Telling "a dependency is down" apart from a bug, and the per-request flag that turns
an answer into ``503 Service Unavailable`` with ``Retry-After``.

PostgreSQL stopped, restarting or unreachable and Redis down are not the client's fault
and not ours to trace: the client is told to retry, the operator sees one warning line.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

RETRY_AFTER_SECONDS = 1
UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "a dependency of the service is unavailable; retry shortly"


@dataclass
class OutageFlag:
    """Set by whatever part of a request met an unavailable dependency."""

    unavailable: bool = False


# One flag per HTTP request (set by the error boundary middleware); mutable, so a
# resolver task that copied the context still marks the request's own flag.
outage_var: ContextVar[OutageFlag | None] = ContextVar("pms_outage", default=None)


def mark_unavailable() -> None:
    flag = outage_var.get()
    if flag is not None:
        flag.unavailable = True


def _unavailable_types() -> tuple[type[BaseException], ...]:
    import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
    from sqlalchemy import exc as sa

    types: list[type[BaseException]] = [
        ConnectionError,  # refused, reset, aborted (OSError subclasses)
        sa.TimeoutError,  # pool checkout timed out: every connection is stuck or gone
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.CannotConnectNowError,  # starting up / shutting down
        asyncpg.exceptions.ConnectionFailureError,  # SQLSTATE class 08
        asyncpg.exceptions.AdminShutdownError,  # 57P01 terminated by administrator
        asyncpg.exceptions.CrashShutdownError,
    ]
    try:
        import redis.exceptions

        types += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(types)


def is_unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) means a dependency cannot be reached."""
    from sqlalchemy.exc import DBAPIError

    types = _unavailable_types()
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, types):
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if "connection is closed" in str(error):  # asyncpg InterfaceError on a dead socket
            return True
        if isinstance(error, OSError) and not isinstance(error, FileNotFoundError):
            return True  # socket errors without a ConnectionError subclass (EHOSTUNREACH)
        error = error.__cause__ or error.__context__
    return False
