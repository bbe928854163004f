"""The regulator export: everything a gambling regulator asks for about a time range
``(from, to]`` (optionally one player), as a signed bundle (app/core/bundles.py): players,
KYC decisions, ledger transfers, every wallet's balance at ``from`` and at ``to``, bonuses,
status changes and the audit entries, each entry with its RFC 6962 inclusion proof in the
signed audit checkpoint shipped beside it (and a consistency proof from the checkpoint
that was current at ``from``), so the audit part is provably in the log.

The range is closed first: no transaction that started at or before ``to`` may still be
open (rows carry their transaction's start time), then the audit tree is brought up to
date and checkpointed. Every dataset is read in one snapshot and streamed in batches
(constant memory). Files are written in a hidden temporary directory that is renamed into
place once sealed: a failed export leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import checkpoints, merkle, proofs, tree
from app.audit import service as audit
from app.audit import tree_repository as tree_repo
from app.audit.models import AuditCheckpoint
from app.core import bundles
from app.core.db import Database
from app.core.errors import NotFound
from app.core.settings import Settings
from app.exports import regulator_repository as repo
from app.exports import repository, signing
from app.exports.errors import ExportBusy, InvalidExportRange
from app.ledger.balances_at import balances_at

KIND = "regulator"
CHECKPOINT_FILE = "checkpoint.txt"
PREVIOUS_CHECKPOINT_FILE = "checkpoint_previous.txt"
AUDIT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# done, total
Progress = Callable[[int, int], None]

COLUMNS: dict[str, tuple[str, ...]] = {
    "players": ("id", "login", "email", "firstName", "lastName", "birthDate", "country",
                "currency", "status", "confirmStatus", "riskLevel", "vipLevel", "registeredAt"),
    "kyc_decisions": ("id", "at", "caseId", "playerId", "actor", "action", "fromStatus",
                      "toStatus", "riskLevel", "reasons", "note"),
    "ledger_transfers": ("id", "createdAt", "operationId", "playerId", "walletId", "walletKind",
                         "houseAccount", "currency", "amount", "kind", "balanceAfter",
                         "reference", "actor"),
    "balances_from": ("at", "walletId", "playerId", "kind", "currency", "balance"),
    "balances_to": ("at", "walletId", "playerId", "kind", "currency", "balance"),
    "bonuses": ("id", "campaignId", "playerId", "kind", "status", "currency", "amount",
                "wageringRequired", "wagered", "released", "forfeited", "grantedBy",
                "expiresAt", "finishedAt", "createdAt"),
    "status_changes": ("id", "eventId", "at", "playerId", "fromStatus", "toStatus", "reason",
                       "actor"),
    "audit_entries": ("position", "entryId", "time", "principalKind", "actor", "action",
                      "resource", "outcome", "ip", "requestId", "userAgent", "details",
                      "leafHash", "inclusionPath"),
}  # fmt: skip
# Datasets read by repo.stream, in bundle order (balances come from app.ledger).
_STREAMED = ("players", "kyc_decisions", "ledger_transfers", "bonuses", "status_changes")


@dataclass(frozen=True)
class RegulatorRange:
    start: datetime
    end: datetime
    player: uuid.UUID | None = None


@dataclass(frozen=True)
class RegulatorResult:
    directory: Path
    files: list[bundles.FileEntry]
    manifest_sha256: str
    tree_size: int
    root_hash: bytes | None


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def run_regulator_export(
    db: Database, settings: Settings, rng: RegulatorRange, out: Path, *, actor: audit.Actor,
    max_days: float | None = None, progress: Progress | None = None,
) -> RegulatorResult:  # fmt: skip
    """Write and seal the bundle of ``rng`` under ``out``. ``max_days`` bounds the range
    (the synchronous GraphQL path); the CLI passes None."""
    await check_range(db, rng, max_days)
    await _settle(db, rng.end, settings.export_settle_timeout_seconds)
    checkpoint = await _checkpoint(db, settings)
    async with db.transaction() as session:
        kid, key = await signing.active_key(session, settings)
    partial = _new_partial(out)
    try:
        async with db.transaction() as session:
            await repository.snapshot_read(session)
            files, audit_part = await _write(session, partial, rng, checkpoint, progress)
        manifest = bundles.seal_bundle(
            partial, KIND, kid, key, files,
            range={"from": _iso(rng.start), "to": _iso(rng.end)},
            player=str(rng.player) if rng.player else None, audit=audit_part,
        )  # fmt: skip
        digest = bundles.sha256_hex(manifest)
        directory = _place(partial, out / _bundle_name(rng, digest))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    async with db.transaction() as session:
        # Personal data leaving the system is an audited read, whatever the path.
        await audit.record(
            session, actor, "export.regulator",
            f"player:{rng.player}" if rng.player else None,
            details={"from": _iso(rng.start), "to": _iso(rng.end), "manifestSha256": digest,
                     "rows": {f.name: f.rows for f in files}},
        )  # fmt: skip
    size = checkpoint.tree_size if checkpoint else 0
    return RegulatorResult(
        directory, files, digest, size, checkpoint.root_hash if checkpoint else None
    )


def _new_partial(out: Path) -> Path:
    """A hidden working directory beside the bundles (same file system: the rename into
    place is atomic)."""
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".regulator-{uuid.uuid4().hex}.partial"
    partial.mkdir()
    return partial


def _place(partial: Path, directory: Path) -> Path:
    if directory.exists():  # the same bundle made before: same manifest, so same files
        shutil.rmtree(partial)
    else:
        os.rename(partial, directory)
    return directory


def _bundle_name(rng: RegulatorRange, digest: str) -> str:
    who = f"-{rng.player}" if rng.player else ""
    return f"regulator-{_stamp(rng.start)}-{_stamp(rng.end)}{who}-{digest[:12]}"


async def check_range(db: Database, rng: RegulatorRange, max_days: float | None) -> None:
    if rng.start.tzinfo is None or rng.end.tzinfo is None:
        raise InvalidExportRange("from and to need a time zone offset")
    if rng.start >= rng.end:
        raise InvalidExportRange("the range is reversed or empty: from must be before to")
    if max_days is not None and rng.end - rng.start > timedelta(days=max_days):
        raise InvalidExportRange(
            f"ranges longer than {max_days:g} days run from the CLI (pms export regulator)"
        )
    async with db.read_session() as session:
        now = await repo.database_now(session)
        if rng.end > now:
            raise InvalidExportRange("to is in the future: a range must have ended")
        if rng.player is not None and not await repo.player_exists(session, rng.player):
            raise NotFound("no such player")


async def _settle(db: Database, end: datetime, wait_seconds: float) -> None:
    """Wait until no transaction that started at or before ``end`` is still open: after
    that, every row stamped inside the range has committed."""
    deadline = time.monotonic() + wait_seconds
    while True:
        async with db.read_session() as session:
            oldest = await repo.oldest_other_transaction(session)
        if oldest is None or oldest > end:
            return
        if time.monotonic() > deadline:
            raise ExportBusy("transactions begun inside the range are still open; retry")
        await asyncio.sleep(0.05)


async def _checkpoint(db: Database, settings: Settings) -> AuditCheckpoint | None:
    """Sequence everything committed and make sure a signed checkpoint covers the whole
    tree (None: the log is empty). Under the maintainer's lock, waiting for a replica's
    pass to end, so no backlog is left behind whatever the replicas are doing."""
    async with db.transaction() as session:
        await tree.current(session)  # the state row, locked (our own SKIP LOCKED sees it)
        while True:
            extended = await tree.extend(session, settings.audit_tree_batch)
            assert extended is not None
            if extended.appended < settings.audit_tree_batch:
                break
        if extended.size == 0:
            return None
        last = await checkpoints.latest(session)
        if last is None or last.tree_size < extended.size:
            last = await checkpoints.sign(session, settings, extended.size, extended.root)
        return last


async def _write(
    session: AsyncSession, directory: Path, rng: RegulatorRange,
    checkpoint: AuditCheckpoint | None, progress: Progress | None,
) -> tuple[list[bundles.FileEntry], dict[str, Any] | None]:  # fmt: skip
    size = checkpoint.tree_size if checkpoint else 0
    if await repo.unsequenced_audit_entries(session, rng.start, rng.end, rng.player, size):
        raise ExportBusy("audit entries of the range are not in the tree yet; retry")
    tracker = _Tracker(progress, await _total(session, rng))
    files: list[bundles.FileEntry] = []
    for name in _STREAMED:
        files += await _dataset(session, directory, name, rng, tracker)
    for name, at in (("balances_from", rng.start), ("balances_to", rng.end)):
        files += await _balances(session, directory, name, at, rng.player, tracker)
    files += await _audit_entries(session, directory, rng, size, tracker)
    if checkpoint is None:
        return files, None
    part, notes = await _audit_part(session, rng, checkpoint)
    files += [bundles.write_text_file(directory, name, text) for name, text in notes.items()]
    return files, part


async def _total(session: AsyncSession, rng: RegulatorRange) -> int:
    total = 0
    for name in (*_STREAMED, "audit_entries"):
        total += await repo.count(session, name, rng.start, rng.end, rng.player)
    for at in (rng.start, rng.end):
        total += await repo.count_wallets(session, at, rng.player)
    return total


async def _dataset(
    session: AsyncSession, directory: Path, name: str, rng: RegulatorRange, tracker: _Tracker
) -> list[bundles.FileEntry]:
    writer = bundles.DatasetWriter(directory, name, COLUMNS[name])
    shape = _SHAPES[name]
    try:
        async for rows in repo.stream(session, name, rng.start, rng.end, rng.player):
            for row in rows:
                writer.write(shape(row))
            tracker.advance(len(rows))
    except BaseException:
        writer.abort()
        raise
    return writer.close()


async def _balances(
    session: AsyncSession, directory: Path, name: str, at: datetime,
    player: uuid.UUID | None, tracker: _Tracker,
) -> list[bundles.FileEntry]:  # fmt: skip
    """Every wallet's balance at ``at``, from the ledger (app.ledger.balances_at, the rule
    behind the ``balancesAt`` query), page by page in wallet id order."""
    writer = bundles.DatasetWriter(directory, name, COLUMNS[name])
    after = 0
    try:
        while page := await balances_at(
            session, at, player_id=player, after_wallet_id=after, limit=repository.BATCH
        ):
            for b in page:
                writer.write({"at": _iso(at), "walletId": b.wallet_id,
                              "playerId": str(b.player_id), "kind": b.kind,
                              "currency": b.currency, "balance": b.balance})  # fmt: skip
            tracker.advance(len(page))
            after = page[-1].wallet_id
    except BaseException:
        writer.abort()
        raise
    return writer.close()


async def _audit_entries(
    session: AsyncSession, directory: Path, rng: RegulatorRange, size: int, tracker: _Tracker
) -> list[bundles.FileEntry]:
    """The entries in log order, each with its inclusion path in the tree of ``size``
    (the paths of one batch read in one or two queries)."""
    writer = bundles.DatasetWriter(directory, "audit_entries", COLUMNS["audit_entries"])
    try:
        async for rows in repo.stream(session, "audit_entries", rng.start, rng.end, rng.player):
            paths = await _inclusion_paths(session, [int(r.position) for r in rows], size)
            for row, path in zip(rows, paths, strict=True):
                writer.write(audit_row(tree_repo.entry_row(row), row.position,
                                       bytes(row.leaf_hash), path))  # fmt: skip
            tracker.advance(len(rows))
    except BaseException:
        writer.abort()
        raise
    return writer.close()


async def _inclusion_paths(
    session: AsyncSession, positions: Sequence[int], size: int
) -> list[list[bytes]]:
    ranges = [merkle.inclusion_ranges(p, size) for p in positions]
    flat = await tree.range_hashes(session, [r for rs in ranges for r in rs])
    out, at = [], 0
    for rs in ranges:
        out.append(flat[at : at + len(rs)])
        at += len(rs)
    return out


def audit_row(
    entry: Mapping[str, Any], position: int, leaf: bytes, path: Sequence[bytes]
) -> dict[str, Any]:
    """An audit entry as the bundle holds it: the canonical document's fields (so a
    verifier can re-encode it, RFC 8785, and rehash the leaf), its position and proof."""
    return {
        "position": position, "entryId": entry["id"],
        "time": entry["occurred_at"].astimezone(UTC).strftime(AUDIT_TIME_FORMAT),
        "principalKind": entry["principal_kind"], "actor": entry["actor"],
        "action": entry["action"], "resource": entry["target"], "outcome": entry["outcome"],
        "ip": entry["ip"], "requestId": entry["request_id"], "userAgent": entry["user_agent"],
        "details": bundles.canonical_json(entry["details"]), "leafHash": b64(leaf),
        "inclusionPath": " ".join(b64(h) for h in path),
    }  # fmt: skip


def entry_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of ``audit_row``: the audit_log row ``canonical.encode`` wants."""
    return {
        "id": row["entryId"],
        "occurred_at": datetime.strptime(row["time"], AUDIT_TIME_FORMAT).replace(tzinfo=UTC),
        "principal_kind": row["principalKind"], "actor": row["actor"],
        "action": row["action"], "target": row["resource"], "outcome": row["outcome"],
        "ip": row["ip"], "request_id": row["requestId"], "user_agent": row["userAgent"],
        "details": json.loads(row["details"]),
    }  # fmt: skip


async def _audit_part(
    session: AsyncSession, rng: RegulatorRange, checkpoint: AuditCheckpoint
) -> tuple[dict[str, Any], dict[str, str]]:
    """The manifest's ``audit`` section and the checkpoint notes it names."""
    notes = {CHECKPOINT_FILE: await checkpoints.note_text(session, checkpoint)}
    part: dict[str, Any] = {
        "checkpoint": CHECKPOINT_FILE, "treeSize": checkpoint.tree_size,
        "rootHash": b64(checkpoint.root_hash), "consistency": None,
    }  # fmt: skip
    before = await repo.checkpoint_before(session, rng.start, checkpoint.tree_size)
    if before is not None:
        previous = await session.get(AuditCheckpoint, before[0])
        assert previous is not None
        proof = await proofs.consistency(session, previous.tree_size, checkpoint.tree_size)
        notes[PREVIOUS_CHECKPOINT_FILE] = await checkpoints.note_text(session, previous)
        part["consistency"] = {
            "checkpoint": PREVIOUS_CHECKPOINT_FILE, "treeSize": previous.tree_size,
            "path": [b64(h) for h in proof.path],
        }  # fmt: skip
    return part, notes


def _player(r: Row[Any]) -> dict[str, Any]:
    return {"id": r.id, "login": r.login, "email": r.email, "firstName": r.first_name,
            "lastName": r.last_name, "birthDate": _iso(r.birth_date), "country": r.country,
            "currency": r.currency, "status": r.status, "confirmStatus": r.confirm_status,
            "riskLevel": r.risk_level, "vipLevel": r.vip_level,
            "registeredAt": _iso(r.created_at)}  # fmt: skip


def _kyc(r: Row[Any]) -> dict[str, Any]:
    return {"id": r.id, "at": _iso(r.created_at), "caseId": r.case_id, "playerId": r.player_id,
            "actor": r.actor, "action": r.action, "fromStatus": r.from_status,
            "toStatus": r.to_status, "riskLevel": r.risk_level, "reasons": r.reasons,
            "note": r.note}  # fmt: skip


def _transfer(r: Row[Any]) -> dict[str, Any]:
    return {"id": r.id, "createdAt": _iso(r.created_at), "operationId": r.operation_id,
            "playerId": r.player_id, "walletId": r.wallet_id, "walletKind": r.wallet_kind,
            "houseAccount": r.house_account, "currency": r.currency, "amount": r.amount,
            "kind": r.kind, "balanceAfter": r.balance_after, "reference": r.reference,
            "actor": r.actor}  # fmt: skip


def _bonus(r: Row[Any]) -> dict[str, Any]:
    return {"id": r.id, "campaignId": r.campaign_id, "playerId": r.player_id, "kind": r.kind,
            "status": r.status, "currency": r.currency, "amount": r.amount,
            "wageringRequired": r.wagering_required, "wagered": r.wagered,
            "released": r.released, "forfeited": r.forfeited, "grantedBy": r.granted_by,
            "expiresAt": _iso(r.expires_at), "finishedAt": _iso(r.finished_at),
            "createdAt": _iso(r.created_at)}  # fmt: skip


def _status(r: Row[Any]) -> dict[str, Any]:
    return {"id": r.id, "eventId": r.event_id, "at": _iso(r.time), "playerId": r.player_id,
            "fromStatus": r.from_status, "toStatus": r.to_status, "reason": r.reason,
            "actor": r.actor}  # fmt: skip


_SHAPES: dict[str, Callable[[Row[Any]], dict[str, Any]]] = {
    "players": _player, "kyc_decisions": _kyc, "ledger_transfers": _transfer,
    "bonuses": _bonus, "status_changes": _status,
}  # fmt: skip


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
