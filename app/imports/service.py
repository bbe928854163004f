"""Marketing-list imports. ``dry_run`` validates every row against the database and
reports per-row problems with line numbers; ``apply`` (the confirmation) runs only on a
clean file, in one transaction (all or nothing), once per import id: confirming again
returns the stored report. Opt-outs win over opt-ins for the same player in one file.
Every change goes through the profile and segment services (settings history, events)
and the import is audited."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.consents import service as consents
from app.consents.service import CHANNELS
from app.core.settings import Settings
from app.imports import parse, repository
from app.imports.errors import ImportHasErrors, ImportIdReused
from app.imports.parse import Problem, Row
from app.players.validation import TAG, normalise_email
from app.profiles import service as profiles
from app.segments import service as segments

Progress = Callable[[int, int], None]


@dataclass
class Change:
    """What one file does to one player."""

    tags: set[str] = field(default_factory=set)
    consent_on: set[str] = field(default_factory=set)
    consent_off: set[str] = field(default_factory=set)
    segments: set[uuid.UUID] = field(default_factory=set)
    overridden: set[str] = field(default_factory=set)  # opt-ins an opt-out cancelled


@dataclass
class Plan:
    rows: int
    problems: list[Problem]
    changes: dict[uuid.UUID, Change]

    def report(self, import_id: str, applied: bool) -> dict[str, Any]:
        changes = self.changes.values()
        return {
            "importId": import_id, "rows": self.rows, "applied": applied,
            "errors": [p.as_dict() for p in self.problems],
            "players": len(self.changes),
            "tagsAdded": sum(len(c.tags) for c in changes),
            "consentsOn": sum(len(c.consent_on) for c in changes),
            "consentsOff": sum(len(c.consent_off) for c in changes),
            "segmentAdds": sum(len(c.segments) for c in changes),
            "optInsOverriddenByOptOut": sum(len(c.overridden) for c in changes),
        }  # fmt: skip


def file_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def dry_run(session: AsyncSession, data: bytes, fmt: str, settings: Settings) -> Plan:
    """Validate the file; writes nothing."""
    text = parse.decode(data, settings.import_max_bytes)
    raw = parse.records(text, fmt)
    checked = [parse.check_row(line, fields) for line, fields in raw]
    problems = [c for c in checked if isinstance(c, Problem)]
    rows = [c for c in checked if isinstance(c, Row)]
    players = await _resolve_players(session, rows, problems)
    names = sorted({r.value for r in rows if r.action == "add_to_segment"})
    known_segments = await repository.static_segments(session, names) if names else {}
    changes: dict[uuid.UUID, Change] = {}
    seen: set[tuple[uuid.UUID, str, str]] = set()
    for row in rows:
        player_id = players.get(row.line)
        if player_id is None:
            continue
        problem = _row_problem(row, player_id, seen, known_segments)
        if problem is not None:
            problems.append(problem)
            continue
        _plan(changes.setdefault(player_id, Change()), row, known_segments)
    for change in changes.values():
        change.overridden = change.consent_on & change.consent_off
        change.consent_on -= change.consent_off
    problems.sort(key=lambda p: p.line)
    return Plan(len(raw), problems, changes)


def _row_problem(
    row: Row, player_id: uuid.UUID, seen: set[tuple[uuid.UUID, str, str]],
    known_segments: dict[str, uuid.UUID],
) -> Problem | None:  # fmt: skip
    key = (player_id, row.action, row.value)
    if key in seen:
        return Problem(row.line, "DUPLICATE_ROW", "the same action for this player came before")
    seen.add(key)
    if row.action == "add_tag" and not TAG.match(row.value):
        return Problem(row.line, "BAD_TAG", "a tag is 1-64 letters, digits or _.:-")
    if row.action == "add_to_segment" and row.value not in known_segments:
        return Problem(row.line, "UNKNOWN_SEGMENT", "no static segment with this name")
    return None


def _plan(change: Change, row: Row, known_segments: dict[str, uuid.UUID]) -> None:
    if row.action == "add_tag":
        change.tags.add(row.value)
    elif row.action == "consent_on":
        change.consent_on.add(row.value)
    elif row.action == "consent_off":
        change.consent_off.add(row.value)
    elif row.action == "opt_out":
        change.consent_off.update(CHANNELS)
    else:
        change.segments.add(known_segments[row.value])


async def _resolve_players(
    session: AsyncSession, rows: list[Row], problems: list[Problem]
) -> dict[int, uuid.UUID]:
    """Player id per line; an unknown player or bad email becomes a problem."""
    ids: dict[int, uuid.UUID] = {}
    emails: dict[int, str] = {}
    for row in rows:
        if row.identifier == "player_id":
            try:
                ids[row.line] = uuid.UUID(row.key)
            except ValueError:
                problems.append(Problem(row.line, "UNKNOWN_PLAYER", "not a player id"))
        elif row.identifier == "email":
            email = normalise_email(row.key)
            if email is None:
                problems.append(Problem(row.line, "BAD_EMAIL", "not a valid email address"))
            else:
                emails[row.line] = email
    logins = {r.line: r.key.lower() for r in rows if r.identifier == "login"}
    found_ids = await repository.players_by_id(session, sorted(set(ids.values())))
    by_email = await repository.players_by_email(session, sorted(set(emails.values())))
    by_login = await repository.players_by_login(session, sorted(set(logins.values())))
    resolved: dict[int, uuid.UUID] = {}
    for line, player_id in ids.items():
        if player_id in found_ids:
            resolved[line] = player_id
    for line, email in emails.items():
        if email in by_email:
            resolved[line] = by_email[email]
    for line, login in logins.items():
        if login in by_login:
            resolved[line] = by_login[login]
    for line in {*ids, *emails, *logins} - set(resolved):
        problems.append(Problem(line, "UNKNOWN_PLAYER", "no such player"))
    return resolved


async def apply(
    session: AsyncSession, data: bytes, fmt: str, settings: Settings, *, actor: str,
    import_id: str | None = None, progress: Progress | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Apply a clean file once per import id (default: the file's SHA-256)."""
    digest = file_id(data)
    import_id = import_id or digest
    existing = await repository.get(session, import_id)
    if existing is not None:
        return _replay(existing.file_sha256, existing.report, digest)
    plan = await dry_run(session, data, fmt, settings)
    if plan.problems:
        raise ImportHasErrors(f"{len(plan.problems)} row error(s); fix them and upload again")
    report = plan.report(import_id, applied=True)
    if not await repository.claim(session, import_id, digest, actor, report):
        stored = await repository.get(session, import_id)
        assert stored is not None
        return _replay(stored.file_sha256, stored.report, digest)
    total = len(plan.changes)
    if progress is not None:
        progress(0, total)
    for done, player_id in enumerate(sorted(plan.changes), start=1):
        await _apply_player(session, player_id, plan.changes[player_id], actor, settings)
        # Progress per batch of players (one transaction still holds them all).
        if progress is not None and (done % settings.import_batch_size == 0 or done == total):
            progress(done, total)
    await _apply_segments(session, plan.changes)
    await audit.record(session, audit.Actor(actor), "marketing_import.apply",
                       f"import:{import_id}", details={k: v for k, v in report.items()
                                                        if k != "errors"})  # fmt: skip
    return report


def _replay(stored_digest: str, report: dict[str, Any], digest: str) -> dict[str, Any]:
    if stored_digest != digest:
        raise ImportIdReused("this import id was applied with another file")
    return {**report, "replayed": True}


async def _apply_player(
    session: AsyncSession, player_id: uuid.UUID, change: Change, actor: str, settings: Settings
) -> None:
    wanted = {c: True for c in change.consent_on} | {c: False for c in change.consent_off}
    for channel, granted in sorted(wanted.items()):
        await consents.set_marketing(
            session, player_id, channel, granted, actor=actor, source="import", settings=settings
        )
    if change.tags:
        current = await profiles.tags_of(session, player_id)
        await profiles.set_tags(
            session, player_id, sorted(set(current) | change.tags), actor=actor, settings=settings
        )


async def _apply_segments(session: AsyncSession, changes: dict[uuid.UUID, Change]) -> None:
    by_segment: dict[uuid.UUID, list[uuid.UUID]] = {}
    for player_id, change in changes.items():
        for segment_id in change.segments:
            by_segment.setdefault(segment_id, []).append(player_id)
    for segment_id in sorted(by_segment):
        await segments.add_static_members(session, segment_id, by_segment[segment_id])
