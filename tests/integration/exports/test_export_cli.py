"""``pms export`` as an operator runs it: a subprocess against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from app.core.db import Database
from tests.integration.exports.helpers import deposit, player_with_consents, read_files

ROOT = Path(__file__).resolve().parents[3]


def pms(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PMS_DATABASE_URL": settings.database_url, "PMS_ENV": "test"}
    return subprocess.run(
        [sys.executable, "-m", "pms", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


def _cursor(stdout: str) -> str:
    found = re.search(r"^next cursor: (\S+)$", stdout, re.MULTILINE)
    assert found, stdout
    return found.group(1)


def _bundle(stdout: str) -> Path:
    found = re.search(r"^bundle: (.+)$", stdout, re.MULTILINE)
    assert found, stdout
    return Path(found.group(1))


async def test_export_resume_verify_and_a_cursor_of_the_other_kind(
    db: Database, settings, tmp_path
):
    player = await player_with_consents(db, settings, email=True)
    await deposit(db, settings, player, "5.00", "EUR")

    first = await asyncio.to_thread(pms, settings, "export", "erp", "--out", str(tmp_path / "a"),
                                    "--progress")  # fmt: skip
    assert first.returncode == 0, first.stderr
    cursor = _cursor(first.stdout)
    assert re.fullmatch(r"erp:v1:\d+", cursor)
    assert "100%" in first.stderr and "ETA" in first.stderr
    bundle = _bundle(first.stdout)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {f["name"]: f["rows"] for f in manifest["files"]}["ledger_transfers.csv"] == 1

    again = await asyncio.to_thread(pms, settings, "export", "erp", "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert read_files(_bundle(again.stdout)) == read_files(bundle)

    checked = await asyncio.to_thread(pms, settings, "export", "verify", str(bundle))
    assert (checked.returncode, checked.stdout.strip()) == (0, "OK")
    (bundle / "ledger_transfers.csv").write_text("id\n1\n")
    tampered = await asyncio.to_thread(pms, settings, "export", "verify", str(bundle))
    assert tampered.returncode == 1
    assert "ledger_transfers.csv: SHA-256 does not match the manifest" in tampered.stdout

    wrong = await asyncio.to_thread(pms, settings, "export", "crm", "--since", cursor,
                                    "--out", str(tmp_path / "c"))  # fmt: skip
    assert wrong.returncode == 2
    assert "EXPORT_CURSOR_KIND_MISMATCH" in wrong.stderr
    assert not (tmp_path / "c").exists()


async def test_crm_export_from_the_cli_limits_channels(db: Database, settings, tmp_path):
    await player_with_consents(db, settings, sms=True)
    done = await asyncio.to_thread(pms, settings, "export", "crm", "--channel", "email",
                                   "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    [row] = [json.loads(x) for x in (_bundle(done.stdout) / "players.jsonl").read_text().split()]
    assert (row["marketable"], row["suppressionReason"]) == (False, "NO_CONSENT")
    assert _cursor(done.stdout).startswith("crm:v1:")
