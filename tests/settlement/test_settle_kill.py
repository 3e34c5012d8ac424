"""``gridhash settle`` killed with SIGKILL at random moments leaves everything as it was, or
the committed entries with their head: never a statements file without its entries, never
entries without the head of that run, never part of a run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trust_helpers import PARTIES, scenario

from gridhash.ledger.keyring import Keyring
from gridhash.ledger.signing import generate_key
from gridhash.ledger.store import Ledger
from gridhash.ledger.verify import verify_ledger
from gridhash.settlement.record import CHECKERS

from helpers import write_scenario

SCRIPT = "import sys\nfrom gridhash.cli import main\nsys.argv = ['gridhash', *sys.argv[1:]]\nmain()"
KILLS = 10


def _settle(scen: Path, out: Path, keys: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "settle", str(scen), "--out", str(out),
         "--demo-keys", str(keys)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "160"},
    )


def _settled_starts(path: Path) -> list[str]:
    with Ledger.open(path, readonly=True) as L:
        return [e.payload["start"] for e in L.entries_of_kind("statement")]


def _check_folder(out: Path, ring: Keyring, before: int, run_entries: int) -> int:
    """The invariants after a kill; returns the ledger's size (0 when there is none)."""
    ledger = out / "ledger.sqlite"
    statements = out / "statements.json"
    if not ledger.exists():
        assert not statements.exists() and not (out / "statements.csv").exists()
        assert before == 0
        return 0
    report = verify_ledger(ledger, ring, CHECKERS)  # strict: every entry under a complete head
    assert report.ok, report.first
    # All of the run or none of it.
    assert report.entries in (before, before + run_entries), (before, report.entries)
    if statements.exists():
        doc = json.loads(statements.read_text())
        assert {p["start"] for p in doc["periods"]} <= set(_settled_starts(ledger))
    return report.entries


@pytest.mark.slow
def test_sigkill_during_settle_at_random_moments(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    for p in PARTIES:
        generate_key(keys, p)
    ring = Keyring.from_dir(keys)
    first = write_scenario(tmp_path, scenario())
    later = write_scenario(tmp_path, scenario(start="2027-01-03T00:00:00Z"), "later.toml")
    # A full run, timed, tells how long a settle takes and how many entries each run appends.
    ref = tmp_path / "ref"
    t0 = time.monotonic()
    assert _settle(first, ref, keys).wait(timeout=300) == 0
    full = time.monotonic() - t0
    first_entries = Ledger.open(ref / "ledger.sqlite", readonly=True).size
    assert _settle(later, ref, keys).wait(timeout=300) == 0
    later_entries = Ledger.open(ref / "ledger.sqlite", readonly=True).size - first_entries

    rng = random.Random(12)
    outcomes = {"nothing": 0, "committed": 0}
    for k in range(KILLS):
        # Even kills: a new folder (the ledger is created); odd: a second settlement appended
        # to a folder holding the first one.  Half the moments fall in the last third of a
        # run, where the ledger is written.
        out = tmp_path / f"kill{k}"
        if k % 2:
            assert _settle(first, out, keys).wait(timeout=300) == 0
            scen, before, entries = later, first_entries, later_entries
        else:
            scen, before, entries = first, 0, first_entries
        delay = rng.uniform(0.6 * full, 1.1 * full) if k % 4 < 2 else rng.uniform(0.05, full)
        proc = _settle(scen, out, keys)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        size = _check_folder(out, ring, before, entries)
        outcomes["nothing" if size == before else "committed"] += 1
        # Settling again either completes the run or is refused because it committed.
        again = _settle(scen, out, keys).wait(timeout=300)
        assert again == (0 if size == before else 2), (k, size, before)
        assert _check_folder(out, ring, before, entries) == before + entries
        assert (out / "statements.json").exists()
        assert not [p for p in out.iterdir() if p.name.endswith((".tmp", "-wal", "-shm"))
                    and p.name.startswith(".ledger")]
    assert outcomes["nothing"] > 0  # the kills did interrupt runs
