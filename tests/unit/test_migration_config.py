"""The migrations found are the running code's own, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from app.core import migrations

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_alembic_ini_is_used_from_any_working_directory(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere"
    (other / "alembic").mkdir(parents=True)
    (other / "alembic.ini").write_text("[alembic]\nscript_location = alembic\n")
    monkeypatch.chdir(other)  # another tree's alembic.ini here must not be taken

    config = migrations.alembic_config("postgresql+asyncpg://u@127.0.0.1/db")

    assert migrations.PROJECT_ROOT == ROOT
    assert Path(config.get_main_option("script_location") or "") == ROOT / "alembic"
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1 and (ROOT / "alembic" / "versions" / f"{heads[0]}.py").exists()
