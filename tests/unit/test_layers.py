"""The one-way layers that hold on their own: app/ imports nothing above it, and
``make test`` checks the layering before pytest unless told not to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
UPPER = ("pms", "resolvers", "schema", "permissions")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("app", *UPPER, include_external_packages=False)


@pytest.mark.parametrize("upper", UPPER)
def test_app_imports_nothing_above_it(graph: grimp.ImportGraph, upper: str) -> None:
    # Lazy (function-level) imports count too: grimp reads every import statement.
    chain = graph.find_shortest_chain(importer="app", imported=upper, as_packages=True)
    assert chain is None, f"app reaches {upper}: {' -> '.join(chain or ())}"


def test_composition_root_modules_live_outside_app(graph: grimp.ImportGraph) -> None:
    modules = graph.modules
    assert {"app.main", "app.cli", "app.identity.cli"} & modules == set()
    assert {"pms.asgi", "pms.cli", "pms.cli_identity", "pms.tasks", "pms.hooks"} <= modules


def _make_dry_run(*args: str) -> list[str]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        [make, "-n", "--no-print-directory", "test", *args],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in out.stdout.splitlines() if "pip" not in line]


def _position(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines) if needle in line)


def test_make_test_checks_layers_before_pytest() -> None:
    lines = _make_dry_run()
    pytest_at = _position(lines, "-m pytest")
    assert _position(lines, "bin/lint-imports") < pytest_at
    assert _position(lines, "bin/mypy") < pytest_at


def test_make_test_skips_layer_check_when_switched_off() -> None:
    lines = _make_dry_run("LINT_LAYERS=0")
    assert any("-m pytest" in line for line in lines)
    assert not any("lint-imports" in line or "bin/mypy" in line for line in lines)
