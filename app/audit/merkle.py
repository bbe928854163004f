"""The Merkle tree of RFC 6962 / RFC 9162 section 2.1: leaf and node hashing with domain
separation, the largest-power-of-two split, audit paths and consistency proofs.

Pure functions over a ``SubtreeHash`` callback (the hash of leaves ``[lo, hi)``), so the
same code proves from rows in memory and from the stored nodes in the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_ranges(lo: int, hi: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` as the aligned perfect subtrees the RFC recursion reaches (largest
    first), valid when ``lo`` is a multiple of a power of two >= ``hi - lo`` - which holds
    for every range the recursion from ``[0, n)`` visits."""
    ranges = []
    while lo < hi:
        size = 1 << ((hi - lo).bit_length() - 1)
        ranges.append((lo, lo + size))
        lo += size
    return ranges


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its perfect subtrees' hashes (largest first): the RFC puts
    the largest on the left and recurses on the rest, so fold from the right."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 section 2.1, straight from the definition."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[size]), leaf-side first (RFC 6962 2.1.1)."""
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(first, D[second]) (RFC 6962 2.1.2), in order."""
    if first == 0 or first == second:
        return []
    return _subproof(first, 0, second, True)


def _subproof(m: int, lo: int, hi: int, complete: bool) -> list[tuple[int, int]]:
    n = hi - lo
    if m == n:
        return [] if complete else [(lo, hi)]
    k = split(n)
    if m <= k:
        return [*_subproof(m, lo, lo + k, complete), (lo + k, hi)]
    return [*_subproof(m - k, lo + k, hi, False), (lo, lo + k)]


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2; ``leaf`` is the leaf hash."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a proof node itself
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
