"""The SQLite ledger: appends, atomicity, tree heads, proofs from stored nodes, reopening."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_helpers import T0, build, make_keys, meter

from gridhash.ledger import merkle
from gridhash.ledger.canonical import canonical_json, entry_leaf_bytes
from gridhash.ledger.errors import LedgerError, LedgerFileError, PayloadError
from gridhash.ledger.store import Ledger
from gridhash.ledger.verify import verify_ledger


def test_append_records_canonical_entries(tmp_path: Path) -> None:
    with Ledger.create(tmp_path / "l.db") as ledger:
        e = ledger.append("meter", {"mwh": 812.5, "b": [1, 2], "a": "Запоріжжя"})
        assert (e.seq, e.kind) == (0, "meter")
        assert e.payload_json == '{"a":"Запоріжжя","b":[1,2],"mwh":812.5}'
        assert e.payload == {"mwh": 812.5, "b": [1, 2], "a": "Запоріжжя"}
        expected_leaf = canonical_json(
            {"kind": "meter", "payload": e.payload, "seq": 0, "timestamp": e.timestamp}
        )
        assert e.leaf_bytes() == expected_leaf
        assert e.leaf_hash == merkle.leaf_hash(expected_leaf) == e.computed_leaf_hash()
        assert ledger.entry(0) == e
        assert ledger.size == len(ledger) == 1
        assert ledger.root() == e.leaf_hash


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    ),
    st.integers(0, 10**12),
)
def test_leaf_bytes_are_the_canonical_json_of_the_entry(payload: object, seq: int) -> None:
    """The fast concatenation equals canonical_json of the whole entry, and round-trips."""
    try:
        body = canonical_json(payload)
    except PayloadError:  # lone surrogates
        return
    ts = "2027-01-01T00:00:00.000000Z"
    whole = canonical_json({"seq": seq, "kind": "meter", "payload": payload, "timestamp": ts})
    assert entry_leaf_bytes(seq, "meter", body, ts) == whole
    assert canonical_json(json.loads(body)) == body


def test_canonical_json_refuses_what_would_not_read_back(tmp_path: Path) -> None:
    with Ledger.create(tmp_path / "l.db") as ledger:
        for bad, field in (
            ({"x": float("nan")}, "payload.x"),
            ({"x": [1, float("inf")]}, "payload.x[1]"),
            ({1: "a"}, "payload"),
            ({"when": datetime(2027, 1, 1)}, "payload.when"),
            ({"s": "\ud800"}, "payload"),
        ):
            with pytest.raises(PayloadError) as info:
                ledger.append("meter", bad)
            assert info.value.field == field and info.value.exit_code == 2
        for kind in ("Meter", "", "a-b", "x" * 65, 3):
            with pytest.raises(PayloadError, match="invalid entry kind"):
                ledger.append(kind, {})  # type: ignore[arg-type]
        assert ledger.size == 0


def test_append_many_is_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger.create(path) as ledger:
        ledger.append("scenario", {"name": "znpp"})
        with pytest.raises(PayloadError):
            ledger.append_many([("meter", meter(1)), ("meter", {"bad": float("nan")})])
        assert ledger.size == 1
        entries = ledger.append_many([("meter", meter(i)) for i in range(5)])
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert len({e.timestamp for e in entries}) == 1
    # A failure inside the SQL transaction rolls back every row and node.
    with Ledger.open(path) as ledger:
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.seq = 8 "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        conn.commit()
        conn.close()
        with pytest.raises(sqlite3.DatabaseError, match="disk on fire"):
            ledger.append_many([("meter", meter(i)) for i in range(5)])
        assert ledger.refresh() == 6
        conn = sqlite3.connect(path)
        conn.execute("DROP TRIGGER boom")
        conn.commit()
        conn.close()
        ledger.append("meter", meter(99))
    assert [d.field for d in verify_ledger(path).discrepancies] == ["tree_heads"]  # unsigned


def test_proofs_from_stored_nodes_match_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger.create(path) as ledger:
        for i in range(0, 70, 7):
            ledger.append_many([("meter", meter(j)) for j in range(i, i + 7)])
    with Ledger.open(path, readonly=True) as ledger:  # a fresh process: nothing cached
        leaves = [e.leaf_hash for e in ledger.entries()]
        assert len(leaves) == 70
        for n in (1, 2, 3, 5, 8, 13, 33, 64, 70):
            assert ledger.root(n) == merkle.root(leaves[:n])
            for i in range(n):
                assert ledger.inclusion_proof(i, n) == merkle.inclusion_proof(leaves, i, n)
            for m in range(n + 1):
                assert ledger.consistency_proof(m, n) == merkle.consistency_proof(leaves, m, n)
        with pytest.raises(LedgerError, match="outside"):
            ledger.inclusion_proof(3, 71)
        with pytest.raises(LedgerError, match="not in a tree of size 3"):
            ledger.inclusion_proof(3, 3)


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 5])
def test_every_node_layout_serves_the_reference_proofs(tmp_path: Path, stride: int) -> None:
    """Interior nodes kept at every ``stride``-th level: the file holds exactly those, and
    roots and proofs (nodes between stored levels rebuilt from the ones below) are the
    reference's, from a freshly opened ledger, at sizes around every power of two."""
    path = tmp_path / "l.db"
    batches = [1, 2, 13, 31, 64, 100, 89]  # 300 entries in uneven appends
    with Ledger.create(path, node_stride=stride) as ledger:
        done = 0
        for n in batches:
            ledger.append_many([("meter", meter(j)) for j in range(done, done + n)])
            done += n
    conn = sqlite3.connect(path)
    levels = [lv for (lv,) in conn.execute("SELECT id & 63 FROM nodes")]
    conn.close()
    assert sorted(set(levels)) == [lv for lv in range(1, 9) if lv % stride == 0]
    assert len(levels) == sum(300 >> lv for lv in range(1, 9) if lv % stride == 0)
    sizes = (1, 2, 3, 5, 8, 15, 16, 17, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300)
    for size in sizes:
        with Ledger.open(path, readonly=True) as ledger:  # nothing cached
            leaves = [e.leaf_hash for e in ledger.entries()]
            assert ledger.node_stride == stride
            assert ledger.root(size) == merkle.root(leaves[:size])
            for i in sorted({0, 1, size // 3, size // 2, size - 2, size - 1} & set(range(size))):
                assert ledger.inclusion_proof(i, size) == merkle.inclusion_proof(leaves, i, size)
            for m in sorted({0, 1, 7, size // 2, size - 1, size} & set(range(size + 1))):
                assert ledger.consistency_proof(m, size) == merkle.consistency_proof(
                    leaves, m, size
                )
    with Ledger.open(path) as ledger:  # the frontier read back from the stored layout
        ledger.append("meter", meter(300))
        leaves.append(ledger.entry(300).leaf_hash)
        assert ledger.root() == merkle.root(leaves)
    assert verify_ledger(path, allow_unsigned_tail=True).nodes_checked == len(levels) + sum(
        (301 >> lv) - (300 >> lv) for lv in range(1, 9) if lv % stride == 0
    )


def test_a_ledger_from_before_the_stride_keeps_every_level(tmp_path: Path) -> None:
    """No ``node_stride`` in meta (ledgers made before it): every level, as they were
    written; a value out of range is a damaged file; a bad argument is refused."""
    path = tmp_path / "old.db"
    with Ledger.create(path, node_stride=1) as ledger:
        ledger.append_many([("meter", meter(j)) for j in range(40)])
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key = 'node_stride'")
    conn.commit()
    with Ledger.open(path) as ledger:
        assert ledger.node_stride == 1
        ledger.append_many([("meter", meter(j)) for j in range(40, 48)])
    assert conn.execute("SELECT count(*) FROM nodes").fetchone()[0] == 48 - (48).bit_count()
    assert verify_ledger(path, allow_unsigned_tail=True).nodes_checked == 48 - 2
    for bad in ("0", "64", "four", ""):
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('node_stride', ?)", (bad,))
        conn.commit()
        with pytest.raises(LedgerFileError, match=r"damaged ledger.*node_stride"):
            Ledger.open(path, readonly=True)
    conn.close()
    for bad_arg in (0, 64, 2.0):
        with pytest.raises(LedgerError, match="node_stride"):
            Ledger.create(tmp_path / f"new{bad_arg}.db", node_stride=bad_arg)  # type: ignore[arg-type]
        assert not (tmp_path / f"new{bad_arg}.db").exists()


def test_a_proof_needing_a_node_the_index_lacks_names_it(tmp_path: Path) -> None:
    """Proofs read the nodes they need in one query each for nodes and leaves; a node
    missing from the file is named, not served as anything else."""
    path = tmp_path / "l.db"
    with Ledger.create(path) as ledger:
        ledger.append_many([("meter", meter(j)) for j in range(40)])
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER nodes_no_delete")
    conn.execute("DELETE FROM nodes WHERE id = ?", ((15 << 6) | 4,))  # entries 0..15
    conn.commit()
    conn.close()
    with Ledger.open(path, readonly=True) as ledger:
        with pytest.raises(LedgerError, match=r"no hash for entries 0\.\.15 \(level 4"):
            ledger.consistency_proof(17, 40)
        with pytest.raises(LedgerError, match=r"no hash for entries 0\.\.15"):
            ledger.inclusion_proof(20, 40)
        assert ledger.inclusion_proof(3, 16) == ledger.inclusion_proof(3, 16)  # unaffected


def test_sign_head_and_cosign(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    with Ledger.create(tmp_path / "l.db") as ledger:
        with pytest.raises(LedgerError, match="no entry 0"):
            ledger.proof_bundle(0)
        ledger.append_many([("meter", meter(i)) for i in range(5)])
        with pytest.raises(LedgerError, match="no signed tree head"):
            ledger.proof_bundle(0)
        head = ledger.sign_head(keys["operator"])
        assert (head.index, head.size, head.root) == (0, 5, ledger.root())
        assert [s.party for s in head.signatures] == ["operator"]
        assert head.check_signature(head.signatures[0])
        both = ledger.cosign([keys["ua-grid"], keys["operator"]])
        assert sorted(s.party for s in both.signatures) == ["operator", "ua-grid"]
        assert ledger.heads() == [both]
        assert ledger.head() == both
        impostor = make_keys(tmp_path / "other", ("operator",))
        with pytest.raises(LedgerError, match="already signed"):
            ledger.cosign(impostor)
        with pytest.raises(LedgerError, match="no signing keys"):
            ledger.sign_head({})
        ledger.append("meter", meter(5))
        assert ledger.head_covering(2).size == 5
        with pytest.raises(LedgerError, match="not covered by a signed tree head"):
            ledger.head_covering(5)


def test_timestamps_never_go_backwards(tmp_path: Path) -> None:
    with Ledger.create(tmp_path / "l.db") as ledger:
        ledger.append("meter", meter(0), timestamp=T0 + timedelta(hours=2))
        with pytest.raises(LedgerError, match="earlier than the ledger's last"):
            ledger.append("meter", meter(1), timestamp=T0)
        e = ledger.append("meter", meter(1), timestamp=T0 + timedelta(hours=2))
        assert e.timestamp == "2027-01-01T02:00:00.000000Z"
        with pytest.raises(PayloadError, match="no time zone"):
            ledger.append("meter", meter(2), timestamp=datetime(2030, 1, 1))
        future = datetime.now(UTC) + timedelta(days=3650)
        ledger.append("meter", meter(2), timestamp=future)
        # The clock is now "behind" the ledger: new entries take the ledger's last time.
        assert ledger.append("meter", meter(3)).timestamp >= e.timestamp


def test_reopen_continues_the_tree(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger.create(path) as ledger:
        ledger.append_many([("meter", meter(i)) for i in range(11)])
    for round_ in range(3):
        with Ledger.open(path) as ledger:
            assert ledger.size == 11 + 5 * round_
            ledger.append_many([("meter", meter(i)) for i in range(5)])
    with Ledger.open(path, readonly=True) as ledger:
        leaves = [e.leaf_hash for e in ledger.entries()]
        assert ledger.root() == merkle.root(leaves)
        with pytest.raises(LedgerError, match="read-only"):
            ledger.append("meter", {})
    assert [d.field for d in verify_ledger(path).discrepancies] == ["tree_heads"]  # unsigned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.db"]  # one file at rest


def test_two_writers_on_one_file_never_misnumber(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    a = Ledger.create(path)
    b = Ledger.open(path)
    try:
        a.append("meter", meter(0))
        b.append("meter", meter(1))  # b learns the size inside its transaction
        a.append("meter", meter(2))
        assert [e.seq for e in b.entries()] == [0, 1, 2]
        assert b.refresh() == 3 and a.root() == b.root()
    finally:
        a.close()
        b.close()
    assert [d.field for d in verify_ledger(path).discrepancies] == ["tree_heads"]  # unsigned


def test_append_only_triggers_and_backup(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    path = tmp_path / "l.db"
    with build(path, keys, n=20, every=10) as ledger:
        conn = sqlite3.connect(path)
        for sql in (
            "UPDATE entries SET payload = '{}' WHERE seq = 1",
            "DELETE FROM entries WHERE seq = 19",
            "DELETE FROM nodes",
            "UPDATE tree_heads SET size = 3",
            "DELETE FROM signatures",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        conn.close()
        copy = ledger.backup(tmp_path / "copy.db")
    report = verify_ledger(copy, [k.public for k in keys.values()])
    assert report.ok and report.entries == 20 and report.tree_heads == 2


def test_open_refuses_what_is_not_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerFileError, match="ledger file not found"):
        Ledger.open(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerFileError, match="cannot read as SQLite") as info:
        Ledger.open(junk)
    assert info.value.exit_code == 2 and str(junk) in str(info.value)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerFileError, match="not a gridhash ledger"):
        Ledger.open(other)
    Ledger.create(tmp_path / "l.db").close()
    with pytest.raises(LedgerFileError, match="already exists"):
        Ledger.create(tmp_path / "l.db")


def test_readonly_copy_is_opened_with_mode_ro(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A party without write access (a read-only copy) still verifies: SQLite mode=ro."""
    keys = make_keys(tmp_path / "keys")
    path = tmp_path / "l.db"
    build(path, keys, n=10, every=5).close()
    import gridhash.ledger.store as store

    monkeypatch.setattr(store.os, "access", lambda *a, **k: False)
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger._conn.execute("PRAGMA query_only").fetchone() == (1,)
        assert ledger.size == 10
    assert verify_ledger(path, [k.public for k in keys.values()]).ok
