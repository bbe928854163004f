"""Alembic, driven from Python: the only way the schema is made (``pms migrate``, tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from alembic import command
from app.core.db import normalize_url

# alembic.ini sits at the project root: beside app/ in a checkout or an image's /app.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> Config:
    """The migrations of the code that runs: the project's own alembic.ini, whatever the
    working directory (a bench of another source tree, ``pms migrate`` run from elsewhere);
    the working directory's only when the code has none beside it (an installed package)."""
    ini = PROJECT_ROOT / "alembic.ini"
    if not ini.exists():
        ini = Path.cwd() / "alembic.ini"
    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent / "alembic"))
    # ConfigParser interpolation treats "%" specially; URLs may contain escaped chars.
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


@lru_cache
def head_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("postgresql://localhost/unused"))
    return frozenset(script.get_heads())


async def current_revisions(conn: AsyncConnection) -> frozenset[str]:
    result = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return frozenset(result.scalars())
