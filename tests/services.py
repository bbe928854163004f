"""Which real services the suite talks to, and the check that they are reachable.

PostgreSQL: ``PMS_TEST_DATABASE_URL`` or, unset, an embedded server under ``.pms/test``.
Redis / RabbitMQ: ``PMS_TEST_REDIS_URL`` / ``PMS_TEST_AMQP_URL``; tests needing one are
skipped with a reason when it is unset, unless ``PMS_REQUIRE_SERVICES=1`` (CI), where a
missing or unreachable service fails the whole run naming it.

Under pytest-xdist (``make test`` runs two workers) each worker has a database of its own
(the URL's name plus the worker id) and the Redis db after the configured one per worker
index, so ids restarting in every worker's database never meet in one Redis keyspace.
Pub/sub channels, RabbitMQ exchanges and ports are global: tests name or pick theirs
uniquely (``realtime_settings``, ``free_port``).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

# pytest-xdist's worker id ("gw0", "gw1", ...), empty in a run without workers.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
WORKER_INDEX = int(WORKER[2:]) if WORKER.startswith("gw") else 0


def worker_redis_url(url: str) -> str:
    """The Redis db ``WORKER_INDEX`` places after the URL's own (of 16)."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number + WORKER_INDEX) % 16}"))


REQUIRE_SERVICES = os.environ.get("PMS_REQUIRE_SERVICES") == "1"
DATABASE_URL = os.environ.get("PMS_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("PMS_TEST_REDIS_URL") or None
if REDIS_URL and WORKER:
    REDIS_URL = worker_redis_url(REDIS_URL)
AMQP_URL = os.environ.get("PMS_TEST_AMQP_URL") or None

SERVICES = {
    "PostgreSQL (PMS_TEST_DATABASE_URL)": (DATABASE_URL, 5432),
    "Redis (PMS_TEST_REDIS_URL)": (REDIS_URL, 6379),
    "RabbitMQ (PMS_TEST_AMQP_URL)": (AMQP_URL, 5672),
}


def reachable(url: str, default_port: int, timeout: float = 3.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port),
                                      timeout=timeout):  # fmt: skip
            return True
    except OSError:
        return False


def missing_required_services() -> list[str]:
    problems = []
    for name, (url, port) in SERVICES.items():
        if url is None:
            problems.append(f"{name} is not set")
        elif not reachable(url, port):
            problems.append(f"{name} is unreachable at {url}")
    return problems


def require_url(name: str, url: str | None) -> str:
    """The service URL for a test that needs it: skip without it (fail in CI)."""
    if url is None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{name} is required (PMS_REQUIRE_SERVICES=1) but not set")
        pytest.skip(f"{name} not configured: set its PMS_TEST_*_URL to run this test")
    return url
