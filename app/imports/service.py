"""Marketing-list imports. ``dry_run`` validates every row against the database and
reports per-row problems with line numbers; ``apply`` (the confirmation) runs only on a
clean file, once per import id, in batches of players: each batch is one transaction of
set-based statements and is recorded, so a crash leaves whole batches and confirming
again resumes (a completed import answers its stored report). Opt-outs win over opt-ins
for the same player in one file. Every change goes through the consent, profile and
segment services (history rows, events, segment re-evaluation) and is audited per
player. The plan the first confirmation validated is stored with the import: a resume
applies it (cut into the same batches) without validating again on changed data.

Cell values are text: one that starts like a spreadsheet formula (``=``, ``+``, ``-``,
``@``) is stored as it is, if its column's own rule allows it (an email, id or login is
checked as one); the CSV writers escape it on the way out (``app.core.bundles``)."""

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
from app.core.db import Database
from app.core.settings import Settings
from app.gdpr.guard import erased_among
from app.imports import parse, repository
from app.imports.errors import ImportHasErrors, ImportIdReused
from app.imports.models import MarketingImport
from app.imports.parse import Problem, Row
from app.players.validation import CUSTOM_TAG, normalise_email
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
    problems += await _too_many_tags(session, rows, players, changes)
    problems.sort(key=lambda p: p.line)
    return Plan(len(raw), problems, changes)


async def _too_many_tags(
    session: AsyncSession, rows: list[Row], players: dict[int, uuid.UUID],
    changes: dict[uuid.UUID, Change],
) -> list[Problem]:  # fmt: skip
    """A player's tags after the import stay within ``profiles.MAX_TAGS`` (checked here, so
    no batch of the apply can fail on it); the problem is on the player's last tag row."""
    tagged = sorted(p for p, c in changes.items() if c.tags)
    current = await profiles.tags_of_many(session, tagged) if tagged else {}
    over = {p for p in tagged if len(current.get(p, set()) | changes[p].tags) > profiles.MAX_TAGS}
    last_line = {players[r.line]: r.line for r in rows
                 if r.action == "add_tag" and players.get(r.line) in over}  # fmt: skip
    return [Problem(line, "TOO_MANY_TAGS", f"a player has at most {profiles.MAX_TAGS} tags")
            for line in sorted(last_line.values())]  # fmt: skip


def _row_problem(
    row: Row, player_id: uuid.UUID, seen: set[tuple[uuid.UUID, str, str]],
    known_segments: dict[str, uuid.UUID],
) -> Problem | None:  # fmt: skip
    key = (player_id, row.action, row.value)
    if key in seen:
        return Problem(row.line, "DUPLICATE_ROW", "the same action for this player came before")
    seen.add(key)
    if row.action == "add_tag" and not CUSTOM_TAG.match(row.value):
        return Problem(row.line, "BAD_TAG", "a tag is 1-64 characters, no control ones or ';'")
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
    erased = await erased_among(session, sorted(set(resolved.values())), lock=False)
    for line in sorted(line for line, player_id in resolved.items() if player_id in erased):
        # Only an id can still name them (email and login were pseudonymised); the list
        # that does still holds an erased person: say so rather than write to them.
        problems.append(Problem(line, "ERASED_PLAYER", "this player was erased (GDPR)"))
        del resolved[line]
    return resolved


async def apply(
    db: Database, data: bytes, fmt: str, settings: Settings, *, actor: str,
    import_id: str | None = None, progress: Progress | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Apply a clean file once per import id (default: the file's SHA-256), in batches of
    players, each batch one transaction; a confirmation after a crash resumes with the
    first batch not applied, applying the plan the first one validated. Confirming a
    completed import returns the stored report."""
    digest = file_id(data)
    import_id = import_id or digest
    claimed, changes = await _claim(db, data, fmt, settings, import_id, digest, actor)
    if claimed.completed_at is not None:
        return _replay(claimed.file_sha256, claimed.report, digest)
    if claimed.file_sha256 != digest:
        raise ImportIdReused("this import id was applied with another file")
    batches = _batches(changes, claimed.batch_size or settings.import_batch_size)
    done = 0
    if progress is not None:
        progress(0, len(changes))
    for number, players in enumerate(batches):
        async with db.transaction() as session:
            if await repository.claim_batch(session, import_id, number, len(players)):
                batch = {p: changes[p] for p in players}
                await _apply_batch(session, import_id, number, batch, actor, settings)
        done += len(players)
        if progress is not None:
            progress(done, len(changes))
    async with db.transaction() as session:
        completed = await repository.complete(session, import_id)
        if completed:
            await audit.record(session, audit.Actor(actor), "marketing_import.apply",
                               f"import:{import_id}", details={
                                   k: v for k, v in claimed.report.items() if k != "errors"
                               })  # fmt: skip
    return claimed.report if completed else {**claimed.report, "replayed": True}


async def _claim(
    db: Database, data: bytes, fmt: str, settings: Settings, import_id: str, digest: str,
    actor: str,
) -> tuple[MarketingImport, dict[uuid.UUID, Change]]:  # fmt: skip
    """The import's row and the changes to apply. A row with a stored plan (a resume) is
    not validated again: the data may have changed since, and its batches were cut from
    that plan. Otherwise the file is validated now and the import claimed with its plan
    (a concurrent first confirmation gets the winner's)."""
    async with db.transaction() as session:
        existing = await repository.get(session, import_id)
        if existing is not None and existing.plan is not None:
            return existing, _changes_of(existing.plan)
        if existing is not None and (existing.completed_at or existing.file_sha256 != digest):
            return existing, {}
        plan = await dry_run(session, data, fmt, settings)
    if plan.problems:
        raise ImportHasErrors(f"{len(plan.problems)} row error(s); fix them and upload again")
    async with db.transaction() as session:
        claimed = await repository.claim(session, import_id, digest, actor,
                                         plan.report(import_id, applied=True),
                                         settings.import_batch_size,
                                         _stored(plan.changes))  # fmt: skip
    stored = claimed.plan
    return claimed, plan.changes if stored is None else _changes_of(stored)


def _stored(changes: dict[uuid.UUID, Change]) -> dict[str, Any]:
    return {str(p): {"tags": sorted(c.tags), "on": sorted(c.consent_on),
                     "off": sorted(c.consent_off), "segments": sorted(map(str, c.segments)),
                     "overridden": sorted(c.overridden)}
            for p, c in changes.items()}  # fmt: skip


def _changes_of(stored: dict[str, Any]) -> dict[uuid.UUID, Change]:
    return {uuid.UUID(p): Change(set(c["tags"]), set(c["on"]), set(c["off"]),
                                 set(map(uuid.UUID, c["segments"])), set(c["overridden"]))
            for p, c in stored.items()}  # fmt: skip


def _batches(changes: dict[uuid.UUID, Change], size: int) -> list[list[uuid.UUID]]:
    """Players in id order, cut every ``size``: the same cut on every confirmation."""
    ordered = sorted(changes)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _replay(stored_digest: str, report: dict[str, Any], digest: str) -> dict[str, Any]:
    if stored_digest != digest:
        raise ImportIdReused("this import id was applied with another file")
    return {**report, "replayed": True}


async def _apply_batch(
    session: AsyncSession, import_id: str, number: int, changes: dict[uuid.UUID, Change],
    actor: str, settings: Settings,
) -> None:  # fmt: skip
    """One batch, set-based: consents (opt-outs already won), tags, static segments, one
    audit entry per player; each service writes its own history rows and events. Players
    erased since the plan was validated (a resume, or an erasure during the import) are
    left out. The players' rows are locked first (FOR NO KEY UPDATE, in id order: the lock
    the consent step takes next anyway), so none can be erased while the batch writes."""
    await repository.lock_players(session, sorted(changes))
    erased = await erased_among(session, list(changes), lock=False)
    changes = {p: c for p, c in changes.items() if p not in erased}
    choices = [(p, c, on) for p, change in changes.items()
               for c, on in _consent_choices(change)]  # fmt: skip
    await consents.set_marketing_many(session, choices, actor=actor, source="import",
                                      settings=settings)  # fmt: skip
    tags = {p: change.tags for p, change in changes.items() if change.tags}
    await profiles.add_tags_many(session, tags, actor=actor, settings=settings)
    by_segment: dict[uuid.UUID, list[uuid.UUID]] = {}
    for player_id, change in changes.items():
        for segment_id in change.segments:
            by_segment.setdefault(segment_id, []).append(player_id)
    for segment_id in sorted(by_segment):
        await segments.add_static_members(session, segment_id, by_segment[segment_id])
    await audit.record_many(session, audit.Actor(actor), [
        audit.Record("marketing_import.player", f"player:{player_id}",
                     _audit_details(import_id, number, change))
        for player_id, change in sorted(changes.items())
    ])  # fmt: skip


def _consent_choices(change: Change) -> list[tuple[str, bool]]:
    wanted = {c: True for c in change.consent_on} | {c: False for c in change.consent_off}
    return sorted(wanted.items())


def _audit_details(import_id: str, batch: int, change: Change) -> dict[str, Any]:
    return {
        "importId": import_id, "batch": batch, "tagsAdded": sorted(change.tags),
        "consentsOn": sorted(change.consent_on), "consentsOff": sorted(change.consent_off),
        "segmentsAdded": sorted(str(s) for s in change.segments),
    }  # fmt: skip
