"""RFC 6962 / RFC 9162 Merkle trees: published test vectors, a naive reference, and properties.

Test vectors are the Certificate Transparency ones, copied from
transparency-dev/merkle (the Go library behind certificate-transparency-go):

- ``rfc6962/rfc6962_test.go`` (``TestRFC6962Hasher``): empty tree, empty leaf,
  leaf ``"L123456"`` and node ``("N123", "N456")`` hashes;
- ``proof/verify_test.go``: the 8 leaves, the roots of trees of size 1..8, the
  inclusion proofs (``inclusionProofs``, whose leaf numbers are 1-based there)
  and consistency proofs (``consistencyProofs``), and the corruption probes of
  ``corruptInclusionProof`` / ``corruptConsistencyProof``.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.ledger import merkle
from gridhash.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [  # roots[n - 1] is the root of the first n leaves
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based index, tree size, audit path); the Go file numbers leaves from 1.
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

HASHES = [leaf_hash(x) for x in LEAVES]


# --------------------------------------------------------------------------- reference
def ref_mth(d: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursively, on raw leaves."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) from RFC 9162 §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) from RFC 9162 §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def raw_leaves(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(n)]


# --------------------------------------------------------------------------- vectors
def test_rfc6962_hasher_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("n", range(1, 9))
def test_ct_roots(n: int) -> None:
    assert root(HASHES[:n]).hex() == ROOTS[n - 1]
    assert root(iter(HASHES[:n])).hex() == ROOTS[n - 1]
    frontier = Frontier()
    for h in HASHES[:n]:
        frontier.append(h)
    assert frontier.root().hex() == ROOTS[n - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_ct_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(HASHES, index, size)
    assert [p.hex() for p in proof] == path
    r = bytes.fromhex(ROOTS[size - 1])
    assert merkle.root_from_inclusion_proof(HASHES[index], index, size, proof) == r
    assert verify_inclusion(HASHES[index], index, size, proof, r)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_ct_consistency_vectors(first: int, second: int, path: list[str]) -> None:
    proof = consistency_proof(HASHES, first, second)
    assert [p.hex() for p in proof] == path
    r1, r2 = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    assert verify_consistency(first, second, r1, r2, proof)


def _inclusion_probes(index: int, size: int, proof: list[bytes], r: bytes, leaf: bytes):
    """corruptInclusionProof of transparency-dev/merkle proof/verify_test.go."""
    probes = [
        (index - 1, size, r, leaf, proof),
        (index + 1, size, r, leaf, proof),
        (index ^ 2, size, r, leaf, proof),
        (index, size * 2, r, leaf, proof),
        (index, size // 2, r, leaf, proof),
        (index, size, r, b"WrongLeaf", proof),
        (index, size, EMPTY_ROOT, leaf, proof),
        (index, size, SOME_HASH, leaf, proof),
        (index, size, r, leaf, [*proof, b""]),
        (index, size, r, leaf, [*proof, r]),
        (index, size, r, leaf, [b"", *proof]),
        (index, size, r, leaf, [r, *proof]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, r, leaf, bad))
    if proof:
        probes.append((index, size, r, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append((index, size, r, leaf, [proof[0], SOME_HASH, *proof[1:]]))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_ct_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    r = bytes.fromhex(ROOTS[size - 1])
    for i, s, rr, leaf, p in _inclusion_probes(index, size, proof, r, HASHES[index]):
        assert not verify_inclusion(leaf, i, s, p, rr), (i, s, rr.hex(), leaf, len(p))


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY[1:])
def test_ct_corrupted_consistency_proofs_fail(first: int, second: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    r1, r2 = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    probes = [
        (first - 1, second, r1, r2, proof),
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, b"WrongRoot", r2, proof),
        (first, second, r1, b"WrongRoot", proof),
        (first, second, r2, r1, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, b""]),
        (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, [*proof, r2]),
        (first, second, r1, r2, [b"", *proof]),
        (first, second, r1, r2, [r1, *proof]),
        (first, second, r1, r2, [r2, *proof]),
        (first, second, r1, r2, [proof[0], *proof]),
        (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((first, second, r1, r2, bad))
    for f, s, a, b, p in probes:
        assert not verify_consistency(f, s, a, b, p), (f, s, len(p))


def test_trivial_consistency_cases() -> None:
    # TestVerifyConsistency's fixed cases in transparency-dev/merkle proof/verify_test.go.
    r1, r2 = SOME_HASH, leaf_hash(b"other")
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(0, 0, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_inclusion_out_of_range_fails() -> None:
    for index, size in ((0, 0), (1, 0), (2, 1), (1, 1), (-1, 4)):
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
        assert merkle.root_from_inclusion_proof(SOME_HASH, index, size, []) is None
    one = leaf_hash(b"data")
    assert verify_inclusion(one, 0, 1, [], one)  # a one-leaf tree's root is its leaf hash
    assert not verify_inclusion(one, 0, 1, [], b"")


# --------------------------------------------------------------------------- reference
def test_every_small_tree_matches_the_rfc_recursion() -> None:
    """Roots, every audit path and every consistency proof for sizes 0..40."""
    for n in range(0, 41):
        d = raw_leaves(n)
        hs = [leaf_hash(x) for x in d]
        r = ref_mth(d)
        assert root(hs) == r == root(iter(hs))
        for m in range(n):
            assert inclusion_proof(hs, m) == ref_path(m, d)
        for m in range(1, n):
            assert consistency_proof(hs, m) == ref_subproof(m, d, True)
        assert consistency_proof(hs, n) == [] == consistency_proof(hs, 0)


def test_frontier_nodes_are_the_perfect_subtrees() -> None:
    hs = [leaf_hash(x) for x in raw_leaves(77)]
    frontier = Frontier()
    made = {}
    for h in hs:
        for level, index, node in frontier.append(h):
            made[(level, index)] = node
    assert len(made) == 77 - (77).bit_count()
    for (level, index), node in made.items():
        assert node == root(hs[index << level : (index + 1) << level])
    hashes = [made.get(k, hs[k[1]]) for k in merkle.perfect_subtrees(0, 77)]
    assert Frontier(77, hashes).root() == root(hs)
    assert frontier.root() == root(hs)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=12))
def test_extend_levels_in_any_chunks_makes_every_node_once(chunks: list[int]) -> None:
    """Bulk appends, level by level, in chunks of any sizes (0 included): the same perfect
    nodes, each once, as one append per leaf, and the same frontier after every chunk."""
    hs = [leaf_hash(x) for x in raw_leaves(sum(chunks))]
    bulk, one = Frontier(), Frontier()
    made, visited = [], []
    pos = 0
    for n in chunks:
        for level, first, nodes in bulk.extend_levels(hs[pos : pos + n]):
            assert level >= 1 and nodes
            made += [(level, first + i, h) for i, h in enumerate(nodes)]
        for h in hs[pos : pos + n]:
            visited += one.append(h)
        pos += n
        assert bulk.size == one.size == pos and bulk.hashes == one.hashes
        assert bulk.root() == root(hs[:pos])
    assert sorted(made) == sorted(visited) and len(made) == pos - pos.bit_count()
    for level, index, node in made:
        assert node == root(hs[index << level : (index + 1) << level])


# --------------------------------------------------------------------------- properties
@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    n = draw(st.integers(min_value=1, max_value=300))
    return [leaf_hash(x) for x in raw_leaves(n)], draw(st.integers(0, n - 1))


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    n = draw(st.integers(min_value=1, max_value=300))
    m = draw(st.integers(0, n))
    return [leaf_hash(x) for x in raw_leaves(n)], m, n


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.data())
def test_every_inclusion_proof_verifies_and_tampering_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    hs, index = case
    n = len(hs)
    r = root(hs)
    proof = inclusion_proof(hs, index)
    assert verify_inclusion(hs[index], index, n, proof, r)
    # A different leaf, index, size or root fails.
    other = data.draw(st.integers(0, n - 1))
    if hs[other] != hs[index]:
        assert not verify_inclusion(hs[other], index, n, proof, r)
    assert not verify_inclusion(hs[index], index, n, proof, node_hash(r, r))
    if other != index:
        assert not verify_inclusion(hs[index], other, n, proof, r)
    # Any flipped bit in the path fails.
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[i] = bytes(b ^ (1 << (bit % 8)) if j == bit // 8 else b for j, b in enumerate(bad[i]))
        assert not verify_inclusion(hs[index], index, n, bad, r)
        assert not verify_inclusion(hs[index], index, n, proof[:-1], r)
    assert not verify_inclusion(hs[index], index, n, [*proof, r], r)


@settings(max_examples=150, deadline=None)
@given(tree_and_sizes(), st.data())
def test_every_consistency_proof_verifies_and_tampering_fails(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    hs, m, n = case
    r1, r2 = root(hs[:m]), root(hs)
    proof = consistency_proof(hs, m)
    assert verify_consistency(m, n, r1, r2, proof)
    if 0 < m < n:
        # A changed old root, new root or flipped path bit fails.
        assert not verify_consistency(m, n, node_hash(r1, r1), r2, proof)
        assert not verify_consistency(m, n, r1, node_hash(r2, r2), proof)
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert not verify_consistency(m, n, r1, r2, bad)
        assert not verify_consistency(m, n, r1, r2, proof[:-1])
        assert not verify_consistency(m, n, r1, r2, [*proof, r2])
        # A rewritten history is not consistent with the old root.
        forged = list(hs)
        k = data.draw(st.integers(0, m - 1))
        forged[k] = leaf_hash(b"forged")
        assert not verify_consistency(m, n, r1, root(forged), consistency_proof(forged, m))
