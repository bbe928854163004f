"""The RFC 6962 tree of app/audit/merkle.py against the RFC's test vectors and an
independent verifier (tests/audit_verifier.py)."""

from __future__ import annotations

import pytest

from app.audit import merkle
from app.audit.tree import Frontier
from tests import audit_verifier as ref

# The eight leaves and tree heads of the RFC 6962 reference tests (certificate-transparency
# merkle_tree_test.cc / Trillian's test vectors).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def hashes(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def from_ranges(leaves: list[bytes], ranges: list[tuple[int, int]]) -> list[bytes]:
    return [ref.mth(leaves[lo:hi]) for lo, hi in ranges]


def test_empty_tree_root_is_sha256_of_nothing():
    assert merkle.root_of([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_rfc6962_vectors(size):
    leaves = [merkle.leaf_hash(x) for x in LEAVES[:size]]
    assert merkle.root_of(leaves).hex() == ROOTS[size - 1]
    frontier = Frontier(0, [])
    for h in leaves:
        frontier.append(h)
    assert frontier.root().hex() == ROOTS[size - 1]


def test_incremental_frontier_stores_exactly_the_perfect_subtrees():
    leaves = hashes(13)
    frontier, nodes = Frontier(0, []), {}
    for h in leaves:
        for level, index, digest in frontier.append(h):
            nodes[(level, index)] = digest
    expected = {
        (level, i): ref.mth(leaves[i << level : (i + 1) << level])
        for level in range(1, 4)
        for i in range(13 >> level)
    }
    assert nodes == expected


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31])
def test_every_inclusion_proof_verifies_independently(size):
    leaves = hashes(size)
    root = ref.mth(leaves)
    for index in range(size):
        path = from_ranges(leaves, merkle.inclusion_ranges(index, size))
        assert ref.inclusion_ok(index, size, leaves[index], path, root)
        assert merkle.verify_inclusion(index, size, leaves[index], path, root)
        if path:  # a changed sibling or a wrong index fails
            forged = [bytes(32), *path[1:]]
            assert not ref.inclusion_ok(index, size, leaves[index], forged, root)
            assert not merkle.verify_inclusion(index, size, leaves[index], forged, root)


@pytest.mark.parametrize("second", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24])
def test_every_consistency_proof_verifies_independently(second):
    leaves = hashes(second)
    new = ref.mth(leaves)
    for first in range(0, second + 1):
        old = ref.mth(leaves[:first])
        proof = from_ranges(leaves, merkle.consistency_ranges(first, second))
        assert ref.consistency_ok(first, second, old, new, proof), (first, second)
        assert merkle.verify_consistency(first, second, old, new, proof)
        if 0 < first < second:
            assert not ref.consistency_ok(first, second, bytes(32), new, proof)
            assert not merkle.verify_consistency(first, second, old, bytes(32), proof)


def test_a_prefix_of_another_log_fails_the_consistency_check():
    leaves, other = hashes(10), hashes(10)
    other[3] = merkle.leaf_hash(b"edited")
    proof = from_ranges(other, merkle.consistency_ranges(6, 10))
    assert not ref.consistency_ok(6, 10, ref.mth(leaves[:6]), ref.mth(other), proof)
