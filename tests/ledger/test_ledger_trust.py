"""Keyrings, C2SP checkpoints, consistency against a saved checkpoint, the witness, and the
ledger package's shape (one hasher, one frontier, one verify_inclusion, no settlement)."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from ledger_helpers import build, make_keys, run_ledger, tamper

from gridhash.ledger import merkle
from gridhash.ledger.errors import KeyFileError, ProofError
from gridhash.ledger.keyring import Keyring
from gridhash.ledger.note import Checkpoint, key_id
from gridhash.ledger.store import Ledger
from gridhash.ledger.witness import (
    FileSource,
    WitnessAlarmError,
    compare_states,
    witness,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "gridhash" / "ledger"


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    keys = make_keys(tmp_path / "keys")
    path = tmp_path / "ledger.db"
    build(path, keys, n=30, every=10).close()
    return path, tmp_path / "keys"


# --------------------------------------------------------------------------- keyring


def test_keyring_round_trip_and_rule(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "k", ("op", "a", "b"))
    ring = Keyring.of([k.public for k in keys.values()], required=["op"], threshold=2)
    path = ring.save(tmp_path / "ring.toml")
    again = Keyring.load(path)
    assert again.required == ("op",) and again.threshold == 2
    assert {p: k.raw for p, k in again.keys.items()} == {p: k.public.raw for p, k in keys.items()}
    assert again.describe_rule() == "op and 2 of 3 parties"
    with Ledger.create(tmp_path / "l.db") as L:
        L.append("meter", {"x": 1})
        head = L.sign_head(keys["a"])
        assert not ring.check_head(head).complete and ring.check_head(head).missing == ("op",)
        head = L.cosign(keys["op"])
        assert ring.check_head(head).complete  # op + a: the rule is met without b
    text = path.read_text()
    bad = text.replace(keys["b"].public.fingerprint, "0" * 16)
    (tmp_path / "bad.toml").write_text(bad)
    with pytest.raises(KeyFileError, match=r"parties\.b\.fingerprint"):
        Keyring.load(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text(text.replace("threshold = 2", "threshold = 9"))
    with pytest.raises(KeyFileError, match=r"rule\.threshold"):
        Keyring.load(tmp_path / "bad.toml")


def test_keys_dir_reads_public_keys_only(tmp_path: Path) -> None:
    make_keys(tmp_path / "k", ("op",))
    (tmp_path / "k" / "op.pub").unlink()
    with pytest.raises(KeyFileError, match="no public keys"):
        Keyring.from_dir(tmp_path / "k")


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_is_a_c2sp_signed_note(signed: tuple[Path, Path]) -> None:
    """Checked with plain cryptography and hashlib, as any transparency-log tool would."""
    path, keys = signed
    res = run_ledger("checkpoint", str(path), "--keys", str(keys))
    assert res.exit_code == 0, res.output
    text, _, sigs = res.output.partition("\n\n")
    origin, size, root, ext = text.split("\n")
    with Ledger.open(path, readonly=True) as L:
        assert origin == f"gridhash.ledger/{L.ledger_id}"
        assert int(size) == 30 and base64.b64decode(root) == L.root(30)
    assert ext.startswith("timestamp ")
    lines = sigs.strip("\n").split("\n")
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("\u2014 ")
        name, blob = line[2:].split(" ")
        raw = base64.b64decode(blob)
        pub = (keys / f"{name}.pub").read_bytes()
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        key = load_pem_public_key(pub)
        assert isinstance(key, Ed25519PublicKey)
        from cryptography.hazmat.primitives import serialization

        rawkey = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + rawkey).digest()[:4]
        key.verify(raw[4:], (text + "\n").encode())  # raises if invalid
    assert key_id("op", b"\0" * 32) == hashlib.sha256(b"op\n\x01" + b"\0" * 32).digest()[:4]


def test_verify_against_a_saved_checkpoint(signed: tuple[Path, Path], tmp_path: Path) -> None:
    path, keys = signed
    saved = tmp_path / "saved.cp"
    saved.write_text(run_ledger("checkpoint", str(path), "--keys", str(keys)).output)
    all_keys = {p: __import__("gridhash.ledger.signing", fromlist=["x"]).load_private_key(
        keys / f"{p}.key") for p in ("operator", "ua-grid")}
    with Ledger.open(path) as L:  # the ledger grows: still consistent
        L.append_many([("meter", {"hour": 99})], sign=all_keys)
    ok = run_ledger("verify", str(path), "--keys", str(keys), "--checkpoint", str(saved))
    assert ok.exit_code == 0, ok.output
    assert "consistency proven" in ok.output
    # A checkpoint of another ledger: the origin differs.
    other = tmp_path / "other.db"
    build(other, all_keys, n=30, every=10).close()
    res = run_ledger("verify", str(other), "--keys", str(keys), "--checkpoint", str(saved))
    assert res.exit_code == 1 and "checkpoint.origin" in res.output
    # A doctored checkpoint (root changed, signatures kept) is not signed as required.
    cp = Checkpoint.parse(saved.read_text())
    fake = saved.read_text().replace(base64.b64encode(cp.root).decode(),
                                     base64.b64encode(bytes(32)).decode())
    (tmp_path / "fake.cp").write_text(fake)
    res = run_ledger("verify", str(path), "--keys", str(keys), "--checkpoint",
                     str(tmp_path / "fake.cp"))
    assert res.exit_code == 1 and "checkpoint.signature" in res.output
    # A malformed checkpoint is bad input (exit 2).
    (tmp_path / "junk.cp").write_text("hello\n")
    res = run_ledger("verify", str(path), "--keys", str(keys), "--checkpoint",
                     str(tmp_path / "junk.cp"))
    assert res.exit_code == 2 and "not a signed note" in res.output


def test_proof_refuses_a_head_whose_root_the_entries_no_longer_give(
    signed: tuple[Path, Path],
) -> None:
    path, _ = signed
    assert run_ledger("proof", str(path), "3", "--size", "10").exit_code == 0
    # Rewrite entry 3 consistently (leaf hash and nodes); the head of size 10 keeps its root.
    from ledger_helpers import rebuild_hashes

    tamper(path, "UPDATE entries SET payload = '{\"mwh\":0}' WHERE seq = 3")
    rebuild_hashes(path)
    res = run_ledger("proof", str(path), "3", "--size", "10")
    assert res.exit_code == 1, res.output
    assert "refusing to serve a proof" in res.output and "size 10" in res.output
    with Ledger.open(path, readonly=True) as L, pytest.raises(ProofError):
        L.checkpoint_head()
    assert run_ledger("checkpoint", str(path)).exit_code == 1


# --------------------------------------------------------------------------- witness


def test_witness_cosigns_consistent_checkpoints_and_alarms_on_rollback_and_fork(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    from gridhash.ledger.signing import generate_key, load_private_key

    path, keys = signed
    ring = Keyring.from_dir(keys)
    parties = {p: load_private_key(keys / f"{p}.key") for p in ("operator", "ua-grid")}
    wkey = generate_key(tmp_path / "w", "witness-a")
    state = tmp_path / "state-a"
    first = witness(FileSource(path, ring), state, wkey, ring)
    assert first.action == "first" and first.checkpoint.size == 30
    stored = Checkpoint.parse((state / "latest.txt").read_text())
    assert stored.cosignatures("witness-a", wkey.public.raw)  # a valid C2SP cosignature
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    with Ledger.open(path) as L:
        L.append_many([("meter", {"hour": 31})], sign=parties)
    grown = witness(FileSource(path, ring), state, wkey, ring)
    assert grown.action == "extended" and grown.checkpoint.size == 31
    # Rollback: the ledger shown is the old copy.
    with pytest.raises(WitnessAlarmError, match="rollback") as alarm:
        witness(FileSource(backup, ring), state, wkey, ring)
    assert grown.checkpoint.root.hex() in str(alarm.value)
    # Fork: another history of the same size, validly signed by the key holders.
    fork = tmp_path / "fork.db"
    shutil.copy(backup, fork)
    with Ledger.open(fork) as L:
        L.append_many([("meter", {"hour": 666})], sign=parties)
    with pytest.raises(WitnessAlarmError, match="fork") as alarm:
        witness(FileSource(fork, ring), state, wkey, ring)
    assert Ledger.open(fork, readonly=True).root().hex() in str(alarm.value)
    # Through the CLI: exit 1 with the alarm.
    res = run_ledger("witness", "--ledger", str(fork), "--state", str(state), "--key",
                     str(tmp_path / "w" / "witness-a.key"), "--keys", str(keys))
    assert res.exit_code == 1 and "ALARM (fork)" in res.output


def test_two_witnesses_shown_diverging_copies_detect_the_split_view(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    from gridhash.ledger.signing import generate_key, load_private_key

    path, keys = signed
    parties = {p: load_private_key(keys / f"{p}.key") for p in ("operator", "ua-grid")}
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    for led, text in ((path, "to A"), (copy, "to B")):
        with Ledger.open(led) as L:
            L.append_many([("note", {"shown": text})], sign=parties)
    for name, led in (("a", path), ("b", copy)):
        generate_key(tmp_path / name, f"witness-{name}")
        res = run_ledger("witness", "--ledger", str(led), "--state", str(tmp_path / f"s-{name}"),
                         "--key", str(tmp_path / name / f"witness-{name}.key"),
                         "--keys", str(keys))
        assert res.exit_code == 0, res.output  # each alone sees a consistent ledger
    res = run_ledger("witness", "--ledger", str(path), "--state", str(tmp_path / "s-a"),
                     "--compare", str(tmp_path / "s-b"))
    assert res.exit_code == 1 and "split view" in res.output and "size 31" in res.output
    with pytest.raises(WitnessAlarmError):  # from either side
        compare_states(tmp_path / "s-b", tmp_path / "s-a", FileSource(copy))
    # A witness shown the same copy as A compares clean.
    c = generate_key(tmp_path / "c", "witness-c")
    witness(FileSource(path), tmp_path / "s-c", c)
    assert compare_states(tmp_path / "s-a", tmp_path / "s-c", FileSource(path))


# --------------------------------------------------------------------------- shape


def test_one_hasher_one_frontier_one_verify_inclusion() -> None:
    texts = {p.name: p.read_text() for p in SRC.glob("*.py")}
    inlined = [n for n, t in texts.items() if n != "merkle.py" and re.search(r'b"\\x0[01]"', t)]
    assert inlined == []
    assert len(re.findall(r'b"\\x01"', texts["merkle.py"])) == 1  # NODE_PREFIX only
    prefixes = re.compile(r"\b(NODE|LEAF)_PREFIX\b")
    assert not [n for n, t in texts.items() if n != "merkle.py" and prefixes.search(t)]
    # The bulk paths inside the hasher give what node_hash gives.
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    bulk, one = merkle.Frontier(), merkle.Frontier()
    made = bulk.extend_levels(leaves)
    visited = []
    for leaf in leaves:
        one.append(leaf, lambda lv, ix, h: visited.append((lv, ix, h)))
    assert sorted((lv, ix + i, h) for lv, ix, hs in made for i, h in enumerate(hs)) == sorted(
        visited
    )
    assert all(h == merkle.node_hash(*_children(lv, ix, leaves)) for lv, ix, h in visited)
    assert bulk.root() == one.root() == merkle.root(leaves)
    assert merkle.leaf_hashes([b"a"]) == [merkle.leaf_hash(b"a")]
    assert [n for n, t in texts.items() if "def verify_inclusion" in t] == ["merkle.py"]
    assert [n for n, t in texts.items() if "class Frontier" in t] == ["merkle.py"]
    assert "merkle.Frontier()" in texts["verify.py"] and "frontier.append" in texts["store.py"]
    assert not [n for n, t in texts.items() if re.search(r"gridhash\.settlement", t)]


def _children(level: int, index: int, leaves: list[bytes]) -> tuple[bytes, bytes]:
    """The two children of perfect node ``(level, index)``, by the RFC's definition."""
    width = 1 << (level - 1)
    left = 2 * index * width
    return (
        merkle.root(leaves[left : left + width]),
        merkle.root(leaves[left + width : left + 2 * width]),
    )


def test_ledger_verify_means_the_module_whatever_the_import_order() -> None:
    code = (
        "import gridhash.ledger as L\n"
        "a = L.verify\n"
        "from gridhash.ledger import verify_ledger\n"
        "import gridhash.ledger.verify\n"
        "b = L.verify\n"
        "from gridhash.ledger import verify as c\n"
        "print(a is b is c, type(a).__name__, hasattr(a, 'verify_ledger'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "True module True", out.stdout + out.stderr


def test_keyring_command_reads_public_keys_only(tmp_path: Path) -> None:
    make_keys(tmp_path / "k", ("op", "a"))
    res = run_ledger("keyring", str(tmp_path / "k" / "op.key"))
    assert res.exit_code == 2 and "not a public key file" in res.output
    res = run_ledger("keyring", str(tmp_path / "k" / "op.pub"), str(tmp_path / "k"))
    assert res.exit_code == 2 and "a party appears twice" in res.output
    res = run_ledger("keyring", str(tmp_path / "k"), "--require", "op", "--threshold", "1")
    assert res.exit_code == 0
    ring = Keyring.load(_write(tmp_path / "ring.toml", res.output))
    assert ring.required == ("op",) and ring.threshold == 1 and set(ring.keys) == {"op", "a"}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
