"""Key rotation (issue 17 item 2): a new JWT signing key is in the JWKS before it signs,
and PMS_SECRET_KEY rotates with PMS_OLD_SECRET_KEYS and ``pms keys reseal``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from pydantic import SecretStr
from sqlalchemy import select

from app.core.crypto import unseal_with_index
from app.core.principal import Principal, PrincipalKind
from app.identity import keys
from app.identity.keys import KeyRing
from app.identity.models import SigningKey
from app.identity.tokens import issue_access_token, verify_access_token

PLAYER = Principal(PrincipalKind.PLAYER, "11111111-1111-1111-1111-111111111111")
OLD, NEW, OTHER = "o" * 43, "n" * 43, "x" * 43
ROTATION_ENV = {"PMS_SECRET_KEY": NEW, "PMS_OLD_SECRET_KEYS": json.dumps([OLD])}


async def test_new_key_is_published_before_it_signs(db, settings):
    window = settings.model_copy(update={"signing_key_prepublish_seconds": 2})
    ring = KeyRing(db, window)
    old_kid = (await ring.signing_key())[0]
    async with db.transaction() as session:
        new = await keys.rotate(session, window)
    ring._loaded_at = 0  # the periodic reload (every 60 s) happens

    published = {k["kid"] for k in (await ring.jwks())["keys"]}
    token, _ = await issue_access_token(PLAYER, ring, window)
    assert published == {old_kid, new.kid}
    assert (await ring.signing_key())[0] == old_kid  # published, not signing yet

    await asyncio.sleep(2.1)  # the window passes: no reload needed to switch
    loaded_at = ring._loaded_at
    assert (await ring.signing_key())[0] == new.kid
    assert ring._loaded_at == loaded_at
    assert (await verify_access_token(token, ring, window)).principal == PLAYER


async def test_rotation_retires_the_old_key_when_the_new_one_activates(db, settings):
    ring = KeyRing(db, settings)
    await ring.load()
    async with db.transaction() as session:
        new = await keys.rotate(session, settings)
    async with db.read_session() as session:
        rows = {r.kid: r for r in (await session.execute(select(SigningKey))).scalars()}
    (old,) = [r for r in rows.values() if r.kid != new.kid]
    assert old.retired_at == new.activates_at
    delta = (new.activates_at - new.created_at).total_seconds()
    assert abs(delta - settings.signing_key_prepublish_seconds) < 5


def run_pms(settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    base.update(PMS_ENV="test", PMS_DATABASE_URL=settings.database_url, **env)
    return subprocess.run([sys.executable, "-m", "pms", *args], env=base, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


async def sealed_values(db) -> list[str]:
    async with db.read_session() as session:
        return list((await session.execute(select(SigningKey.private_key))).scalars())


async def test_secret_key_rotation_with_old_keys_and_reseal(db, settings):
    under_old = settings.model_copy(update={"secret_key": SecretStr(OLD)})
    async with db.transaction() as session:
        await keys.create_key(session, under_old)
    rotated = settings.model_copy(
        update={"secret_key": SecretStr(NEW), "old_secret_keys": (SecretStr(OLD),)}
    )
    await KeyRing(db, rotated).load()  # the old key still opens it during the rotation

    result = await asyncio.to_thread(run_pms, settings, "keys", "reseal", **ROTATION_ENV)

    assert result.returncode == 0, result.stderr
    assert "signing_keys.private_key: 1 re-sealed" in result.stdout.splitlines()
    (value,) = await sealed_values(db)
    only_new = settings.model_copy(update={"secret_key": SecretStr(NEW)})
    assert unseal_with_index(value, only_new)[1] == 0  # PMS_OLD_SECRET_KEYS can go
    await KeyRing(db, only_new).load()


async def test_reseal_with_an_unknown_key_changes_nothing(db, settings):
    for secret in (OLD, OTHER):
        async with db.transaction() as session:
            await keys.create_key(
                session, settings.model_copy(update={"secret_key": SecretStr(secret)})
            )
    before = sorted(await sealed_values(db))

    result = await asyncio.to_thread(run_pms, settings, "keys", "reseal", **ROTATION_ENV)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "pms: cannot unseal signing_keys.private_key: PMS_SECRET_KEY differs from the one that "
        "sealed them (after a rotation list the previous key in PMS_OLD_SECRET_KEYS)"
    ]
    assert sorted(await sealed_values(db)) == before
