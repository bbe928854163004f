"""Running an export: close the cursor range, read it in one snapshot, write the datasets
and seal the bundle. Returns the next cursor.

Range: ``(since, until]`` over a row id (outbox event id for CRM, ledger transfer id for
ERP). Ids are handed out before their transactions commit, so ``until`` is only final once
every transaction that was running when it was read has ended: the export waits for them
(``ExportBusy`` after ``export_settle_timeout_seconds``). The range is recorded per
``(kind, since)``: a run resumed from the same cursor covers the same rows and, for the
append-only data (memberships, transfers, balances), writes byte-identical files.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.consents.service import CHANNELS
from app.core import bundles
from app.core.db import Database
from app.core.errors import ValidationFailed
from app.core.settings import Settings
from app.exports import cursor, hooks, repository, signing
from app.exports.cursor import Cursor, ExportKind
from app.exports.errors import ExportBusy, InvalidExportCursor
from app.exports.repository import DbRow

# done, total
Progress = Callable[[int, int], None]


MEMBERSHIP_COLUMNS = (
    "position", "eventId", "change", "at", "segmentId", "segmentName", "playerId",
    "suppressed", "suppressionReason",
)  # fmt: skip
PLAYER_COLUMNS = (
    "position", "playerId", "marketable", "suppressionReason", "channels", "email", "phone",
    "firstName", "lastName", "locale", "country", "currency", "vipLevel", "tags",
    "registeredAt",
)  # fmt: skip
TRANSFER_COLUMNS = (
    "id", "createdAt", "operationId", "playerId", "walletId", "walletKind", "houseAccount",
    "currency", "amount", "kind", "balanceAfter", "reference",
)  # fmt: skip
DAILY_COLUMNS = ("day", "currency", "account", "movement", "closingBalance")
TOTAL_COLUMNS = ("currency", "account", "balance")

_TABLE = {ExportKind.CRM: "outbox_events", ExportKind.ERP: "ledger_transfers"}


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    since: Cursor
    until: Cursor
    files: list[bundles.FileEntry]
    manifest_sha256: str

    @property
    def next_cursor(self) -> str:
        return str(self.until)


def bundle_directory(root: Path, since: Cursor, until: Cursor) -> Path:
    return root / f"{since.kind.value}-{since.position:012d}-{until.position:012d}"


async def run_export(
    db: Database, settings: Settings, kind: ExportKind, since_raw: str | None, out: Path, *,
    actor: str, channels: Sequence[str] = CHANNELS, progress: Progress | None = None,
) -> ExportResult:  # fmt: skip
    since = cursor.parse(since_raw, kind)
    wanted = channels_of(channels)
    until = await _range_end(db, settings, since, actor)
    async with db.transaction() as session:
        kid, key = await signing.active_key(session, settings)
    directory = bundle_directory(out, since, until)
    directory.mkdir(parents=True, exist_ok=True)
    # Two runs of one range (two replicas' jobs, a job and the CLI) would write the same
    # files at once: one at a time, the second rewrites what the first wrote.
    async with repository.range_lock(db, kind.value, since.position):
        async with db.transaction() as session:
            await repository.snapshot_read(session)
            if kind is ExportKind.CRM:
                files, extra = await _crm(session, directory, since, until, wanted, progress)
            else:
                files, extra = await _erp(session, directory, since, until, progress)
        manifest = bundles.seal_bundle(
            directory, kind.value, kid, key, files,
            cursor={"since": str(since), "until": str(until)}, **extra,
        )  # fmt: skip
    digest = bundles.sha256_hex(manifest)
    async with db.transaction() as session:
        run = await repository.find_run(session, kind.value, since.position)
        assert run is not None and run.id is not None
        await repository.complete_run(session, run.id, digest)
        # Personal data leaving the system is a read that is audited, whatever the path.
        await audit.record(
            session, audit.Actor(actor), f"export.{kind.value}", f"export:{since}..{until}",
            details={"rows": {f.name: f.rows for f in files}, "manifestSha256": digest},
        )  # fmt: skip
    return ExportResult(directory, since, until, files, digest)


def channels_of(channels: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(channels) - set(CHANNELS))
    if unknown or not channels:
        raise ValidationFailed.single("channels", f"one or more of {', '.join(CHANNELS)}")
    return tuple(c for c in CHANNELS if c in channels)


async def _range_end(db: Database, settings: Settings, since: Cursor, actor: str) -> Cursor:
    """The recorded end of the range starting at ``since``, or a new, settled one."""
    async with db.transaction() as session:
        run = await repository.find_run(session, since.kind.value, since.position)
    if run is not None:
        return Cursor(since.kind, run.until_position)
    head = await settled_head(db, _TABLE[since.kind], settings.export_settle_timeout_seconds)
    if since.position > head:
        raise InvalidExportCursor("the cursor is ahead of the data; was it issued here?")
    async with db.transaction() as session:
        run = await repository.record_run(session, since.kind.value, since.position, head, actor)
    return Cursor(since.kind, run.until_position)


async def settled_head(db: Database, table: str, wait_seconds: float) -> int:
    """The last id of ``table`` once no transaction can still commit a row at or below it."""
    async with db.transaction() as session:
        head = await repository.sequence_head(session, table)
        # Read after the head: a writer holding an id <= head is among these.
        xids = await repository.writers(session)
    deadline = time.monotonic() + wait_seconds
    while True:
        if not xids:
            return head
        async with db.transaction() as session:
            if await repository.still_running(session, xids) == 0:
                return head
        if time.monotonic() > deadline:
            raise ExportBusy("long-running transactions keep the export range open; retry")
        await asyncio.sleep(0.05)


# --- CRM -----------------------------------------------------------------------------------


def _consents(raw: Any) -> set[str]:
    return {c for c in CHANNELS if isinstance(raw, dict) and raw.get(c) is True}


def _suppression(row: DbRow, external: dict[uuid.UUID, str], wanted: Sequence[str]) -> str | None:
    """Why the player must not be marketed to through ``wanted`` (None: it may be)."""
    if row["status"] != "ACTIVE":
        return str(row["status"])  # SELF_EXCLUDED, BLOCKED, CLOSED
    if row["player_id"] in external:
        return external[row["player_id"]]
    if not _consents(row["consents"]) & set(wanted):
        return "NO_CONSENT"
    return None


async def _external(session: AsyncSession, rows: Sequence[DbRow]) -> dict[uuid.UUID, str]:
    return await hooks.suppressed(session, sorted({r["player_id"] for r in rows}))


async def _crm(
    session: AsyncSession, directory: Path, since: Cursor, until: Cursor,
    wanted: tuple[str, ...], progress: Progress | None,
) -> tuple[list[bundles.FileEntry], dict[str, Any]]:  # fmt: skip
    a, b = since.position, until.position
    tracker = _Tracker(
        progress,
        await repository.count_memberships(session, a, b)
        + await repository.count_changed_players(session, a, b),
    )
    members = bundles.DatasetWriter(directory, "segment_memberships", MEMBERSHIP_COLUMNS)
    players = bundles.DatasetWriter(directory, "players", PLAYER_COLUMNS)
    try:
        async for rows in repository.memberships(session, a, b):
            external = await _external(session, rows)
            members.write_many([_membership(r, _suppression(r, external, wanted)) for r in rows])
            tracker.advance(len(rows))
        async for rows in repository.changed_players(session, a, b):
            external = await _external(session, rows)
            players.write_many(
                [_player(r, _suppression(r, external, wanted), wanted) for r in rows]
            )
            tracker.advance(len(rows))
    except BaseException:
        members.abort()
        players.abort()
        raise
    return members.close() + players.close(), {"channels": list(wanted)}


def _membership(row: DbRow, reason: str | None) -> dict[str, Any]:
    return {
        "position": row["position"], "eventId": row["event_id"],
        "change": "entered" if row["type"] == "segment.entered" else "left",
        "at": _iso(row["time"]), "segmentId": row["segment_id"],
        "segmentName": row["segment_name"], "playerId": str(row["player_id"]),
        "suppressed": reason is not None, "suppressionReason": reason,
    }  # fmt: skip


def _player(row: DbRow, reason: str | None, wanted: Sequence[str]) -> dict[str, Any]:
    """A suppressed player carries its id and the reason only: no contact data at all."""
    blank: dict[str, Any] = dict.fromkeys(PLAYER_COLUMNS)
    blank.update(position=row["position"], playerId=str(row["player_id"]), marketable=False,
                 suppressionReason=reason)  # fmt: skip
    if reason is not None:
        return blank
    allowed = [c for c in wanted if c in _consents(row["consents"])]
    blank.update(
        marketable=True, channels=";".join(allowed),
        email=row["email"] if "email" in allowed else None,
        phone=row["phone"] if {"sms", "phone"} & set(allowed) else None,
        firstName=row["first_name"], lastName=row["last_name"], locale=row["locale"],
        country=row["country"], currency=row["currency"], vipLevel=row["vip_level"],
        tags=row["tags"], registeredAt=_iso(row["created_at"]),
    )  # fmt: skip
    return blank


# --- ERP -----------------------------------------------------------------------------------


async def _erp(
    session: AsyncSession, directory: Path, since: Cursor, until: Cursor,
    progress: Progress | None,
) -> tuple[list[bundles.FileEntry], dict[str, Any]]:  # fmt: skip
    a, b = since.position, until.position
    tracker = _Tracker(progress, await repository.count_transfers(session, a, b))
    transfers = bundles.DatasetWriter(directory, "ledger_transfers", TRANSFER_COLUMNS)
    daily = bundles.DatasetWriter(directory, "daily_balances", DAILY_COLUMNS)
    totals = bundles.DatasetWriter(directory, "account_totals", TOTAL_COLUMNS)
    writers = (transfers, daily, totals)
    try:
        async for rows in repository.transfers(session, a, b):
            transfers.write_rows([_transfer(row) for row in rows])
            tracker.advance(len(rows))
        async for rows in repository.daily_balances(session, a, b):
            daily.write_rows([[_iso(r["day"]), r["currency"], r["account"], int(r["movement"]),
                               int(r["closing"])] for r in rows])  # fmt: skip
        sums: dict[str, int] = {}
        for row in await repository.account_totals(session, b):
            totals.write({"currency": row.currency, "account": row.account,
                          "balance": int(row.balance)})  # fmt: skip
            sums[row.currency] = sums.get(row.currency, 0) + int(row.balance)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    files = [entry for writer in writers for entry in writer.close()]
    # Every currency's accounts sum to zero, as `pms ledger verify` proves for the ledger.
    return files, {"reconciliation": {"currencySums": dict(sorted(sums.items())),
                                      "ok": all(v == 0 for v in sums.values())}}  # fmt: skip


def _transfer(row: DbRow) -> list[Any]:
    """TRANSFER_COLUMNS' values: the query selects them in that order."""
    values = list(row)
    values[1] = values[1].isoformat()  # createdAt
    return values


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


class _Tracker:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress = progress
        self._total = total
        self._done = 0
        if progress is not None:
            progress(0, total)

    def advance(self, rows: int) -> None:
        self._done += rows
        if self._progress is not None:
            self._progress(min(self._done, self._total), self._total)
