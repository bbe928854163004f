"""An independent RFC 6962 verifier for the tests: written from the RFC's recursive
definitions (MTH, PATH, SUBPROOF), sharing no code with app/audit/merkle.py."""

from __future__ import annotations

import hashlib


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaf_hashes: list[bytes]) -> bytes:
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = _k(len(leaf_hashes))
    return node(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, path: list[bytes]) -> bytes:
    """PATH(m, D[n]) lists the deepest sibling first; rebuild the root from the top."""
    if size == 1:
        assert not path, "proof too long"
        return leaf_hash
    assert path, "proof too short"
    k = _k(size)
    if index < k:
        return node(root_from_inclusion(index, k, leaf_hash, path[:-1]), path[-1])
    return node(path[-1], root_from_inclusion(index - k, size - k, leaf_hash, path[:-1]))


def roots_from_consistency(
    m: int, n: int, first_root: bytes, proof: list[bytes], complete: bool = True
) -> tuple[bytes, bytes]:
    """(old root, new root) that SUBPROOF(m, D[n], complete) implies."""
    if m == n:
        if complete:
            assert not proof, "proof too long"
            return first_root, first_root
        assert len(proof) == 1, "bad proof length"
        return proof[0], proof[0]
    assert proof, "proof too short"
    k = _k(n)
    if m <= k:
        old, new = roots_from_consistency(m, k, first_root, proof[:-1], complete)
        return old, node(new, proof[-1])
    old, new = roots_from_consistency(m - k, n - k, first_root, proof[:-1], False)
    return node(proof[-1], old), node(proof[-1], new)


def inclusion_ok(index: int, size: int, leaf_hash: bytes, path: list[bytes], root: bytes) -> bool:
    try:
        return root_from_inclusion(index, size, leaf_hash, path) == root
    except AssertionError:
        return False


def consistency_ok(m: int, n: int, old: bytes, new: bytes, proof: list[bytes]) -> bool:
    if m == 0:
        return not proof
    try:
        return roots_from_consistency(m, n, old, proof) == (old, new)
    except AssertionError:
        return False
