"""``gridhash ledger``: verify, proof, check-proof, keygen and sign, with their exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_helpers import build, make_keys, run_ledger, tamper


@pytest.fixture(scope="module")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger and its parties' keys, built once per module (each append is a synced
    commit)."""
    folder = tmp_path_factory.mktemp("built")
    keys = make_keys(folder / "keys")
    build(folder / "ledger.db", keys, n=30, every=10, tail=2).close()
    return folder


@pytest.fixture
def ledger_file(_built: Path, tmp_path: Path) -> Path:
    """This test's own copy of the ledger (and any WAL file), its keys in ``tmp_path/keys``."""
    shutil.copytree(_built / "keys", tmp_path / "keys")
    for file in _built.glob("ledger.db*"):
        shutil.copy2(file, tmp_path / file.name)
    return tmp_path / "ledger.db"


def test_verify_ok(ledger_file: Path, tmp_path: Path) -> None:
    keys = str(tmp_path / "keys")
    result = run_ledger("verify", str(ledger_file), "--keys", keys, "--allow-unsigned-tail")
    assert result.exit_code == 0, result.output
    assert "32 entries verified" in result.output
    assert "3 (latest: size 30" in result.output
    assert "6 checked against the keyring only" in result.output
    assert "2 entries after size 30" in result.output
    # Without --allow-unsigned-tail the tail fails, named by its size.
    strict = run_ledger("verify", str(ledger_file), "--keys", keys)
    assert strict.exit_code == 1
    assert "FAILED at entries 30..31" in strict.output and "unsigned_tail" in strict.output


def test_verify_without_keyring_exits_2(ledger_file: Path) -> None:
    result = run_ledger("verify", str(ledger_file))
    assert result.exit_code == 2
    assert "no keyring given" in result.output and "--keyring" in result.output


def test_verify_names_the_first_discrepancy(ledger_file: Path, tmp_path: Path) -> None:
    tamper(ledger_file, "UPDATE entries SET payload = '{\"mwh\":0}' WHERE seq = 13")
    result = run_ledger("verify", str(ledger_file), "--keys", str(tmp_path / "keys"))
    assert result.exit_code == 1
    out = result.output
    assert "verification FAILED at entry 13" in out
    assert "leaf_hash" in out and "expected" in out and "found" in out
    assert "more discrepancies after it" in out


def test_verify_bad_input_exits_2(tmp_path: Path, ledger_file: Path) -> None:
    missing = run_ledger("verify", str(tmp_path / "nope.db"), "--keys", str(tmp_path / "keys"))
    assert missing.exit_code == 2 and "ledger file not found" in missing.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "operator.pub").write_text("garbage")
    bad = run_ledger("verify", str(ledger_file), "--keys", str(tmp_path / "bad"))
    assert bad.exit_code == 2
    assert str(tmp_path / "bad" / "operator.pub") in bad.output


def test_proof_and_check_proof_round_trip(ledger_file: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    human = run_ledger("proof", str(ledger_file), "7", "--keys", str(keys))
    assert human.exit_code == 0, human.output
    assert "tree head" in human.output and "size 30" in human.output
    assert "✓" in human.output

    result = run_ledger("proof", str(ledger_file), "7", "--json")
    assert result.exit_code == 0
    bundle = json.loads(result.output)
    assert bundle["index"] == 7 and bundle["tree_size"] == 30
    assert bundle["entry"]["payload"]["hour"] == 7
    assert len(bundle["audit_path"]) == 5
    saved = tmp_path / "proof.json"
    saved.write_text(result.output)

    ok = run_ledger(
        "check-proof",
        str(saved),
        "--key",
        str(keys / "operator.pub"),
        "--key",
        str(keys / "ua-grid.pub"),
    )
    assert ok.exit_code == 0, ok.output
    assert "entry 7 (meter) is in ledger" in ok.output

    # An older head can be chosen.
    older = json.loads(run_ledger("proof", str(ledger_file), "7", "--json", "--size", "10").output)
    assert older["tree_size"] == 10 and len(older["audit_path"]) == 4


def test_check_proof_fails_on_any_change(ledger_file: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    bundle = json.loads(run_ledger("proof", str(ledger_file), "7", "--json").output)
    key = ("--key", str(keys / "operator.pub"))

    def check(data: dict) -> tuple[int, str]:
        path = tmp_path / "b.json"
        path.write_text(json.dumps(data))
        result = run_ledger("check-proof", str(path), *key)
        return result.exit_code, result.output

    edited = json.loads(json.dumps(bundle))
    edited["entry"]["payload"]["mwh"] = 1.0
    del edited["leaf"]
    code, out = check(edited)
    assert code == 1 and "leaf_hash" in out

    path_flip = json.loads(json.dumps(bundle))
    path_flip["audit_path"][2] = "00" * 32
    code, out = check(path_flip)
    assert code == 1 and "root: expected" in out

    root_edit = json.loads(json.dumps(bundle))
    root_edit["tree_head"]["root"] = "11" * 32
    code, out = check(root_edit)  # the signed text it carries no longer matches the head
    assert code == 1 and "signed_text" in out
    del root_edit["signed_text"]
    code, out = check(root_edit)
    assert code == 1 and "root: expected" in out

    resigned = json.loads(json.dumps(bundle))
    resigned["tree_head"]["timestamp"] = "2030-01-01T00:00:00.000000Z"
    del resigned["signed_text"]
    code, out = check(resigned)
    assert code == 1 and "does not verify" in out

    impostor = make_keys(tmp_path / "impostor", ("operator",))["operator"]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    result = run_ledger(
        "check-proof", str(path), "--key", str(tmp_path / "impostor" / "operator.pub")
    )
    assert result.exit_code == 1
    assert f"expected key {impostor.public.fingerprint} (keyring)" in result.output


def test_check_proof_malformed_bundle_exits_2(tmp_path: Path, ledger_file: Path) -> None:
    keys = tmp_path / "keys"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_ledger("check-proof", str(bad), "--key", str(keys / "operator.pub"))
    assert result.exit_code == 2 and "not JSON" in result.output and str(bad) in result.output
    bundle = json.loads(run_ledger("proof", str(ledger_file), "3", "--json").output)
    bundle["audit_path"][0] = "xyz"
    bad.write_text(json.dumps(bundle))
    result = run_ledger("check-proof", str(bad), "--key", str(keys / "operator.pub"))
    assert result.exit_code == 2 and "audit_path[0]" in result.output


def test_proof_of_unsigned_or_missing_entry_exits_2(ledger_file: Path) -> None:
    unsigned = run_ledger("proof", str(ledger_file), "31")
    assert unsigned.exit_code == 2 and "not covered by a signed tree head" in unsigned.output
    missing = run_ledger("proof", str(ledger_file), "99")
    assert missing.exit_code == 2 and "no entry 99" in missing.output


def test_keygen_and_sign(ledger_file: Path, tmp_path: Path) -> None:
    third = tmp_path / "third"
    result = run_ledger("keygen", "iaea", "--keys", str(third))
    assert result.exit_code == 0 and "fingerprint" in result.output
    assert sorted(p.name for p in third.iterdir()) == ["iaea.key", "iaea.pub"]  # only iaea's
    again = run_ledger("keygen", "iaea", "--keys", str(third))
    assert again.exit_code == 2 and "already exists" in again.output

    keys = tmp_path / "keys"
    # A keyring of the three parties, every one required.
    ring = tmp_path / "keyring.toml"
    made = run_ledger("keyring", str(keys / "operator.pub"), str(keys / "ua-grid.pub"),
                      str(third / "iaea.pub"), "--out", str(ring))
    assert made.exit_code == 0, made.output
    assert "all of operator, ua-grid, iaea" in made.output
    # A key the keyring does not list is refused (exit 2) before anything is signed.
    stranger = make_keys(tmp_path / "stranger", ("iaea",))["iaea"]
    refused = run_ledger("sign", str(ledger_file), "--key", str(tmp_path / "stranger" /
                                                                "iaea.key"), "--keyring", str(ring))
    assert refused.exit_code == 2 and stranger.public.fingerprint in refused.output

    signed = run_ledger("sign", str(ledger_file), "--key", str(third / "iaea.key"),
                        "--keyring", str(ring))
    assert signed.exit_code == 0, signed.output
    assert "signed tree head 3 (size 32" in signed.output
    assert "still needs operator, ua-grid" in signed.output
    result = run_ledger("verify", str(ledger_file), "--keyring", str(ring))
    assert result.exit_code == 1 and "unsigned_tail" in result.output
    # Each party countersigns with its own key file.
    for party in ("operator", "ua-grid"):
        counter = run_ledger("sign", str(ledger_file), "--key", str(keys / f"{party}.key"),
                             "--keyring", str(ring))
        assert counter.exit_code == 0 and "countersigned tree head 3" in counter.output
    assert "complete" in counter.output
    assert run_ledger("verify", str(ledger_file), "--keyring", str(ring)).exit_code == 0
    # `--keys DIR` reads public keys only: a folder of .pub files is a keyring.
    assert run_ledger("verify", str(ledger_file), "--keys", str(keys)).exit_code == 0
    # A party refuses to sign a ledger that does not verify.
    tamper(ledger_file, "UPDATE entries SET payload = '{\"mwh\":0}' WHERE seq = 13")
    bad = run_ledger("sign", str(ledger_file), "--key", str(keys / "operator.key"),
                     "--keyring", str(ring))
    assert bad.exit_code == 1 and "not signed" in bad.output


def test_importing_the_cli_is_light() -> None:
    code = (
        "import sys\n"
        "from gridhash.ledger.cli import ledger_app\n"
        "heavy = [m for m in ('cryptography', 'sqlite3', 'rich', 'numpy', 'pandas')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
