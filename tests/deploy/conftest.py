"""Deployment files: checked without Docker or a cluster (parsing, schema, settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PMS_NAME = re.compile(r"\bPMS_[A-Z0-9_]+\b")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs uv against the lock file (a few seconds)")


def setting_names() -> set[str]:
    return {f"PMS_{name.upper()}" for name in Settings.model_fields}


def pms_names(value: Any) -> set[str]:
    """Every PMS_* name in a parsed YAML document (keys and values, recursively)."""
    if isinstance(value, dict):
        return set().union(*(pms_names(k) | pms_names(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(set(), *(pms_names(v) for v in value))
    if isinstance(value, str):
        return set(PMS_NAME.findall(value))
    return set()


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
