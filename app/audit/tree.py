"""The audit log's Merkle tree, extended incrementally: the maintainer gives each newly
committed audit row the next position (commit order as this task sees it: a row that
commits late gets a later position, never a gap) and stores the perfect subtrees it
completes, so any root or proof is a fold of O(log n) stored hashes.

Safe in many replicas: the state row is taken FOR UPDATE SKIP LOCKED, so one replica
extends the tree at a time and the others skip their turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import merkle
from app.audit import tree_repository as repo
from app.audit.canonical import entry_leaf_hash


def node_key(lo: int, hi: int) -> tuple[int, int]:
    """(level, index) of the perfect subtree ``[lo, hi)``."""
    level = (hi - lo).bit_length() - 1
    return level, lo >> level


async def range_hashes(session: AsyncSession, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The hash of each range (as the RFC 6962 recursion from [0, n) visits them), from
    the stored perfect subtrees, in one or two queries."""
    parts = [merkle.perfect_ranges(lo, hi) for lo, hi in ranges]
    found = await repo.node_hashes(session, (node_key(*p) for ps in parts for p in ps))
    return [merkle.fold([found[node_key(*p)] for p in ps]) for ps in parts]


async def root_at(session: AsyncSession, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return (await range_hashes(session, [(0, size)]))[0]


@dataclass
class Frontier:
    """The right edge of a tree of ``size`` leaves: its perfect subtrees, largest first,
    as (level, hash). Appending a leaf merges equal levels like a binary counter."""

    size: int
    stack: list[tuple[int, bytes]]

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; returns the inner nodes (level, index, hash) it completes."""
        position = self.size
        self.size += 1
        self.stack.append((0, leaf))
        completed = []
        while len(self.stack) >= 2 and self.stack[-1][0] == self.stack[-2][0]:
            (level, right), (_, left) = self.stack.pop(), self.stack.pop()
            merged = merkle.node_hash(left, right)
            self.stack.append((level + 1, merged))
            completed.append((level + 1, position >> (level + 1), merged))
        return completed

    def root(self) -> bytes:
        return merkle.fold([h for _, h in self.stack]) if self.stack else merkle.EMPTY_ROOT


async def load_frontier(session: AsyncSession, size: int) -> Frontier:
    ranges = merkle.perfect_ranges(0, size)
    found = await repo.node_hashes(session, (node_key(*r) for r in ranges))
    return Frontier(size, [(node_key(*r)[0], found[node_key(*r)]) for r in ranges])


@dataclass(frozen=True)
class Extended:
    appended: int
    size: int
    root: bytes


async def current(session: AsyncSession) -> Extended:
    """The tree as it stands, with the maintainers locked out until the caller commits."""
    state = await repo.lock_state(session, wait=True)
    assert state is not None
    frontier = await load_frontier(session, state[0])
    return Extended(0, frontier.size, frontier.root())


async def extend(session: AsyncSession, batch: int) -> Extended | None:
    """Sequence up to ``batch`` (>= 1) committed rows (None if another replica is at it)."""
    state = await repo.lock_state(session)
    if state is None:
        return None
    size, floor = state
    candidate = await repo.oldest_open_transaction(session)
    rows = await repo.unsequenced(session, floor, batch)
    frontier = await load_frontier(session, size)
    leaves, nodes = [], []
    for row in rows:
        digest = entry_leaf_hash(row)
        leaves.append((frontier.size, row["id"], digest))
        nodes.extend(frontier.append(digest))
    # A full batch may leave older rows behind: the floor only moves up to the last one.
    new_floor = min(candidate, rows[-1]["occurred_at"]) if len(rows) == batch else candidate
    await repo.append(session, leaves, nodes, frontier.size, max(floor, new_floor))
    return Extended(len(rows), frontier.size, frontier.root())
