"""A writer killed with SIGKILL mid-stream leaves a ledger that opens, verifies and keeps
every entry it acknowledged; a batch (one transaction) is all there or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ledger_helpers import make_keys

from gridhash.ledger.signing import load_keys, load_public_keys
from gridhash.ledger.store import Ledger
from gridhash.ledger.verify import verify_ledger

BATCH = 3
WRITER = f"""
import sys
from gridhash.ledger.signing import load_keys
from gridhash.ledger.store import Ledger

path, keys_dir = sys.argv[1], sys.argv[2]
keys = load_keys(keys_dir)
ledger = Ledger.open(path)
i = ledger.size
while True:
    entries = ledger.append_many(
        [("meter", {{"hour": i + k, "mwh": 812.5, "note": "x" * 200}}) for k in range({BATCH})]
    )
    i += {BATCH}
    print(entries[-1].seq, flush=True)  # acknowledged: committed and durable
    if (i // {BATCH}) % 7 == 0:
        head = ledger.sign_head(keys)
        print("head", head.size, flush=True)
"""

pytestmark = [pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL"), pytest.mark.slow]


def _run_and_kill(path: Path, keys: Path, min_acks: int, timeout: float = 30.0) -> tuple[int, int]:
    """Start the writer, SIGKILL it once ``min_acks`` batches are acknowledged.

    Returns the entry count acknowledged and the largest signed head acknowledged.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(keys)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    enough = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if sum(1 for x in lines if not x.startswith("head")) >= min_acks:
                enough.set()
        enough.set()  # the writer ended on its own (an error): let the test see it

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert enough.wait(timeout), f"writer too slow: {len(lines)} lines in {timeout} s"
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.002 * (min_acks % 7))  # vary where in the stream the kill lands
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    acked = [int(x) for x in lines if x and not x.startswith("head")]
    heads = [int(x.split()[1]) for x in lines if x.startswith("head")]
    return (acked[-1] + 1 if acked else 0), max(heads, default=0)


def test_sigkill_mid_stream_keeps_every_acknowledged_entry(tmp_path: Path) -> None:
    make_keys(tmp_path / "keys")
    public = load_public_keys(tmp_path / "keys")
    path = tmp_path / "ledger.db"
    Ledger.create(path).close()
    before = 0
    for round_, min_acks in enumerate((40, 55, 70)):
        acked, signed = _run_and_kill(path, tmp_path / "keys", min_acks)
        report = verify_ledger(path, public)
        assert report.ok, report.first
        # Every acknowledged entry is there; at most the one batch in flight got committed
        # before its acknowledgement was printed, and never part of a batch.
        assert report.entries in (acked, acked + BATCH), (round_, acked, report.entries)
        assert report.entries % BATCH == 0 and report.entries > before
        assert report.signed_size >= signed
        with Ledger.open(path, readonly=True) as ledger:
            assert [e.seq for e in ledger.entries()] == list(range(report.entries))
            assert ledger.root() == ledger.root(report.entries)
        before = report.entries


BIG_WRITER = """
import sys
from gridhash.ledger.store import Ledger

ledger = Ledger.open(sys.argv[1])
# A small page cache makes SQLite spill the open transaction into the WAL early.
ledger._conn.execute("PRAGMA cache_size = -64")
items = [("meter", {"hour": i, "mwh": 812.5, "note": "y" * 200}) for i in range(60_000)]
print("begin", flush=True)
ledger.append_many(items)
print("committed", flush=True)
"""


def test_sigkill_inside_a_large_transaction_leaves_no_trace(tmp_path: Path) -> None:
    """Killed while its half-written transaction is already spilling into the WAL file."""
    make_keys(tmp_path / "keys")
    public = load_public_keys(tmp_path / "keys")
    path = tmp_path / "ledger.db"
    with Ledger.create(path) as ledger:
        ledger.append_many([("meter", {"hour": i}) for i in range(10)])
        ledger.sign_head(load_keys(tmp_path / "keys"))
    wal = Path(f"{path}-wal")
    proc = subprocess.Popen(
        [sys.executable, "-c", BIG_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "begin"
        start = wal.stat().st_size if wal.exists() else 0
        deadline = time.monotonic() + 30
        while (wal.stat().st_size if wal.exists() else 0) < start + 1_000_000:
            assert proc.poll() is None, "the writer ended before it could be interrupted"
            assert time.monotonic() < deadline, "the transaction never reached the WAL"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert "committed" not in proc.stdout.read()
    report = verify_ledger(path, public)
    assert report.ok, report.first
    assert (report.entries, report.signed_size) == (10, 10)
    with Ledger.open(path) as ledger:  # and appending resumes where it stopped
        assert ledger.append("meter", {"hour": 10}).seq == 10
