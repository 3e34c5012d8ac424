"""Tampering of every kind is detected, and the first discrepancy is reported precisely.

Each test gets its own copy of a 40-entry ledger with tree heads signed by two parties
every 10 entries, edits the file as an attacker would (dropping the append-only
triggers first), and checks what :func:`verify_ledger` reports first.  Every test
runs on both node layouts: interior nodes kept at every level (ledgers made before
``node_stride``) and at every 4th level (the current layout).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import build, leaf_of, make_keys, rebuild_hashes, rows, tamper

from gridhash.ledger.errors import LedgerFileError
from gridhash.ledger.records import Signature
from gridhash.ledger.signing import PublicKey, generate_key
from gridhash.ledger.store import Ledger
from gridhash.ledger.verify import CheckContext, Discrepancy, verify_ledger


@pytest.fixture(scope="module", params=[1, 4], ids=["every-level", "every-4th-level"])
def _built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> tuple[Path, dict]:
    """The ledger, built once per module and layout (each append is a synced commit)."""
    folder = tmp_path_factory.mktemp("signed")
    keys = make_keys(folder / "keys")
    build(folder / "ledger.db", keys, n=40, every=10, tail=3, node_stride=request.param).close()
    return folder / "ledger.db", keys


def _stride(path: Path) -> int:
    with Ledger.open(path, readonly=True) as ledger:
        return ledger.node_stride


@pytest.fixture
def signed(_built: tuple[Path, dict], tmp_path: Path) -> tuple[Path, list[PublicKey], dict]:
    """This test's own copy of the ledger (and of any WAL file SQLite left beside it)."""
    built, keys = _built
    for file in built.parent.glob(built.name + "*"):
        shutil.copy2(file, tmp_path / file.name)
    return tmp_path / built.name, [k.public for k in keys.values()], keys


def test_untouched_ledger_verifies(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    report = verify_ledger(path, public, allow_unsigned_tail=True)
    assert report.ok, report.first
    tail = verify_ledger(path, public).first  # the 3 unsigned entries fail without the flag
    assert tail is not None and (tail.field, tail.seq, tail.last) == ("unsigned_tail", 40, 42)
    assert "unsigned tail of 3 entries" in tail.message
    assert (report.entries, report.tree_heads, report.signed_size, report.unsigned) == (
        43,
        4,
        40,
        3,
    )
    assert report.signatures_checked == 8
    stride = _stride(path)
    assert report.nodes_checked == sum(43 >> lv for lv in range(1, 6) if lv % stride == 0)
    assert report.nodes_checked == (43 - (43).bit_count() if stride == 1 else 2)
    assert report.consistency_checked == 3
    assert report.parties == ("operator", "ua-grid") and report.keys_given


def test_edited_payload(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    _, kind, payload, ts, recorded = rows(path)[13]
    edited = payload.replace('"mwh":815.75', '"mwh":915.75')
    assert edited != payload
    tamper(path, ("UPDATE entries SET payload = ? WHERE seq = 13", (edited,)))
    report = verify_ledger(path, public)
    first = report.first
    assert first is not None
    assert (first.seq, first.field) == (13, "leaf_hash")
    assert first.expected == recorded.hex()
    assert first.found == leaf_of(13, kind, edited, ts).hex()
    assert str(first).startswith("entry 13: leaf_hash: expected ")
    # And the signed root of the head covering it no longer matches.
    roots = [d for d in report.discrepancies if d.field == "root"]
    assert roots[0].head == 1 and roots[0].size == 20


def test_edited_payload_with_recomputed_leaf_hash(
    signed: tuple[Path, list[PublicKey], dict],
) -> None:
    """The attacker also fixes the leaf hash: the node recorded at append time still tells."""
    path, public, _ = signed
    _, kind, payload, ts, _ = rows(path)[13]
    edited = payload.replace('"mwh":815.75', '"mwh":915.75')
    tamper(
        path,
        (
            "UPDATE entries SET payload = ?, leaf_hash = ? WHERE seq = 13",
            (edited, leaf_of(13, kind, edited, ts)),
        ),
    )
    first = verify_ledger(path, public).first
    assert first is not None
    # The lowest stored node over entry 13: level 1 (12..13), or level 4 (0..15).
    first_leaf = 12 if _stride(path) == 1 else 0
    assert (first.field, first.seq, first.last, first.where) == (
        "node", first_leaf, first_leaf + 1 if first_leaf else 15,
        f"entries {first_leaf}..{first_leaf + 1 if first_leaf else 15}",
    )


def test_edited_payload_with_every_hash_rebuilt(
    signed: tuple[Path, list[PublicKey], dict],
) -> None:
    """The attacker rebuilds every leaf hash and node: only the signed root can tell."""
    path, public, _ = signed
    heads = Ledger.open(path, readonly=True).heads()
    payload = rows(path)[13][2]
    tamper(
        path,
        ("UPDATE entries SET payload = ? WHERE seq = 13", (payload.replace("815.75", "915.75"),)),
    )
    rebuild_hashes(path)
    report = verify_ledger(path, public)
    first = report.first
    assert first is not None
    assert (first.head, first.size, first.field) == (1, 20, "root")
    assert first.expected == heads[1].root.hex()
    assert first.found != first.expected
    assert "no longer hash to the root the parties signed" in first.message
    assert report.discrepancies[0].where == "tree head 1 (size 20)"


def test_reordered_entries(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    original = rows(path)
    tamper(
        path,
        "UPDATE entries SET seq = -1 WHERE seq = 5",
        "UPDATE entries SET seq = 5 WHERE seq = 6",
        "UPDATE entries SET seq = 6 WHERE seq = -1",
    )
    first = verify_ledger(path, public).first
    assert first is not None
    assert (first.seq, first.field) == (5, "leaf_hash")
    # The row now at 5 carries entry 6's recorded hash; its content hashed at 5 differs.
    _, kind, payload, ts, recorded6 = original[6]
    assert first.expected == recorded6.hex()
    assert first.found == leaf_of(5, kind, payload, ts).hex()


def test_reordered_entries_with_rebuilt_hashes_break_time_order(
    signed: tuple[Path, list[PublicKey], dict],
) -> None:
    path, public, _ = signed
    tamper(
        path,
        "UPDATE entries SET seq = -1 WHERE seq = 5",
        "UPDATE entries SET seq = 5 WHERE seq = 6",
        "UPDATE entries SET seq = 6 WHERE seq = -1",
    )
    rebuild_hashes(path)
    first = verify_ledger(path, public).first
    assert first is not None
    assert (first.seq, first.field) == (6, "timestamp")
    assert first.found == "2027-01-01T05:00:00.000000Z"
    assert first.expected == ">= 2027-01-01T06:00:00.000000Z (entry 5)"


def test_dropped_entry(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    tamper(path, "DELETE FROM entries WHERE seq = 7")
    report = verify_ledger(path, public)
    first = report.first
    assert first is not None
    assert (first.seq, first.field, first.expected, first.found) == (8, "seq", "7", "8")
    assert first.message == "entry 7 is missing"
    assert str(first) == "entry 8: seq: expected 7, found 8 (entry 7 is missing)"


def test_dropped_entries_at_the_end(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    tamper(path, "DELETE FROM entries WHERE seq >= 30")
    report = verify_ledger(path, public)
    sizes = [d for d in report.discrepancies if d.field == "size"]
    assert sizes and (sizes[0].head, sizes[0].found) == (3, "40")
    assert sizes[0].expected == "<= 30 (entries in the ledger)"
    first = report.first  # a stored node no entry made: 30..31 (level 1), 16..31 (level 4)
    assert first is not None and first.field == "node"
    assert first.last == 31 and "no entry made" in first.message


def test_inserted_entry(signed: tuple[Path, list[PublicKey], dict]) -> None:
    """An entry slipped in at 7 (later ones renumbered), with a well-formed leaf hash."""
    path, public, _ = signed
    _, kind, _, ts, _ = rows(path)[6]
    forged = '{"hour":6,"meter":"ZNPP-U1-export","mwh":0.0}'
    tamper(
        path,
        *[f"UPDATE entries SET seq = {s + 1} WHERE seq = {s}" for s in range(42, 6, -1)],
        (
            "INSERT INTO entries (seq, kind, payload, timestamp, leaf_hash) VALUES (7, ?, ?, ?, ?)",
            (kind, forged, ts, leaf_of(7, kind, forged, ts)),
        ),
    )
    report = verify_ledger(path, public)
    first = report.first
    assert first is not None
    if _stride(path) == 1:  # the node over 6..7 is made at 7, before entry 8 is read
        assert (first.field, first.where) == ("node", "entries 6..7")
    else:  # no node is stored below level 4: the renumbered entry is the first to tell
        assert (first.field, first.seq) == ("leaf_hash", 8)  # (node 0..15 follows from it)
    # The entry renumbered from 7 to 8 no longer matches its recorded hash.
    assert any(d.seq == 8 and d.field == "leaf_hash" for d in report.discrepancies)


def test_resigned_with_a_different_key(
    signed: tuple[Path, list[PublicKey], dict], tmp_path: Path
) -> None:
    """An entry edited, every hash rebuilt, heads re-signed in operator's name with another key."""
    path, public, _ = signed
    payload = rows(path)[13][2]
    tamper(
        path,
        ("UPDATE entries SET payload = ? WHERE seq = 13", (payload.replace("815.75", "1.0"),)),
    )
    rebuild_hashes(path)
    impostor = generate_key(tmp_path / "impostor", "operator")
    ledger = Ledger.open(path, readonly=True)
    heads = ledger.heads()
    statements = []
    for head in heads[1:]:
        from gridhash.ledger import merkle

        leaves = [e.computed_leaf_hash() for e in ledger.entries(0, head.size)]
        new_root = merkle.root(leaves)
        fake = type(head)(head.ledger_id, head.size, new_root, head.timestamp)
        sig: Signature = fake.sign(impostor)
        statements += [
            ("UPDATE tree_heads SET root = ? WHERE id = ?", (new_root, head.index)),
            (
                "UPDATE signatures SET public_key = ?, signature = ? "
                "WHERE head_id = ? AND party = 'operator'",
                (sig.public_key, sig.signature, head.index),
            ),
        ]
    ledger.close()
    tamper(path, *statements)
    report = verify_ledger(path, public)
    first = report.first
    assert first is not None
    assert (first.head, first.field) == (1, "signature[operator].key")
    real = next(k for k in public if k.party == "operator")
    assert first.expected == f"key {real.fingerprint} (keyring)"
    assert first.found == f"key {impostor.public.fingerprint}"
    assert "not operator's in the keyring" in first.message
    # Without the parties' keys, the ledger is self-consistent except for ua-grid's signatures.
    blind = verify_ledger(path).first
    assert blind is not None and blind.field == "signature[ua-grid]"


def test_edited_tree_head_root(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    heads = Ledger.open(path, readonly=True).heads()
    fake = bytes(32)
    tamper(path, ("UPDATE tree_heads SET root = ? WHERE id = 2", (fake,)))
    report = verify_ledger(path, public)
    first = report.first
    assert first is not None
    assert (first.head, first.size, first.field) == (2, 30, "root")
    assert (first.expected, first.found) == (fake.hex(), heads[2].root.hex())
    assert "the tree head was edited" in first.message
    fields = [d.field for d in report.discrepancies if d.head == 2]
    assert fields[:3] == ["root", "signature[operator]", "signature[ua-grid]"]
    assert any(d.field == "consistency" for d in report.discrepancies)


def test_removed_tree_head_and_missing_signature(
    signed: tuple[Path, list[PublicKey], dict],
) -> None:
    path, public, keys = signed
    tamper(path, "DELETE FROM signatures WHERE head_id = 1", "DELETE FROM tree_heads WHERE id = 1")
    first = verify_ledger(path, public).first
    assert first is not None and (first.head, first.field) == (2, "index")
    with Ledger.open(path) as ledger:
        ledger.sign_head(keys["operator"])  # ua-grid has not countersigned
    report = verify_ledger(path, public)
    # Head 4 lacks ua-grid's signature: it is not complete, so the 3 entries it covers
    # beyond head 3 are an unsigned tail, and the report says whom it waits for.
    missing = report.discrepancies[-1]
    assert (missing.field, missing.seq) == ("unsigned_tail", 40)
    assert report.pending == ("ua-grid",) and "still needs ua-grid" in missing.message


def test_checkers_are_run_per_kind(tmp_path: Path) -> None:
    """A settlement-like checker recomputes each statement from the meter entries before it."""
    path = tmp_path / "l.db"
    with Ledger.create(path) as ledger:
        ledger.append_many([("meter", {"mwh": 10.0}), ("meter", {"mwh": 5.5})])
        ledger.append("statement", {"total_mwh": 15.5})
        ledger.append("meter", {"mwh": 1.0})
        ledger.append("statement", {"total_mwh": 17.0})  # wrong: 16.5

    def meters(entry, ctx: CheckContext) -> list[Discrepancy]:
        ctx.state["mwh"] = ctx.state.get("mwh", 0.0) + entry.payload["mwh"]
        return []

    def statement(entry, ctx: CheckContext) -> list[Discrepancy]:
        want = ctx.state.get("mwh", 0.0)
        got = entry.payload["total_mwh"]
        if got != want:
            return [ctx.discrepancy(entry, "payload.total_mwh", want, got, "meters disagree")]
        return []

    report = verify_ledger(path, checkers={"meter": meters, "statement": statement})
    assert report.checked == {"meter": 3, "statement": 2}
    first = report.first
    assert first is not None
    assert (first.seq, first.field, first.expected, first.found) == (
        4,
        "payload.total_mwh",
        "16.5",
        "17.0",
    )

    def broken(entry, ctx: CheckContext) -> list[Discrepancy]:
        raise ValueError("no price for hour 7")

    crashed = verify_ledger(path, checkers={"*": broken}).first
    assert crashed is not None and (crashed.seq, crashed.field) == (0, "checker[*]")
    assert "ValueError: no price for hour 7" in crashed.found


def test_limit_stops_early(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    tamper(path, "UPDATE entries SET payload = '{}' WHERE seq < 30")
    report = verify_ledger(path, public, limit=5)
    assert len(report.discrepancies) == 5 and report.truncated
    assert [d.seq for d in report.discrepancies[:2]] == [0, 1]


def test_dropped_table_is_a_damaged_file(signed: tuple[Path, list[PublicKey], dict]) -> None:
    path, public, _ = signed
    tamper(path, "DROP TABLE nodes")
    with pytest.raises(LedgerFileError, match="damaged ledger") as info:
        verify_ledger(path, public)
    assert info.value.exit_code == 2 and str(path) in str(info.value)


# Edits that leave every hash the bulk path computes equal (the same bytes, the same node
# hashes in a different place), so only the row-by-row checks can name them: the bulk path
# must hand such a chunk over rather than accept it.
_REBUILD_NODES_WITHOUT_KEY = (
    "CREATE TABLE nodes_copy AS SELECT id, hash FROM nodes",
    "DROP TABLE nodes",
    "ALTER TABLE nodes_copy RENAME TO nodes",
)


# A stored node over entries 12..13 (id, first leaf) per layout: level 1 ending at 13, or
# level 4 ending at 15; and an id no entry makes there: level 3 ending at 13 (no such
# node), or level 5 ending at 31 (a node, but of a level this layout does not keep).
_STORED = {1: ("(13 << 6) | 1", 12), 4: ("(15 << 6) | 4", 0)}
_UNMADE = {1: ("(13 << 6) | 3", 6), 4: ("(31 << 6) | 5", 0)}


@pytest.mark.parametrize(
    ("edits", "field", "seq"),
    [
        pytest.param(
            ("UPDATE entries SET payload = CAST(payload AS BLOB) WHERE seq = 13",),
            "leaf_hash",
            13,
            id="payload-as-blob-of-the-same-bytes",
        ),
        pytest.param(
            ("UPDATE entries SET kind = CAST(kind AS BLOB) WHERE seq = 13",),
            "kind",
            13,
            id="kind-as-blob-of-the-same-bytes",
        ),
        pytest.param(
            # The stored node filed one id too high (two levels up): same hash, wrong place.
            ("UPDATE nodes SET id = id + 2 WHERE id = {stored}",),
            "node",
            "stored",
            id="node-under-another-id",
        ),
        pytest.param(
            # A node at an id no entry makes, the rest intact.
            ("INSERT INTO nodes (id, hash) SELECT {unmade}, hash FROM nodes WHERE id = {stored}",),
            "node",
            "unmade",
            id="extra-node-no-entry-makes",
        ),
        pytest.param(
            (*_REBUILD_NODES_WITHOUT_KEY, "INSERT INTO nodes SELECT id, hash FROM nodes "
             "WHERE id = {stored}"),
            "node",
            "stored",
            id="node-twice-in-a-rebuilt-table",
        ),
    ],
)
def test_same_hashes_in_the_wrong_shape_are_reported(
    signed: tuple[Path, list[PublicKey], dict], edits: tuple[str, ...], field: str,
    seq: int | str,
) -> None:
    path, public, _ = signed
    stride = _stride(path)
    (stored, stored_seq), (unmade, unmade_seq) = _STORED[stride], _UNMADE[stride]
    tamper(path, *(e.format(stored=stored, unmade=unmade) for e in edits))
    want = {"stored": stored_seq, "unmade": unmade_seq}.get(seq, seq)  # type: ignore[call-overload]
    first = verify_ledger(path, public, allow_unsigned_tail=True).first
    assert first is not None, "accepted"
    assert (first.field, first.seq) == (field, want), first


# Any single edit of a stored hash or entry, on either node layout, fails verification:
# a stored node or leaf hash changed or removed is named as such, and an entry edited
# with its leaf hash recomputed is caught by a stored node above it or a signed root.
_FULL: dict[int, tuple[Path, list[PublicKey]]] = {}


def _fully_signed(stride: int, folder: Path) -> tuple[Path, list[PublicKey]]:
    """70 entries, every one under a head signed by both parties, per layout (built once)."""
    if stride not in _FULL:
        keys = make_keys(folder / f"keys{stride}")
        path = folder / f"full{stride}.db"
        build(path, keys, n=70, every=10, node_stride=stride).close()
        _FULL[stride] = path, [k.public for k in keys.values()]
    return _FULL[stride]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(stride=st.sampled_from([1, 4]), edit=st.sampled_from(["flip-node", "drop-node",
       "flip-leaf", "rewrite-entry"]), pick=st.integers(0, 10**6), bit=st.integers(0, 255))
def test_any_single_edit_fails_verification(
    tmp_path_factory: pytest.TempPathFactory, stride: int, edit: str, pick: int, bit: int,
) -> None:
    built, public = _fully_signed(stride, tmp_path_factory.getbasetemp() / "full")
    path = tmp_path_factory.mktemp("edit") / "ledger.db"
    shutil.copy(built, path)
    assert verify_ledger(path, public).ok
    conn = sqlite3.connect(path)
    ids = [i for (i,) in conn.execute("SELECT id FROM nodes ORDER BY id")]
    conn.close()
    assert len(ids) == sum(70 >> lv for lv in range(1, 7) if lv % stride == 0)
    nid, seq = ids[pick % len(ids)], pick % 70
    if edit == "flip-node":
        tamper(path, ("UPDATE nodes SET hash = ? WHERE id = ?",
                      (_flipped(path, "SELECT hash FROM nodes WHERE id = ?", nid, bit), nid)))
        want = "node"
    elif edit == "drop-node":
        tamper(path, ("DELETE FROM nodes WHERE id = ?", (nid,)))
        want = "node"
    elif edit == "flip-leaf":
        tamper(path, ("UPDATE entries SET leaf_hash = ? WHERE seq = ?",
                      (_flipped(path, "SELECT leaf_hash FROM entries WHERE seq = ?", seq, bit),
                       seq)))
        want = "leaf_hash"
    else:
        _, kind, payload, ts, _ = rows(path)[seq]
        edited = payload.replace('"mwh":', f'"mwh":{bit}')
        tamper(path, ("UPDATE entries SET payload = ?, leaf_hash = ? WHERE seq = ?",
                      (edited, leaf_of(seq, kind, edited, ts), seq)))
        # Whichever comes first in the file: the lowest stored node over the entry (its
        # last entry) or the first head covering it (size a multiple of 10); entries
        # 64..69 lie under no stored node of the every-4th-level layout.
        node_end = (seq | ((1 << stride) - 1)) + 1 if seq < 64 or stride == 1 else 10**9
        want = "node" if node_end <= -(-(seq + 1) // 10) * 10 else "root"
    report = verify_ledger(path, public)
    assert not report.ok and report.first is not None
    assert report.first.field == want, (edit, stride, report.first)


def _flipped(path: Path, sql: str, key: int, bit: int) -> bytes:
    conn = sqlite3.connect(path)
    (h,) = conn.execute(sql, (key,)).fetchone()
    conn.close()
    return bytes([h[0] ^ (bit or 1), *h[1:]])


def test_the_node_layout_in_meta_is_no_way_around_the_checks(tmp_path: Path) -> None:
    """``node_stride`` lives in the unprotected meta table.  Changing it never hides an
    edit: the verifier then expects nodes the file lacks, or finds nodes at levels the
    layout does not keep.  Dropping the stored nodes along with it leaves a file whose
    entries and heads still verify in full: the nodes are a cache proofs are served
    from, derived from the entries, and proofs from the rest are still the RFC's."""
    keys = make_keys(tmp_path / "keys")
    public = [k.public for k in keys.values()]
    built = tmp_path / "built.db"
    build(built, keys, n=70, every=10).close()  # the current layout: every 4th level

    def copy(name: str) -> Path:
        shutil.copy(built, tmp_path / name)
        return tmp_path / name

    every_level = copy("every.db")
    tamper(every_level, "UPDATE meta SET value = '1' WHERE key = 'node_stride'")
    first = verify_ledger(every_level, public).first
    assert first is not None and first.field == "node" and "lacks a node" in first.message
    coarser = copy("coarser.db")
    tamper(coarser, "UPDATE meta SET value = '8' WHERE key = 'node_stride'")
    first = verify_ledger(coarser, public).first
    assert first is not None and first.field == "node" and "no entry made" in first.message
    # coarser, its level-4 nodes dropped, and an entry edited with its leaf hash: the
    # signed root still tells
    cache_gone = copy("cache_gone.db")
    _, kind, payload, ts, _ = rows(cache_gone)[13]
    edited = payload.replace('"mwh":', '"mwh":9')
    tamper(cache_gone, "UPDATE meta SET value = '8' WHERE key = 'node_stride'",
           "DELETE FROM nodes WHERE (id & 63) = 4",
           ("UPDATE entries SET payload = ?, leaf_hash = ? WHERE seq = 13",
            (edited, leaf_of(13, kind, edited, ts))))
    first = verify_ledger(cache_gone, public).first
    assert first is not None and (first.field, first.head, first.size) == ("root", 1, 20)
    untouched = copy("untouched.db")
    tamper(untouched, "UPDATE meta SET value = '8' WHERE key = 'node_stride'",
           "DELETE FROM nodes WHERE (id & 63) = 4")
    assert verify_ledger(untouched, public).ok
    with Ledger.open(untouched, readonly=True) as thin, Ledger.open(built, readonly=True) as full:
        assert thin.node_stride == 8 and full.node_stride == 4
        for seq, size in ((0, 70), (13, 40), (69, 70)):
            assert thin.inclusion_proof(seq, size) == full.inclusion_proof(seq, size)
        assert thin.consistency_proof(17, 70) == full.consistency_proof(17, 70)
