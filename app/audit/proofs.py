"""Inclusion and consistency proofs (RFC 6962 section 2.1) from the stored tree."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import merkle, tree
from app.audit import tree_repository as repo
from app.audit.errors import EntryNotInTree, TreeSizeOutOfRange


@dataclass(frozen=True)
class InclusionProof:
    entry_id: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    path: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: list[bytes]


async def _size(session: AsyncSession, requested: int | None) -> int:
    size, _ = await repo.state_size(session)
    if requested is None:
        return size
    if requested < 0 or requested > size:
        raise TreeSizeOutOfRange(f"tree size {requested} is outside the log (size {size})")
    return requested


async def inclusion(
    session: AsyncSession, entry_id: int, tree_size: int | None = None
) -> InclusionProof:
    size = await _size(session, tree_size)
    leaf = await repo.leaf_of_entry(session, entry_id)
    if leaf is None or leaf[0] >= size:
        raise EntryNotInTree(f"audit entry {entry_id} is not in the tree of size {size}")
    index, digest = leaf
    path = await tree.range_hashes(session, merkle.inclusion_ranges(index, size))
    root = await tree.root_at(session, size)
    return InclusionProof(entry_id, index, size, digest, root, path)


async def consistency(
    session: AsyncSession, first: int, second: int | None = None
) -> ConsistencyProof:
    size = await _size(session, second)
    if first < 0 or first > size:
        raise TreeSizeOutOfRange(f"first size {first} is not between 0 and {size}")
    path = await tree.range_hashes(session, merkle.consistency_ranges(first, size))
    roots = await tree.range_hashes(session, [(0, first), (0, size)]) if first else []
    first_root = roots[0] if first else merkle.EMPTY_ROOT
    second_root = roots[1] if first else await tree.root_at(session, size)
    return ConsistencyProof(first, size, first_root, second_root, path)
