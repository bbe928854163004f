"""Marketing-list import: dry-run report, apply once per import id, opt-out wins."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from app.core.db import Database
from app.imports import service
from app.imports.errors import ImportFileInvalid, ImportHasErrors, ImportIdReused
from app.profiles import service as profiles
from app.segments import service as segments
from app.segments.models import SegmentKind
from tests.factories import create_player
from tests.integration.exports.test_export_cli import pms


async def _segment(db: Database, settings, name: str):
    async with db.transaction() as s:
        segment, _ = await segments.create_segment(
            s, name=name, rule=None, actor="t", settings=settings, kind=SegmentKind.STATIC
        )
    return segment


async def _state(db: Database, player_id):
    async with db.transaction() as s:
        prefs = (await s.execute(text("SELECT preferences FROM players WHERE id = :p"),
                                 {"p": player_id})).scalar_one()  # fmt: skip
        tags = await profiles.tags_of(s, player_id)
        members = (await s.execute(
            text("SELECT count(*) FROM segment_members WHERE player_id = :p"), {"p": player_id}
        )).scalar_one()  # fmt: skip
        history = (await s.execute(
            # settings history and consent history (consents are records: app/consents)
            text("SELECT (SELECT count(*) FROM player_settings_changes WHERE player_id = :p)"
                 " + (SELECT count(*) FROM player_consent_changes WHERE player_id = :p)"),
            {"p": player_id})).scalar_one()  # fmt: skip
    consents = (prefs or {}).get("marketingConsents", {})
    return consents, tags, members, history


async def test_dry_run_reports_every_row_problem_with_its_line(db: Database, settings):
    player = await create_player(db, settings)
    await _segment(db, settings, "spring")
    data = (
        "email,login,player_id,action,value\n"
        f"{player.email},,,add_tag,vip\n"  # line 2: fine
        "nobody@example.com,,,add_tag,vip\n"  # 3: unknown player
        "not-an-email,,,add_tag,vip\n"  # 4: bad email
        f",{player.login},,consent_on,pigeon\n"  # 5: unknown channel
        f"{player.email},,,add_tag,vip\n"  # 6: duplicate of line 2
        f",,{player.id},add_to_segment,autumn\n"  # 7: unknown segment
        f",,{player.id},add_tag,a;b\n"  # 8: bad tag (';' separates tags in the export)
        f",,{player.id},dance,\n"  # 9: unknown action
    ).encode()
    async with db.transaction() as s:
        plan = await service.dry_run(s, data, "csv", settings)
    report = plan.report("x", applied=False)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (3, "UNKNOWN_PLAYER"), (4, "BAD_EMAIL"), (5, "UNKNOWN_CHANNEL"), (6, "DUPLICATE_ROW"),
        (7, "UNKNOWN_SEGMENT"), (8, "BAD_TAG"), (9, "UNKNOWN_ACTION"),
    ]  # fmt: skip
    assert report["rows"] == 8
    with pytest.raises(ImportHasErrors):
        await service.apply(db, data, "csv", settings, actor="t")
    assert await _state(db, player.id) == ({}, [], 0, 0)
    async with db.transaction() as s:
        assert (await s.execute(text("SELECT count(*) FROM marketing_imports"))).scalar_one() == 0


async def test_apply_once_opt_out_wins_and_a_second_confirmation_replays(db: Database, settings):
    player = await create_player(db, settings)
    other = await create_player(db, settings)
    await _segment(db, settings, "spring")
    rows = [
        {"email": player.email, "action": "consent_on", "value": "email"},
        {"email": player.email, "action": "consent_on", "value": "sms"},
        {"login": player.login, "action": "opt_out"},
        {"player_id": str(player.id), "action": "add_tag", "value": "spring-2027"},
        {"player_id": str(player.id), "action": "add_to_segment", "value": "spring"},
        {"player_id": str(other.id), "action": "consent_on", "value": "push"},
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows)

    report = await service.apply(db, data.encode(), "jsonl", settings, actor="staff:m",
                                 import_id="spring-list")  # fmt: skip

    assert report["applied"] is True and report["optInsOverriddenByOptOut"] == 2
    consents, tags, members, history = await _state(db, player.id)
    assert consents == {"email": False, "sms": False, "push": False, "phone": False}
    assert (tags, members) == (["spring-2027"], 1)
    assert history >= 2  # consents and tags in the settings history
    assert (await _state(db, other.id))[0]["push"] is True
    async with db.transaction() as s:
        audited = (await s.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'marketing_import.apply'"
        ))).scalar_one()  # fmt: skip
    again = await service.apply(db, data.encode(), "jsonl", settings, actor="staff:m",
                                import_id="spring-list")  # fmt: skip
    assert audited == 1
    assert again == {**report, "replayed": True}
    assert (await _state(db, player.id))[3] == history  # nothing applied twice
    with pytest.raises(ImportIdReused):
        other_file = b'{"email": "x@example.com", "action": "opt_out"}\n'
        await service.apply(
            db, other_file, "jsonl", settings, actor="staff:m", import_id="spring-list"
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"email;action;value\na@example.com;opt_out;\n", "delimiter"),
        (b"mail,action\na@example.com,opt_out\n", "columns needed"),
        (b"email,action\n" + b"\xff\xfe@x,opt_out\n", "not UTF-8"),
        (b"email,action\n" + b"a" * 2048, "over the limit"),
        (b"email,action\na@example.com,opt_out,extra\n", "more fields"),
    ],
)
async def test_whole_file_problems_are_typed(db: Database, settings, data, message):
    small = settings.model_copy(update={"import_max_bytes": 1024})
    with pytest.raises(ImportFileInvalid) as caught:
        async with db.transaction() as s:
            await service.dry_run(s, data, "csv", small)
    assert message in caught.value.message


async def test_the_cli_dry_run_then_confirm(db: Database, settings, tmp_path):
    player = await create_player(db, settings)
    path = tmp_path / "list.csv"
    path.write_text(f"email,action,value\n{player.email},consent_on,email\n")
    dry = await asyncio.to_thread(pms, settings, "import", "marketing", str(path))
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["applied"] is False
    assert (await _state(db, player.id))[0] == {}
    done = await asyncio.to_thread(pms, settings, "import", "marketing", str(path), "--confirm")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["consentsOn"] == 1
    assert (await _state(db, player.id))[0]["email"] is True


async def test_a_list_that_would_exceed_a_players_tag_limit_is_a_row_error(db: Database, settings):
    player = await create_player(db, settings)
    async with db.transaction() as s:
        await profiles.set_tags(s, player.id, [f"t{i}" for i in range(profiles.MAX_TAGS - 1)],
                                actor="t", settings=settings)  # fmt: skip
    data = (
        "player_id,action,value\n"
        f"{player.id},add_tag,t0\n"  # already there: not counted twice
        f"{player.id},add_tag,new-1\n"  # the limit
        f"{player.id},add_tag,new-2\n"  # over it: the error is on the last tag row
    ).encode()
    async with db.transaction() as s:
        plan = await service.dry_run(s, data, "csv", settings)
    assert [(p.line, p.code) for p in plan.problems] == [(4, "TOO_MANY_TAGS")]
    async with db.transaction() as s:
        fine = await service.dry_run(s, data.rsplit(b",new-2", 1)[0].rsplit(b"\n", 1)[0] + b"\n",
                                     "csv", settings)  # fmt: skip
    assert fine.problems == []
