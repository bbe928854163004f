"""The composition root: the app factory and the CLI wire the hooks, and the periodic-task
registry lists every domain's task with its configured interval."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from app.core.db import Database
from app.core.settings import Settings
from app.events.runtime import EventsRuntime
from pms import cli, hooks
from pms.asgi import create_app
from pms.events import build_events
from pms.tasks import registered_tasks


@pytest.fixture
def unwired(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process in which nothing has called ``register_all`` yet."""
    monkeypatch.setattr(hooks, "_registered", False)


def test_create_app_wires_the_hooks(unwired: None, settings: Settings, db: Database) -> None:
    assert hooks.registered() is False
    create_app(settings, database=db)
    assert hooks.registered() is True


def test_cli_wires_the_hooks_before_any_command(unwired: None) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert hooks.registered() is True


@pytest.fixture
async def events(settings: Settings, db: Database) -> AsyncIterator[EventsRuntime]:
    runtime = build_events(db, settings)
    yield runtime
    await runtime.webhooks.close()


EVERY_REPLICA = {
    "ledger.expire_holds": "hold_expiry_interval_seconds",
    "ledger.purge_idempotency_keys": "idempotency_purge_interval_seconds",
    "segments-recompute": "segment_recompute_interval_seconds",
    "playstyle.consume_money_events": "playstyle_consume_interval_seconds",
    "fraud.consume_events": "fraud_consume_interval_seconds",
    "analytics.consume_events": "analytics_consume_interval_seconds",
    "alerts.evaluate": "alert_evaluate_interval_seconds",
    "bonus.expire": "bonus_expiry_interval_seconds",
    "bonus.triggers": "bonus_trigger_interval_seconds",
    "bonus.cashback": "bonus_cashback_interval_seconds",
    "responsible.end_breaks": "rg_break_end_interval_seconds",
    "outbox-relay": "outbox_poll_seconds",
    "webhook-dispatch": "webhook_poll_seconds",
    "audit.tree": "audit_tree_interval_seconds",
    "outbox.purge": "outbox_purge_interval_seconds",
    "jobs.run": "job_poll_seconds",
    "gdpr.purge_retained": "gdpr_purge_interval_seconds",
    "retention.partitions": "retention_partition_interval_seconds",
    "retention.purge": "retention_purge_interval_seconds",
}
# Fixed intervals: the subscriptions' GC settle looks every second (app/events/gc_settle.py).
FIXED = {"subscriptions-gc-settle": 1.0}


async def test_registry_lists_every_task_with_its_interval(
    settings: Settings, events: EventsRuntime
) -> None:
    tasks = {task.name: task.interval_seconds for task in registered_tasks(settings, events)}
    expected = {name: getattr(settings, key) for name, key in EVERY_REPLICA.items()}
    # Without Redis the session state lives in PostgreSQL and needs purging.
    assert tasks == {**expected, **FIXED, "identity.purge_session_state": 300.0}


async def test_with_redis_session_state_is_not_purged_by_a_task(
    settings: Settings, events: EventsRuntime
) -> None:
    with_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"})
    names = [task.name for task in registered_tasks(with_redis, events)]
    assert sorted(names) == sorted([*EVERY_REPLICA, *FIXED])


def test_python_dash_m_pms_is_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pms", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: pms ")
    for command in ("serve", "migrate", "worker", "ledger", "client", "staff", "keys", "bonus"):
        assert command in out.stdout


async def test_the_export_schedule_task_exists_only_with_a_schedule(
    settings: Settings, events: EventsRuntime
) -> None:
    scheduled = settings.model_copy(update={"export_schedule": {"crm": 3600.0}})
    names = {task.name for task in registered_tasks(scheduled, events)}
    assert "exports.schedule" in names
    assert "exports.schedule" not in {t.name for t in registered_tasks(settings, events)}
