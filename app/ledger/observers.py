"""Operation observers: code outside the ledger (metrics) learns of every money operation
without the ledger importing it. The composition root registers them
(``pms.hooks.register_observability``); ``observed`` wraps the kernel's ``run_operation``.

An observer gets (operation name, outcome, replayed, seconds) after the operation's
statements ran, in the caller's transaction (a later rollback is not seen): outcome is
``OK``, the stored business error's status (``INSUFFICIENT_FUNDS``) or the code of the
DomainError raised; an unexpected exception is ``ERROR``. No I/O, no round trip.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, Protocol, TypeVar

from app.core.errors import DomainError

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Observed(Protocol):
    """What ``observed`` needs of an outcome (the kernel's ``Outcome``)."""

    @property
    def replayed(self) -> bool: ...

    @property
    def status(self) -> str: ...


R = TypeVar("R", bound=Observed)

Observer = Callable[[str, str, bool, float], None]

_observers: list[Observer] = []


def register(observer: Observer) -> None:
    """Idempotent: registering the same function twice keeps one."""
    if observer not in _observers:
        _observers.append(observer)


def unregister(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def notify(operation: str, outcome: str, replayed: bool, seconds: float) -> None:
    for observer in _observers:
        try:
            observer(operation, outcome, replayed, seconds)
        except Exception:  # a broken observer must never fail a money operation
            log.exception("ledger observer %r failed", observer)


def observed(run: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Times ``run(session, settings, caller, spec, ...)`` and reports to the observers."""

    @functools.wraps(run)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not _observers:
            return await run(*args, **kwargs)
        spec = kwargs["spec"] if "spec" in kwargs else args[3]
        name = str(getattr(spec, "name", "unknown"))
        started = time.perf_counter()
        try:
            outcome = await run(*args, **kwargs)
        except DomainError as exc:
            notify(name, exc.code, False, time.perf_counter() - started)
            raise
        except Exception:
            notify(name, "ERROR", False, time.perf_counter() - started)
            raise
        notify(name, outcome.status, outcome.replayed, time.perf_counter() - started)
        return outcome

    return wrapper
