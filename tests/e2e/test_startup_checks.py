"""`pms serve` in PMS_ENV=prod refuses a configuration unfit for production with one line
naming the setting, before any database is started or migrated (issue 17 item 1), and a
wrong PMS_SECRET_KEY for existing signing keys is one line, not InvalidTag."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from app.core import preflight
from app.core.db import asyncpg_dsn
from app.core.settings import Settings
from app.identity import keys

STRONG = "s" * 43
GATEWAY = "app.identity.sms:LogSmsSender"  # importable; only the literal `log` is refused


def prod_env(tmp_path: Path, database_url: str | None, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env.update(PMS_ENV="prod", PMS_DATA_DIR=str(tmp_path / "data"), PMS_SECRET_KEY=STRONG,
               PMS_KYC_DOCUMENT_HASH_KEY="h" * 43,
               PMS_SMS_SENDER=GATEWAY)  # fmt: skip
    if database_url:
        env["PMS_DATABASE_URL"] = database_url
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def run_pms(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # cwd: a directory without a .env, so only the given environment counts.
    return subprocess.run([sys.executable, "-m", "pms", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


async def database_exists(admin_url: str, name: str) -> bool:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"PMS_DATABASE_URL": "<unset>"}, "PMS_DATABASE_URL"),
        ({"PMS_SECRET_KEY": "<unset>"}, "PMS_SECRET_KEY"),
        ({"PMS_SECRET_KEY": "pms-insecure-development-secret"}, "PMS_SECRET_KEY"),
        ({"PMS_KYC_DOCUMENT_HASH_KEY": "<unset>"}, "PMS_KYC_DOCUMENT_HASH_KEY"),
        ({"PMS_KYC_DOCUMENT_HASH_KEY": "dev-only-document-hash-key"}, "PMS_KYC_DOCUMENT_HASH_KEY"),
        ({"PMS_SMS_SENDER": "log"}, "PMS_SMS_SENDER"),
        ({"PMS_SMS_SENDER": "yourcompany.sms:Gateway"}, "PMS_SMS_SENDER"),
        ({"PMS_SECRT_KEY": "typo"}, "PMS_SECRT_KEY"),
    ],
)
def test_prod_serve_refuses_with_one_line_before_migrating(tmp_path, database_url, override, named):
    fresh = f"pms_preflight_{uuid.uuid4().hex[:8]}"  # would be created by --migrate
    url = make_url(database_url).set(database=fresh).render_as_string(hide_password=False)
    result = run_pms(tmp_path, prod_env(tmp_path, url, **override), "serve", "--migrate")

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pms: refusing to start: ") and named in lines[0]
    assert "Traceback" not in result.stderr
    assert not asyncio.run(database_exists(database_url, fresh))  # nothing migrated
    assert not (tmp_path / "data").exists()  # no embedded PostgreSQL either


def test_prod_serve_reports_every_problem_one_line_each(tmp_path):
    env = prod_env(tmp_path, None, PMS_SECRET_KEY="<unset>", PMS_SMS_SENDER="log")
    result = run_pms(tmp_path, env, "serve")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1
    assert [line.split()[4] for line in lines] == [
        "PMS_DATABASE_URL", "PMS_SECRET_KEY", "PMS_SMS_SENDER=log",
    ]  # fmt: skip


def test_dev_and_test_are_not_checked():
    settings = Settings(_env_file=None, env="dev")
    assert preflight.production_problems(settings, {"PMS_WHATEVER": "1"}) == []


def test_known_variables_cover_every_setting_and_the_test_urls():
    known = preflight.known_variables()
    assert {"PMS_SECRET_KEY", "PMS_OLD_SECRET_KEYS", "PMS_TEST_DATABASE_URL"} <= known
    assert preflight.unknown_variables({"PMS_SECRET_KEY": "x", "PMS_PROT": "1", "HOME": "/"}) == [
        "PMS_PROT"
    ]


def test_a_bad_setting_value_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    result = run_pms(tmp_path, {**env, "PMS_PORT": "eighty"}, "serve")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "PMS_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]


async def test_wrong_secret_key_for_existing_keys_is_one_line(tmp_path, db, settings):
    sealed_with = settings.model_copy(update={"secret_key": SecretStr("a" * 43)})
    async with db.transaction() as session:
        await keys.create_key(session, sealed_with)
    env = prod_env(tmp_path, settings.database_url, PMS_SECRET_KEY="b" * 43)
    result = await asyncio.to_thread(run_pms, tmp_path, env, "serve", "--port", "1")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "pms: cannot unseal signing keys: PMS_SECRET_KEY differs from the one that sealed "
        "them (after a rotation list the previous key in PMS_OLD_SECRET_KEYS)"
    ]


@pytest.mark.parametrize("secret", ["<unset>", "", "  "])
def test_push_url_without_its_secret_is_refused_at_start(tmp_path, secret):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env["PMS_EXPORT_PUSH_URL"] = "https://receiver.example/bundles"
    if secret != "<unset>":
        env["PMS_EXPORT_PUSH_SECRET"] = secret
    result = run_pms(tmp_path, env, "serve")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "PMS_EXPORT_PUSH_SECRET: Value error, required when PMS_EXPORT_PUSH_URL is set "
        "(bundles are pushed signed); set it, or unset PMS_EXPORT_PUSH_URL to turn pushing off"
    ]
    assert not (tmp_path / ".pms").exists()  # refused before anything started


def test_push_url_with_its_secret_or_neither_is_accepted():
    pushed = Settings(_env_file=None, export_push_url="https://r.example/b", export_push_secret="s")
    assert pushed.export_push_secret == "s"
    assert Settings(_env_file=None).export_push_url is None
