"""With PMS_REQUIRE_SERVICES=1 a missing or unreachable service fails the run by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest_with(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env.update(env_overrides)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit"]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_unreachable_required_service_fails_the_run_naming_it():
    result = run_pytest_with(
        {
            "PMS_REQUIRE_SERVICES": "1",
            "PMS_TEST_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/test",
            "PMS_TEST_REDIS_URL": "redis://127.0.0.1:1/0",
        }
    )

    assert result.returncode == 3
    output = result.stdout + result.stderr
    assert "PostgreSQL (PMS_TEST_DATABASE_URL) is unreachable at" in output
    assert "Redis (PMS_TEST_REDIS_URL) is unreachable at" in output
    assert "RabbitMQ (PMS_TEST_AMQP_URL) is not set" in output
