"""Retention: the 5-year floor is enforced when settings load (nothing starts below it),
and the outbox purge removes only published rows past their period that every consumer
has read, keeping the settlements a round refund still needs."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from app.core.settings import Settings
from app.events.retention import purge_outbox


@pytest.mark.parametrize("years", [0, 4])
def test_retention_below_five_years_is_refused(years):
    with pytest.raises(ValidationError, match="retention_years"):
        Settings(_env_file=None, retention_years=years)
    assert Settings(_env_file=None, retention_years=7).retention_years == 7


async def test_the_cli_refuses_to_start_with_a_short_retention(settings):
    env = {"PMS_DATABASE_URL": settings.database_url or "", "PATH": "/usr/bin:/bin",
           "PMS_RETENTION_YEARS": "3"}  # fmt: skip
    run = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pms", "audit", "verify"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0 and "PMS_RETENTION_YEARS" in run.stderr, run.stderr
    assert "OK" not in run.stdout


ROWS = [  # (label, type, published days ago or None, made days ago)
    ("old-published", "player.updated", 10, 11),
    ("recent-published", "player.updated", 2, 2),
    ("old-unpublished", "player.updated", None, 30),
    ("settlement-30d", "bet.settled", 30, 30),
    ("status-400d", "player.status_changed", 400, 400),  # the regulator export's history
    ("status-6y", "player.status_changed", 2200, 2200),  # past the 5-year retention
    ("settlement-100d", "bet.settled", 100, 100),
    ("old-unread", "player.updated", 10, 10),  # beyond the consumer cursor
]


async def test_outbox_purge_keeps_what_is_unpublished_recent_unread_or_refundable(db, settings):
    async with db.transaction() as session:
        for label, kind, published, made in ROWS:
            await session.execute(
                text(
                    "INSERT INTO outbox_events (event_id, type, source, subject, time, data, "
                    "published_at) VALUES (gen_random_uuid(), :t, 'urn:pms', :s, "
                    "now() - make_interval(days => :m), '{}'::jsonb, "
                    "CASE WHEN CAST(:p AS int) IS NULL THEN NULL "
                    "ELSE now() - make_interval(days => CAST(:p AS int)) END)"
                ),
                {"t": kind, "s": label, "m": made, "p": published},
            )
        cursor = (
            await session.execute(
                text("SELECT id FROM outbox_events WHERE subject = 'settlement-100d'")
            )
        ).scalar_one()
        await session.execute(
            text("INSERT INTO event_consumer_cursors (consumer, last_event_id) VALUES ('c', :i)"),
            {"i": cursor},
        )

    purged = await purge_outbox(db, settings.model_copy(update={"outbox_purge_batch": 2}))

    async with db.read_session() as session:
        left = (await session.execute(text("SELECT subject FROM outbox_events ORDER BY id"))).all()
    assert purged == 3
    assert [r.subject for r in left] == [
        "recent-published", "old-unpublished", "settlement-30d", "status-400d", "old-unread"
    ]  # fmt: skip
