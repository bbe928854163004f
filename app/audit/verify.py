"""``pms audit verify``: recompute the tree from the stored audit rows alone and hold it
against every stored checkpoint (signatures included) and an optional exported one.

Finds an edited row (its canonical form no longer hashes to its leaf), a deleted row or
leaf, a row inserted below the sequencing floor, reordered leaves, rewritten hashes (the
recomputed root differs from a signed one) and a truncated tail (fewer entries than an
exported checkpoint). Reports the first bad position."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import checkpoints, merkle, note
from app.audit import tree_repository as repo
from app.audit.canonical import entry_leaf_hash
from app.audit.errors import InvalidCheckpoint, UnknownSigningKey
from app.audit.tree import Frontier, load_frontier, range_hashes

_PAGE = 5000


@dataclass(frozen=True)
class Problem:
    position: int
    message: str


@dataclass
class Report:
    size: int = 0
    checkpoints_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_position(self) -> int | None:
        return min((p.position for p in self.problems), default=None)


async def _leaves(session: AsyncSession, after: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT l.position, l.entry_id, l.leaf_hash, a.id IS NOT NULL AS present, "  # noqa: S608
            f"{repo.ENTRY_COLUMNS} FROM audit_leaves l "
            "LEFT JOIN audit_log a ON a.id = l.entry_id "
            "WHERE l.position > :after ORDER BY l.position LIMIT :page"
        ),
        {"after": after, "page": _PAGE},
    )
    return [dict(r._mapping) for r in rows]


@dataclass(frozen=True)
class ArchivedPrefix:
    """Positions below ``size`` were archived by the retention purge (their rows are
    gone); ``root`` is the tree's root at ``size``, proven against a signed checkpoint
    when the archive was written. Verification starts there. Rows still kept that were
    sequenced inside the prefix (a later month's, sequenced before the last archived
    month's end) can only lie in [``scan_from``, ``size``): each is proven into ``root``."""

    size: int
    root: bytes
    scan_from: int = 0


async def verify(
    session: AsyncSession, exported: str | None = None, archived: ArchivedPrefix | None = None
) -> Report:
    """Raises ``InvalidCheckpoint``/``UnknownSigningKey`` for a bad exported checkpoint."""
    keys = await checkpoints.key_map(session)
    external = note.parse(exported) if exported is not None else None
    if external is not None:
        note.verify(external, keys)
    report = Report()
    stored = await checkpoints.all_checkpoints(session)
    names = {kid.hex(): name for name, kid in keys}
    targets: dict[int, list[tuple[str, bytes]]] = {}
    for cp in stored:
        signed = checkpoints.as_note(cp, names.get(cp.key_id, "unknown"))
        try:
            note.verify(signed, keys)
        except (InvalidCheckpoint, UnknownSigningKey) as exc:
            report.problems.append(Problem(cp.tree_size, f"checkpoint {cp.tree_size}: {exc}"))
        targets.setdefault(cp.tree_size, []).append((f"checkpoint {cp.tree_size}", cp.root_hash))
    if external is not None:
        size = external.checkpoint.size
        targets.setdefault(size, []).append(("exported checkpoint", external.checkpoint.root))
    frontier = await _start(session, archived, targets, report)
    await _walk(session, frontier, targets, report)
    report.size = frontier.size
    report.checkpoints_checked = len(stored) + (external is not None)
    for size in sorted(s for s in targets if s > frontier.size):
        for label, _ in targets[size]:
            report.problems.append(
                Problem(
                    frontier.size,
                    f"truncated: the log has {frontier.size} entries, {label} has {size}",
                )
            )
    await _inserted(session, report)
    return report


async def _walk(
    session: AsyncSession,
    frontier: Frontier,
    targets: dict[int, list[tuple[str, bytes]]],
    report: Report,
) -> None:
    last_good = frontier.size  # the largest size whose root matched a signed one
    if frontier.size in targets:
        _compare(frontier, targets, report, last_good)
    after = frontier.size - 1
    while page := await _leaves(session, after):
        for row in page:
            position = int(row["position"])
            if position != frontier.size:
                report.problems.append(
                    Problem(frontier.size, f"position {frontier.size}: leaf missing (deleted)")
                )
                return
            if not row["present"]:
                report.problems.append(
                    Problem(position, f"position {position}: entry {row['entry_id']} deleted")
                )
                recomputed = bytes(row["leaf_hash"])
            else:
                recomputed = entry_leaf_hash(repo.entry_row_from(row))
                if recomputed != row["leaf_hash"]:
                    report.problems.append(
                        Problem(
                            position,
                            f"position {position}: entry {row['entry_id']} was "
                            "edited or moved (its leaf hash differs)",
                        )
                    )
            frontier.append(recomputed)
            if frontier.size in targets and _compare(frontier, targets, report, last_good):
                last_good = frontier.size
        after = frontier.size - 1


async def _start(
    session: AsyncSession,
    archived: ArchivedPrefix | None,
    targets: dict[int, list[tuple[str, bytes]]],
    report: Report,
) -> Frontier:
    """The empty tree, or the archived prefix: its frontier from the stored nodes (checked
    against the archived root), and the rows of later months sequenced inside it, each
    proven into that root. Checkpoints inside the prefix keep their signature check only."""
    if archived is None or archived.size == 0:
        return Frontier(0, [])
    for size in [s for s in targets if s < archived.size]:
        del targets[size]
    frontier = await load_frontier(session, archived.size)
    if frontier.root() != archived.root:
        report.problems.append(
            Problem(archived.size, f"the archived prefix of {archived.size} entries: its "
                    "stored tree no longer has the archived root")
        )  # fmt: skip
    for row in await _kept_inside(session, archived.scan_from, archived.size):
        position = int(row["position"])
        recomputed = entry_leaf_hash(repo.entry_row_from(row))
        path = await range_hashes(session, merkle.inclusion_ranges(position, archived.size))
        if not merkle.verify_inclusion(position, archived.size, recomputed, path, archived.root):
            report.problems.append(
                Problem(position, f"position {position}: entry {row['entry_id']} was edited "
                        "or moved (not in the archived prefix's root)")
            )  # fmt: skip
    return frontier


async def _kept_inside(session: AsyncSession, lo: int, size: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            f"SELECT l.position, l.entry_id, {repo.ENTRY_COLUMNS} FROM audit_leaves l "  # noqa: S608
            "JOIN audit_log a ON a.id = l.entry_id WHERE l.position >= :lo AND l.position < :n "
            "ORDER BY l.position"
        ),
        {"lo": lo, "n": size},
    )
    return [dict(r._mapping) for r in rows]


def _compare(
    frontier: Frontier, targets: dict[int, list[tuple[str, bytes]]], report: Report, good: int
) -> bool:
    root, ok = frontier.root(), True
    # A row found bad already explains the mismatch; otherwise the last good root bounds it.
    named = [p.position for p in report.problems if good <= p.position < frontier.size]
    position = min(named, default=good)
    for label, expected in targets[frontier.size]:
        if root != expected:
            ok = False
            report.problems.append(
                Problem(
                    position,
                    f"{label}: root differs from the recomputed tree; the first "
                    f"bad position is between {good} and {frontier.size - 1}",
                )
            )
    return ok


async def _inserted(session: AsyncSession, report: Report) -> None:
    """Rows older than the floor that no leaf holds were inserted behind the maintainer."""
    rows = await session.execute(
        text(
            "SELECT a.id, (SELECT count(*) FROM audit_leaves l "
            "JOIN audit_log b ON b.id = l.entry_id "
            "WHERE (b.occurred_at, b.id) < (a.occurred_at, a.id)) AS position "
            "FROM audit_log a, audit_tree_state s WHERE s.id = 1 AND a.occurred_at < s.time_floor "
            "AND NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.entry_id = a.id) "
            "ORDER BY a.id LIMIT 100"
        )
    )
    for r in rows:
        report.problems.append(
            Problem(
                r.position,
                f"position {r.position}: entry {r.id} was inserted outside "
                "the tree (older than the sequencing floor, in no leaf)",
            )
        )
