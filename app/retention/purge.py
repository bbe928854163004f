"""The retention purge: for each whole month older than the retention (oldest first),
archive its ``audit_log`` and ``ledger_transfers`` partitions to a signed bundle, verify
the bundle from its files, then carry the month's ledger totals forward, record the
archive and detach and drop the partitions (one transaction). Anything that fails
before that transaction commits leaves the partitions as they were.

One purge at a time in all replicas (a session advisory lock; a second gets
``PurgeInProgress``)."""

from __future__ import annotations

import base64
import logging
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import checkpoints, note, proofs, tree
from app.audit import tasks as audit_tasks
from app.audit.tree_repository import ENTRY_COLUMNS, entry_row
from app.core import bundles
from app.core.db import Database
from app.core.settings import Settings
from app.retention import archive
from app.retention.errors import ArchiveFailed, MonthTooRecent, PurgeInProgress, RetentionTooShort
from app.retention.partitions import (
    PARTITIONED,
    Partition,
    Stray,
    month_of,
    next_month,
    partitions,
    strays_before,
)

log = logging.getLogger(__name__)

MIN_YEARS = 5
_LOCK = 0x504D535F50555247  # "PMS_PURG"


@dataclass(frozen=True)
class MonthResult:
    month: date
    audit_rows: int
    ledger_rows: int
    directory: str | None  # None on a dry run
    dropped: bool


def retention_limit(now: datetime, years: int) -> date:
    """The first month not wholly older than ``years`` before ``now``."""
    moment = now.astimezone(UTC)
    try:
        then = moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        then = moment.replace(year=moment.year - years, day=28)
    return month_of(then)


@asynccontextmanager
async def _exclusive(db: Database) -> AsyncIterator[None]:
    async with db.engine.connect() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK})).scalar()
        await conn.commit()
        if not got:
            raise PurgeInProgress("another retention purge is running; try again later")
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK})
            await conn.commit()


async def purge(
    db: Database, settings: Settings, *, dry_run: bool = False, month: date | None = None
) -> list[MonthResult]:
    """Archive and drop every month older than the retention (up to ``month`` if given).
    Raises ``RetentionTooShort``, ``MonthTooRecent``, ``PurgeInProgress``, ``ArchiveFailed``."""
    if settings.retention_years < MIN_YEARS:
        raise RetentionTooShort(
            f"PMS_RETENTION_YEARS is {settings.retention_years}; at least {MIN_YEARS} years"
        )
    async with _exclusive(db):
        async with db.read_session() as session:
            now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
            limit = retention_limit(now, settings.retention_years)
            if month is not None and month_of(month) >= limit:
                raise MonthTooRecent(
                    f"{month:%Y-%m} is younger than the {settings.retention_years}-year "
                    f"retention (months before {limit:%Y-%m} may be purged)"
                )
            found = {t: await partitions(session, t) for t in PARTITIONED}
        last = month_of(month) if month is not None else limit
        held = {p.month for ps in found.values() for p in ps if p.month is not None}
        months = sorted(m for m in held if m < limit and m <= last)
        results = []
        for m in months:
            parts = {t: next((p for p in ps if p.month == m), None) for t, ps in found.items()}
            results.append(await _purge_month(db, settings, m, parts, dry_run))
        return results


async def stray_rows(db: Database, settings: Settings) -> tuple[date, list[Stray]]:
    """The retention limit and the rows older than it that sit in a default partition:
    ``pms retention verify`` refuses them, the purge warns about them. They are not
    archived or deleted here: moving audit and ledger rows is an operator's decision."""
    async with db.read_session() as session:
        now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
        limit = retention_limit(now, settings.retention_years)
        return limit, await strays_before(session, limit)


async def _count(session: AsyncSession, part: Partition | None) -> int:
    if part is None:
        return 0
    return int((await session.execute(text(f"SELECT count(*) FROM {part.qualified}"))).scalar_one())  # noqa: S608


async def _purge_month(
    db: Database, settings: Settings, month: date, parts: dict[str, Partition | None],
    dry_run: bool,
) -> MonthResult:  # fmt: skip
    if dry_run:
        async with db.read_session() as session:
            audit_rows = await _count(session, parts["audit_log"])
            ledger_rows = await _count(session, parts["ledger_transfers"])
        return MonthResult(month, audit_rows, ledger_rows, None, False)
    # Everything committed gets its leaf and a signed checkpoint the archive can chain to.
    await audit_tasks.checkpoint_now(db, settings)
    async with db.transaction() as session:
        key_name, key = await checkpoints.signing_key(session, settings)
        published = await checkpoints.key_map(session)
    final = Path(settings.retention_archive_dir) / f"{month:%Y-%m}"
    partial = final.with_name(final.name + ".partial")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        async with db.read_session() as session:
            await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            written = await _write(session, partial, month, parts, key_name, key)
        problems = archive.verify_archive(partial, published)
        if problems:
            raise ArchiveFailed(f"the archive of {month:%Y-%m} does not verify: {problems[0]}")
        if final.exists():  # an earlier run's bundle that was never recorded
            final.rename(final.with_name(f"{final.name}.stale-{os.getpid()}"))
        partial.rename(final)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ArchiveFailed(f"the archive of {month:%Y-%m} could not be written: {exc}") from exc
    except ArchiveFailed:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        await _drop(db, month, parts, written, final)
    except DBAPIError as exc:  # e.g. the lock wait below timed out: nothing was dropped
        raise ArchiveFailed(
            f"{month:%Y-%m} archived to {final} but not dropped: {exc.orig}"
        ) from exc
    return MonthResult(month, written.audit_rows, written.ledger_rows, str(final), True)


@dataclass(frozen=True)
class Written:
    audit_rows: int
    ledger_rows: int
    tree: archive.TreePart | None
    manifest_sha256: str
    checkpoint_size: int


async def _tree_bounds(session: AsyncSession, part: Partition | None) -> tuple[int, int]:
    """[from, size): from = what earlier archives covered; size = past the month's last leaf."""
    lo = int(
        (
            await session.execute(
                text("SELECT coalesce(max(tree_size), 0) FROM retention_archives")
            )
        ).scalar_one()
    )
    if part is None:
        return lo, lo
    row = (
        await session.execute(
            text(
                "SELECT count(*) FILTER (WHERE l.position IS NULL) AS open, max(l.position) AS top "  # noqa: S608
                f"FROM {part.qualified} a LEFT JOIN audit_leaves l ON l.entry_id = a.id"
            )
        )
    ).one()
    if row.open:
        raise ArchiveFailed(f"{row.open} audit entries of {part.name} are not in the tree yet")
    return lo, max(lo, row.top + 1) if row.top is not None else lo


async def _write(
    session: AsyncSession, directory: Path, month: date, parts: dict[str, Partition | None],
    key_name: str, key: Ed25519PrivateKey,
) -> Written:  # fmt: skip
    audit_part, ledger_part = parts["audit_log"], parts["ledger_transfers"]
    lo, hi = await _tree_bounds(session, audit_part)
    files: list[bundles.FileEntry] = []
    audit_rows, carried = await _write_audit(session, directory, audit_part, lo, files)
    await _write_leaves(session, directory, audit_part, lo, hi, files)
    ledger_rows = await _write_ledger(session, directory, ledger_part, files)
    tree_part, cp_size = await _tree_part(session, lo, hi, carried) if hi else (None, 0)
    keys = [
        {"name": k.name, "keyId": k.key_id, "publicKey": base64.b64encode(k.public_key).decode()}
        for k in await checkpoints.public_keys(session)
    ]
    public = key.public_key().public_bytes_raw()
    manifest = bundles.seal_bundle(
        directory, archive.KIND, note.key_hash(key_name, public).hex(), key, files,
        month=month.isoformat(), auditRows=audit_rows, ledgerRows=ledger_rows,
        tree=tree_part.as_dict() if tree_part else None, keys=keys,
    )  # fmt: skip
    return Written(audit_rows, ledger_rows, tree_part, bundles.sha256_hex(manifest), cp_size)


async def _write_audit(
    session: AsyncSession, directory: Path, part: Partition | None, lo: int,
    files: list[bundles.FileEntry],
) -> tuple[int, list[int]]:  # fmt: skip
    """The month's rows by position; returns the count and the ids sequenced before ``lo``."""
    writer = bundles.DatasetWriter(directory, "audit_log", archive.AUDIT_COLUMNS)
    carried = []
    if part is not None:
        rows = await session.stream(
            text(
                f"SELECT l.position, l.leaf_hash, {ENTRY_COLUMNS} FROM {part.qualified} a "  # noqa: S608
                "JOIN audit_leaves l ON l.entry_id = a.id ORDER BY l.position"
            )
        )
        async for row in rows:
            entry = entry_row(row)
            if entry["position"] < lo:
                carried.append(int(entry["id"]))
            writer.write({c: archive.cell(entry[c]) for c in archive.AUDIT_COLUMNS})
    files.extend(writer.close())
    return writer.rows, carried


async def _write_leaves(
    session: AsyncSession, directory: Path, part: Partition | None, lo: int, hi: int,
    files: list[bundles.FileEntry],
) -> None:  # fmt: skip
    writer = bundles.DatasetWriter(directory, "tree_leaves", archive.LEAF_COLUMNS)
    if part is not None and hi > lo:
        rows = await session.stream(
            text(
                "SELECT l.position, l.entry_id, l.leaf_hash, a.id IS NOT NULL AS in_bundle "  # noqa: S608
                f"FROM audit_leaves l LEFT JOIN {part.qualified} a ON a.id = l.entry_id "
                "WHERE l.position >= :lo AND l.position < :hi ORDER BY l.position"
            ),
            {"lo": lo, "hi": hi},
        )
        async for row in rows:
            writer.write({c: archive.cell(v) for c, v in row._mapping.items()})
    files.extend(writer.close())


async def _write_ledger(
    session: AsyncSession, directory: Path, part: Partition | None,
    files: list[bundles.FileEntry],
) -> int:  # fmt: skip
    writer = bundles.DatasetWriter(directory, "ledger_transfers", archive.LEDGER_COLUMNS)
    totals: dict[tuple[int, str], list[Any]] = {}
    if part is not None:
        columns = ", ".join(archive.LEDGER_COLUMNS)
        rows = await session.stream(text(f"SELECT {columns} FROM {part.qualified} ORDER BY id"))  # noqa: S608
        async for row in rows:
            values = dict(row._mapping)
            writer.write({c: archive.cell(v) for c, v in values.items()})
            total = totals.setdefault((values["wallet_id"], values["house_account"]),
                                      [values["currency"], 0, 0])  # fmt: skip
            total[1] += values["amount"]
            total[2] += 1
    files.extend(writer.close())
    sums = bundles.DatasetWriter(directory, "ledger_totals", archive.TOTAL_COLUMNS)
    for (wallet, house), (currency, amount, count) in sorted(totals.items()):
        sums.write({"wallet_id": wallet, "house_account": house, "currency": currency,
                    "amount": amount, "transfers": count})  # fmt: skip
    files.extend(sums.close())
    return writer.rows


async def _tree_part(
    session: AsyncSession, lo: int, hi: int, carried: list[int]
) -> tuple[archive.TreePart, int]:
    cp = (
        await session.execute(
            text(
                "SELECT tree_size FROM audit_checkpoints WHERE tree_size >= :n "
                "ORDER BY tree_size LIMIT 1"
            ),
            {"n": hi},
        )
    ).scalar()
    row = await checkpoints.at_size(session, int(cp)) if cp is not None else None
    if row is None:
        raise ArchiveFailed(f"no signed checkpoint covers tree size {hi} yet")
    frontier = await tree.load_frontier(session, lo)
    consistency = await proofs.consistency(session, hi, row.tree_size)
    inclusions = {
        eid: (await proofs.inclusion(session, eid, row.tree_size)).path for eid in carried
    }
    part = archive.TreePart(
        lo, hi, [h for _, h in frontier.stack], await tree.root_at(session, hi),
        await checkpoints.note_text(session, row), consistency.path, inclusions,
    )  # fmt: skip
    return part, row.tree_size


async def _drop(
    db: Database, month: date, parts: dict[str, Partition | None], written: Written, final: Path
) -> None:
    """Carry forward, record, detach and drop: one transaction. The row counts are taken
    again under a lock that keeps writers out of the partitions: a row that came after
    the snapshot aborts the purge (the bundle would not hold it)."""
    through = datetime.combine(next_month(month), time(), UTC)
    audit_part, ledger_part = parts["audit_log"], parts["ledger_transfers"]
    async with db.transaction() as session:
        await session.execute(text("SET LOCAL pms.retention_job = 'on'"))
        # DETACH needs the parent tables exclusively: while it waits, money transactions
        # queue behind it, so give up soon (the next run tries again) rather than stall.
        await session.execute(text("SET LOCAL lock_timeout = '5s'"))
        for part in (audit_part, ledger_part):
            if part is not None:
                await session.execute(text(f"LOCK TABLE {part.qualified} IN SHARE MODE"))
        counts = (await _count(session, audit_part), await _count(session, ledger_part))
        if counts != (written.audit_rows, written.ledger_rows):
            raise ArchiveFailed(f"rows of {month:%Y-%m} changed while archiving; nothing dropped")
        if ledger_part is not None:
            await session.execute(
                text(
                    "INSERT INTO ledger_carry_forward (wallet_id, house_account, currency, "  # noqa: S608
                    "amount, transfers, through) SELECT wallet_id, house_account, currency, "
                    f"sum(amount), count(*), :through FROM {ledger_part.qualified} "
                    "GROUP BY wallet_id, house_account, currency "
                    "ON CONFLICT (wallet_id, house_account) DO UPDATE SET "
                    "amount = ledger_carry_forward.amount + excluded.amount, "
                    "transfers = ledger_carry_forward.transfers + excluded.transfers, "
                    "through = greatest(ledger_carry_forward.through, excluded.through)"
                ),
                {"through": through},
            )
        tree_part = written.tree
        await session.execute(
            text(
                "INSERT INTO retention_archives (month, directory, manifest_sha256, audit_rows, "
                "ledger_rows, tree_from, tree_size, tree_root, checkpoint_size) VALUES "
                "(:m, :d, :s, :a, :l, :f, :n, :r, :c)"
            ),
            {"m": month, "d": str(final), "s": written.manifest_sha256, "a": written.audit_rows,
             "l": written.ledger_rows, "f": tree_part.tree_from if tree_part else 0,
             "n": tree_part.tree_size if tree_part else 0,
             "r": tree_part.root if tree_part else b"", "c": written.checkpoint_size},
        )  # fmt: skip
        if audit_part is not None:
            # The personal values kept beside the dropped entries (ip, user agent; the
            # entries held only their commitments) go with them: kept no longer than the
            # entries they belong to, and not archived (the bundle proves the entries).
            await session.execute(text(
                f"DELETE FROM audit_personal_values WHERE entry_id IN "  # noqa: S608
                f"(SELECT id FROM {audit_part.qualified})"
            ))  # fmt: skip
        for table, part in (("audit_log", audit_part), ("ledger_transfers", ledger_part)):
            if part is not None:
                await session.execute(
                    text(f"ALTER TABLE {table} DETACH PARTITION {part.qualified}")
                )
                await session.execute(text(f"DROP TABLE {part.qualified}"))


async def purge_task(db: Database, settings: Settings) -> None:
    """The scheduled purge: a replica that finds another purging skips its turn."""
    try:
        await purge(db, settings)
    except PurgeInProgress:
        return
    limit, strays = await stray_rows(db, settings)
    for stray in strays:
        log.warning("retention: %s", stray.describe(limit))
