"""Which real services the suite talks to, and the check that they are reachable.

PostgreSQL: ``PMS_TEST_DATABASE_URL`` or, unset, an embedded server under ``.pms/test``.
Redis / RabbitMQ: ``PMS_TEST_REDIS_URL`` / ``PMS_TEST_AMQP_URL``; tests needing one are
skipped with a reason when it is unset, unless ``PMS_REQUIRE_SERVICES=1`` (CI), where a
missing or unreachable service fails the whole run naming it.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REQUIRE_SERVICES = os.environ.get("PMS_REQUIRE_SERVICES") == "1"
DATABASE_URL = os.environ.get("PMS_TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("PMS_TEST_REDIS_URL") or None
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
