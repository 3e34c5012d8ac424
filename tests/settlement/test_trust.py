"""Trust between parties who distrust each other: one key per party, keyrings, checkpoints.

The five-party flow runs through the real CLI with five key directories, one
per party, none holding another's private key; a sixth holds the keyring only.
The tamper table edits a settled ledger as an adversary holding the file (and
none of the private keys) would, and asserts for every row which mode catches
it: the keyring alone, or the keyring plus a checkpoint saved before.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from trust_helpers import PARTIES, scenario

from gridhash.ledger import merkle
from gridhash.ledger.canonical import entry_leaf_bytes
from gridhash.ledger.keyring import Keyring
from gridhash.ledger.note import Checkpoint
from gridhash.ledger.signing import PartyKey, generate_key, load_private_key
from gridhash.ledger.store import Ledger, node_id
from gridhash.ledger.verify import verify_ledger
from gridhash.settlement.record import CHECKERS, unsigned

from helpers import run_cli, write_scenario

# --------------------------------------------------------------------------- #
# The five-party flow
# --------------------------------------------------------------------------- #


def _party_dirs(tmp_path: Path) -> tuple[dict[str, Path], Path]:
    """Each party makes its own key in its own directory; the keyring is built from the
    .pub files they exchanged and copied to every directory and to an observer's."""
    dirs = {p: tmp_path / f"home-{p}" for p in PARTIES}
    for p, d in dirs.items():
        res = run_cli("ledger", "keygen", p, "--keys", str(d))
        assert res.exit_code == 0, res.stderr
    ring = tmp_path / "keyring.toml"
    res = run_cli("ledger", "keyring", *[str(dirs[p] / f"{p}.pub") for p in PARTIES],
                  "--out", str(ring))
    assert res.exit_code == 0, res.stderr
    observer = tmp_path / "home-observer"
    observer.mkdir()
    for d in [*dirs.values(), observer]:
        shutil.copy(ring, d / "keyring.toml")
    return dirs, observer


def _private_keys(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.key"))


def test_five_parties_each_with_only_its_own_key(tmp_path: Path) -> None:
    dirs, observer = _party_dirs(tmp_path)
    scen = write_scenario(tmp_path, scenario())
    out = tmp_path / "settled"
    res = run_cli("settle", str(scen), "--out", str(out), "--key", str(dirs["op"] / "op.key"),
                  "--keyring", str(dirs["op"] / "keyring.toml"))
    assert res.exit_code == 0, res.stderr
    assert "waiting for a, b, city, mon" in res.stdout and "DEMO" not in res.stderr
    ledger = out / "ledger.sqlite"
    # Until the others countersign, the observer's verification fails and says why.
    early = run_cli("ledger", "verify", str(ledger), "--keyring", str(observer / "keyring.toml"))
    assert early.exit_code == 1 and "unsigned_tail" in early.stdout
    assert "still needs a, b, city, mon" in early.stdout
    # Each party verifies and countersigns from its own directory, with its own key.
    for p in ("a", "b", "city", "mon"):
        signed = run_cli("ledger", "sign", str(ledger), "--key", str(dirs[p] / f"{p}.key"),
                         "--keyring", str(dirs[p] / "keyring.toml"))
        assert signed.exit_code == 0, signed.stdout + signed.stderr
        assert "countersigned" in signed.stdout
    assert "complete" in signed.stdout
    ok = run_cli("ledger", "verify", str(ledger), "--keyring", str(observer / "keyring.toml"))
    assert ok.exit_code == 0, ok.stdout
    assert "statement" in ok.stdout  # statements were recomputed
    # No directory ever held two private keys; the observer holds none; settle made none.
    for p, d in dirs.items():
        assert _private_keys(d) == [f"{p}.key"]
    assert _private_keys(observer) == [] and _private_keys(out) == []
    # A checkpoint saved now is signed by all five and verifies.
    cp = run_cli("ledger", "checkpoint", str(ledger), "--keyring", str(observer / "keyring.toml"))
    assert cp.exit_code == 0
    parsed = Checkpoint.parse(cp.stdout)
    assert {s.name for s in parsed.note.signatures} == set(PARTIES)
    (observer / "saved.cp").write_text(cp.stdout)
    again = run_cli("ledger", "verify", str(ledger), "--keyring", str(observer / "keyring.toml"),
                    "--checkpoint", str(observer / "saved.cp"))
    assert again.exit_code == 0, again.stdout


def test_settle_refuses_a_key_outside_the_keyring_and_a_missing_keyring(tmp_path: Path) -> None:
    dirs, _ = _party_dirs(tmp_path)
    scen = write_scenario(tmp_path, scenario())
    stranger = tmp_path / "stranger"
    generate_key(stranger, "op")
    res = run_cli("settle", str(scen), "--out", str(tmp_path / "o"), "--key",
                  str(stranger / "op.key"), "--keyring", str(dirs["op"] / "keyring.toml"))
    assert res.exit_code == 2 and "not its party's key in the keyring" in res.stderr
    assert not (tmp_path / "o" / "ledger.sqlite").exists()
    res = run_cli("settle", str(scen), "--key", str(dirs["op"] / "op.key"))
    assert res.exit_code == 2 and "--keyring" in res.stderr
    res = run_cli("settle", str(scen))
    assert res.exit_code == 2 and "--demo-keys" in res.stderr


def test_settle_is_idempotent_and_refuses_another_agreements_folder(tmp_path: Path) -> None:
    keys = tmp_path / "demo"
    scen = write_scenario(tmp_path, scenario())
    out = tmp_path / "out"
    assert run_cli("settle", str(scen), "--out", str(out), "--demo-keys", str(keys)).exit_code == 0
    size = Ledger.open(out / "ledger.sqlite", readonly=True).size
    statements = (out / "statements.json").read_bytes()
    again = run_cli("settle", str(scen), "--out", str(out), "--demo-keys", str(keys))
    assert again.exit_code == 2, again.stdout
    assert "2 period(s) already settled in the ledger: 0 from 2027-01-01T00:00Z" in again.stderr
    assert "1 from 2027-01-02T00:00Z" in again.stderr
    with Ledger.open(out / "ledger.sqlite", readonly=True) as L:
        assert L.size == size  # nothing appended
    assert (out / "statements.json").read_bytes() == statements
    # The next days settle into the same ledger; it then verifies with two complete heads.
    later = write_scenario(tmp_path, scenario(start="2027-01-03T00:00:00Z"), "later.toml")
    res = run_cli("settle", str(later), "--out", str(out), "--demo-keys", str(keys))
    assert res.exit_code == 0, res.stderr
    report = verify_ledger(out / "ledger.sqlite", Keyring.from_dir(keys), CHECKERS)
    assert report.ok, report.first
    assert report.tree_heads == 2 and report.checked["statement"] == 4
    # Another agreement's settlement is refused in this folder.
    other = write_scenario(tmp_path, scenario(name="other", start="2027-02-01T00:00:00Z"),
                           "other.toml")
    res = run_cli("settle", str(other), "--out", str(out), "--demo-keys", str(keys))
    assert res.exit_code == 2 and "ledger of another agreement" in res.stderr
    assert "deal" in res.stderr or "other" in res.stderr


# --------------------------------------------------------------------------- #
# The tamper table
# --------------------------------------------------------------------------- #


def _rows(path: Path) -> list[tuple[str, str, str]]:
    con = sqlite3.connect(path)
    try:
        return list(con.execute("SELECT kind, payload, timestamp FROM entries ORDER BY seq"))
    finally:
        con.close()


def _sql(path: Path, *statements: str | tuple[str, tuple[Any, ...]]) -> None:
    """Edit the file as an attacker: drop the append-only triggers, run SQL."""
    con = sqlite3.connect(path)
    try:
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            con.execute(f"DROP TRIGGER {name}")
        for st in statements:
            sql, args = (st, ()) if isinstance(st, str) else st
            con.execute(sql, args)
        con.commit()
    finally:
        con.close()


def _rebuild(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Replace every entry by ``rows`` with leaf hashes and interior nodes recomputed, so
    the file is self-consistent; the signed heads are left as they were."""
    with Ledger.open(path, readonly=True) as ledger:
        stores = ledger.stores  # the levels this ledger keeps interior nodes at
    entries, nodes = [], []
    frontier = merkle.Frontier()
    for seq, (kind, payload, ts) in enumerate(rows):
        leaf = merkle.leaf_hash(entry_leaf_bytes(seq, kind, payload.encode(), ts))
        entries.append((seq, kind, payload, ts, leaf))
        nodes += [(node_id(lv, ix), h) for lv, ix, h in frontier.append(leaf) if stores(lv)]
    _sql(path, "DELETE FROM entries", "DELETE FROM nodes",
         *[("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", e) for e in entries],
         *[("INSERT INTO nodes (id, hash) VALUES (?, ?)", n) for n in nodes])


def _canon(value: Any) -> str:
    from gridhash.ledger.canonical import canonical_json

    return canonical_json(value).decode()


def _index(rows: list[tuple[str, str, str]], kind: str, nth: int = 0) -> int:
    return [i for i, r in enumerate(rows) if r[0] == kind][nth]


def _edit_payload(path: Path, base: dict[str, Any]) -> None:
    i = _index(_rows(path), "meter")
    _sql(path, ("UPDATE entries SET payload = replace(payload, '\"hours\":24', '\"hours\":25') "
                "WHERE seq = ?", (i,)))


def _edit_and_rehash(path: Path, base: dict[str, Any]) -> None:
    rows = _rows(path)
    i = _index(rows, "statement")
    p = json.loads(rows[i][1])
    p["statements"][1]["usd_owed_cents"] += 100_00
    rows[i] = (rows[i][0], _canon(p), rows[i][2])
    _rebuild(path, rows)


def _delete(path: Path, base: dict[str, Any]) -> None:
    rows = _rows(path)
    del rows[_index(rows, "safety_event") if any(r[0] == "safety_event" for r in rows)
             else _index(rows, "plan")]
    _rebuild(path, rows)


def _swap(path: Path, base: dict[str, Any]) -> None:
    rows = _rows(path)
    i, j = _index(rows, "statement", 0), _index(rows, "statement", 1)
    rows[i], rows[j] = rows[j], rows[i]
    _rebuild(path, rows)


def _insert(path: Path, base: dict[str, Any]) -> None:
    rows = _rows(path)
    i = _index(rows, "statement", 0)
    rows.insert(i + 1, ("note", _canon({"text": "an extra entry"}), rows[i][2]))
    _rebuild(path, rows)


def _truncate_tail(path: Path, base: dict[str, Any]) -> None:
    """Rollback: drop the second batch and the head over it."""
    size = base["first_size"]
    _rebuild(path, _rows(path)[:size])
    _sql(path, "DELETE FROM signatures WHERE head_id = 1", "DELETE FROM tree_heads WHERE id = 1")


def _drop_heads(path: Path, base: dict[str, Any]) -> None:
    _sql(path, "DELETE FROM signatures", "DELETE FROM tree_heads")


def _rekind(path: Path, base: dict[str, Any]) -> None:
    rows = _rows(path)
    i = _index(rows, "statement")
    rows[i] = ("note", rows[i][1], rows[i][2])
    _rebuild(path, rows)


def _replace_agreement_key(path: Path, base: dict[str, Any]) -> None:
    rows = _rows(path)
    i = _index(rows, "agreement")
    p = json.loads(rows[i][1])
    p["party_keys"]["b"] = generate_key(tempfile.mkdtemp(dir=base["tmp"]), "b").public.raw.hex()
    rows[i] = (rows[i][0], _canon(p), rows[i][2])
    _rebuild(path, rows)


def _resign_with_fresh_keys(path: Path, base: dict[str, Any]) -> None:
    """The issue's attack: change a meter reading, re-settle the period, plant fresh keys in
    the agreement entry, re-sign every statement, delete every head, rebuild every hash and
    sign a new head, all with keys the attacker made (same party names, same ledger id)."""
    from gridhash.scenario.agreement import Agreement
    from gridhash.settlement.statements import settle_period

    folder = tempfile.mkdtemp(dir=base["tmp"])
    fresh = {p: generate_key(folder, p) for p in PARTIES}
    meter_by: dict[str, Any] = {}
    rows = _rows(path)
    out = []
    ag = None
    for kind, payload, ts in rows:
        p = json.loads(payload)
        if kind == "agreement":
            p["party_keys"] = {k: v.public.raw.hex() for k, v in fresh.items()}
            ag = Agreement.model_validate(p["agreement"])
        elif kind == "meter" and p.get("period") == 0:
            first = next(iter(p["offtakes"].values()))
            first["delivered_mwh"][0] += 50.0
        elif kind == "statement":
            record = {k: v for k, v in meter_by[p["start"]].items() if k != "agreement"}
            p = settle_period(record, ag)
            p["signatures"] = {k: v.sign(unsigned(p)).hex() for k, v in fresh.items()}
        if kind == "meter":
            meter_by[p["start"]] = p
        out.append((kind, _canon(p), ts))
    _rebuild(path, out)
    ledger_id = Ledger.open(path, readonly=True).ledger_id
    _sql(path, "DELETE FROM signatures", "DELETE FROM tree_heads")
    with Ledger.open(path) as L:
        assert L.ledger_id == ledger_id
        L.sign_head(fresh)



def _fork(path: Path, base: dict[str, Any]) -> None:
    """The parties' keys' holder (here: the demo holder) shows this party another history:
    the same first settlement, a different second batch of the same size, validly signed."""
    shutil.copy(base["fork"], path)


ROWS: list[tuple[str, Callable[[Path, dict[str, Any]], None], bool, bool]] = [
    # (row, tamper, caught by the keyring alone, caught with the keyring + saved checkpoint)
    ("edit a payload", _edit_payload, True, True),
    ("edit and rehash consistently", _edit_and_rehash, True, True),
    ("delete an entry", _delete, True, True),
    ("swap two entries", _swap, True, True),
    ("insert an entry", _insert, True, True),
    ("truncate the tail (rollback)", _truncate_tail, False, True),
    ("drop every head", _drop_heads, True, True),
    ("re-kind a statement", _rekind, True, True),
    ("replace a key in the agreement entry", _replace_agreement_key, True, True),
    ("re-sign with fresh keys", _resign_with_fresh_keys, True, True),
    ("fork two copies", _fork, False, True),
]


def _second_batch(path: Path, keys: dict[str, PartyKey], text: str) -> int:
    with Ledger.open(path) as L:
        L.append_many([("note", {"text": text, "n": i}) for i in range(5)], sign=keys)
        return L.size


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("table")
    keys_dir = tmp / "demo-keys"
    scen = write_scenario(tmp, scenario(hours=48))
    out = tmp / "settled"
    res = run_cli("settle", str(scen), "--out", str(out), "--demo-keys", str(keys_dir))
    assert res.exit_code == 0, res.stderr
    keys = {p: load_private_key(keys_dir / f"{p}.key") for p in PARTIES}
    ledger = out / "ledger.sqlite"
    first_size = Ledger.open(ledger, readonly=True).size
    fork = tmp / "fork.sqlite"
    shutil.copy(ledger, fork)
    _second_batch(ledger, keys, "the real second batch")
    _second_batch(fork, keys, "another story")
    ring = Keyring.from_dir(keys_dir)
    cp = run_cli("ledger", "checkpoint", str(ledger), "--keys", str(keys_dir))
    assert cp.exit_code == 0
    return {"tmp": tmp, "ledger": ledger, "fork": fork, "ring": ring,
            "checkpoint": Checkpoint.parse(cp.stdout), "first_size": first_size}


@pytest.mark.parametrize(("row", "attack", "by_keyring", "by_checkpoint"), ROWS,
                         ids=[r[0] for r in ROWS])
def test_tamper_table(base: dict[str, Any], tmp_path: Path, row: str, attack: Any,
                      by_keyring: bool, by_checkpoint: bool) -> None:
    path = tmp_path / "ledger.sqlite"
    shutil.copy(base["ledger"], path)
    assert verify_ledger(path, base["ring"], CHECKERS, checkpoint=base["checkpoint"]).ok
    attack(path, base)
    alone = verify_ledger(path, base["ring"], CHECKERS)
    both = verify_ledger(path, base["ring"], CHECKERS, checkpoint=base["checkpoint"])
    assert (not alone.ok) == by_keyring, (row, alone.first)
    assert (not both.ok) == by_checkpoint, (row, both.first)


def test_tamper_rows_through_the_cli_name_what_failed(base: dict[str, Any],
                                                      tmp_path: Path) -> None:
    keys = str(base["tmp"] / "demo-keys")
    saved = tmp_path / "saved.cp"
    saved.write_text(base["checkpoint"].note.render())
    # Rollback: exit 1 naming the checkpoint's size and both roots.
    path = tmp_path / "rolled.sqlite"
    shutil.copy(base["ledger"], path)
    _truncate_tail(path, base)
    assert run_cli("ledger", "verify", str(path), "--keys", keys).exit_code == 0
    res = run_cli("ledger", "verify", str(path), "--keys", keys, "--checkpoint", str(saved))
    assert res.exit_code == 1 and "rollback" in res.stdout
    cp = base["checkpoint"]
    flat = res.stdout.replace("\n", "")
    assert cp.root.hex()[:40] in flat and f"{cp.size:,}" in res.stdout
    # Fork: exit 1 naming both roots at the checkpoint's size.
    res = run_cli("ledger", "verify", str(base["fork"]), "--keys", keys, "--checkpoint",
                  str(saved))
    assert res.exit_code == 1 and "fork or rewrite" in res.stdout
    fork_root = Ledger.open(base["fork"], readonly=True).root()
    flat = res.stdout.replace("\n", "")
    assert fork_root.hex()[:40] in flat and cp.root.hex()[:40] in flat
    # Keys planted in the agreement entry: the discrepancy names the party.
    path = tmp_path / "planted.sqlite"
    shutil.copy(base["ledger"], path)
    _replace_agreement_key(path, base)
    report = verify_ledger(path, base["ring"], CHECKERS)
    assert any(d.field == "party_keys.b" and "for b" in d.message for d in report.discrepancies)
    # No head at all fails.
    path = tmp_path / "headless.sqlite"
    shutil.copy(base["ledger"], path)
    _drop_heads(path, base)
    res = run_cli("ledger", "verify", str(path), "--keys", keys, "--allow-unsigned-tail")
    assert res.exit_code == 1 and "no tree head covers any" in res.stdout


def test_two_statements_for_one_period_are_a_discrepancy(base: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """Even validly signed by every party, a period settled twice is caught."""
    path = tmp_path / "twice.sqlite"
    shutil.copy(base["ledger"], path)
    keys = {p: load_private_key(base["tmp"] / "demo-keys" / f"{p}.key") for p in PARTIES}
    with Ledger.open(path) as L:
        meter = next(e for e in L.entries_of_kind("meter"))
        statement = next(e for e in L.entries_of_kind("statement"))
        L.append_many([("meter", meter.payload), ("statement", statement.payload)], sign=keys)
    report = verify_ledger(path, base["ring"], CHECKERS)
    first = report.first
    assert first is not None and first.field == "period"
    assert "settled twice" in first.message and str(statement.seq) in first.message
