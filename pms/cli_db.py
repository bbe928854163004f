"""The database a CLI command works on: the configured server, or an embedded one that
lives as long as the command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import ProgrammingError

from app.core.crypto import SecretKeyMismatch
from app.core.db import Database, resolve_database_url
from app.core.settings import Settings


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """The configured URL, or an embedded server's, stopped again when the block ends."""
    url, embedded = resolve_database_url(settings)
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()


def run_with_database(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    """Run ``work`` on a fresh engine (disposed afterwards); its result is the exit code."""

    async def main(url: str) -> int:
        db = Database.from_settings(settings, url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    with database_url(settings) as url:
        return asyncio.run(main(url))


def check_sealed_keys(settings: Settings) -> None:
    """Open the signing keys once before serving: a wrong PMS_SECRET_KEY is then one line
    ("cannot unseal signing keys: ...") instead of a failed lifespan with a traceback."""
    from app.identity.keys import KeyRing

    async def main() -> None:
        assert settings.database_url is not None
        db = Database.from_settings(settings, settings.database_url)
        try:
            await KeyRing(db, settings).load()
        except ProgrammingError:  # not migrated yet: readiness reports that
            return
        finally:
            await db.dispose()

    try:
        asyncio.run(main())
    except SecretKeyMismatch as exc:
        raise SystemExit(f"pms: {exc}") from None
