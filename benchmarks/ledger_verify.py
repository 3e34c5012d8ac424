"""Benchmark: build a large ledger and verify it from scratch, against raw SHA-256 of its bytes.

Builds a ledger of ``--entries`` hourly meter readings (small realistic JSON
payloads, ~110 bytes) in periods of ``--period`` entries: each period is one
``append_many`` transaction followed by a tree head signed by two parties
(Ed25519).  Then:

- ``verify_ledger`` with both parties' public keys: every leaf hash
  recomputed, every interior node recomputed and compared, the root at every
  signed head, every signature, a consistency proof between successive heads;
- the *reference*, measured in the same run: read every entry from the same
  file and SHA-256 its canonical leaf bytes, then SHA-256 the ``n - 1``
  interior nodes (``merkle.root`` over the leaf hashes): the hashing any
  verifier must do, with no checks, reports or signatures;
- single-entry ``append`` (one durable transaction each) on a separate small
  ledger, and inclusion / consistency proofs served by a freshly opened ledger.

Prints the figures, the ratio verify / reference, and whether verification
met the target (``--target`` seconds, 30 by default).  Exits 1 if verification
reports a discrepancy.

    python benchmarks/ledger_verify.py [--entries 1000000] [--period 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path


def payload(i: int) -> dict:
    """One hourly export reading of a unit: ~110 bytes of canonical JSON."""
    unit = 1 + i % 6
    return {
        "hour": (datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=i // 6)).strftime(
            "%Y-%m-%dT%H:%MZ"
        ),
        "meter": f"ZNPP-U{unit}-export",
        "mwh": round(950.0 - (i * 7919 % 1000) / 8.0, 3),
        "quality": "measured",
    }


def build(path: Path, keys: dict, entries: int, period: int) -> float:
    """Seconds spent in ``append_many`` and ``sign_head`` (payload generation not counted)."""
    from gridhash.ledger.store import Ledger

    spent = 0.0
    t_start = time.perf_counter()
    with Ledger.create(path) as ledger:
        done = 0
        while done < entries:
            n = min(period, entries - done)
            items = [("meter", payload(done + k)) for k in range(n)]
            t0 = time.perf_counter()
            ledger.append_many(items)
            ledger.sign_head(keys)
            spent += time.perf_counter() - t0
            done += n
            if done % (entries // 10 or 1) < n:
                elapsed = time.perf_counter() - t_start
                print(f"  built {done:>9,} entries ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    return spent


def reference(path: Path) -> float:
    """Read every entry and SHA-256 its leaf bytes, then the interior nodes: no checks."""
    from gridhash.ledger import merkle
    from gridhash.ledger.canonical import entry_leaf_bytes

    t0 = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    leaves = [
        sha256(b"\x00" + entry_leaf_bytes(seq, kind, payload.encode(), ts)).digest()
        for seq, kind, payload, ts in conn.execute(
            "SELECT seq, kind, payload, timestamp FROM entries ORDER BY seq"
        )
    ]
    conn.close()
    merkle.root(leaves)
    return time.perf_counter() - t0


def single_appends(folder: Path, count: int) -> float:
    from gridhash.ledger.store import Ledger

    with Ledger.create(folder / "single.db") as ledger:
        t0 = time.perf_counter()
        for i in range(count):
            ledger.append("meter", payload(i))
        return time.perf_counter() - t0


def proofs(path: Path, size: int, samples: int) -> tuple[float, float]:
    from gridhash.ledger.store import Ledger

    rng = random.Random(1)
    with Ledger.open(path, readonly=True) as ledger:
        t0 = time.perf_counter()
        for _ in range(samples):
            ledger.inclusion_proof(rng.randrange(size), size)
        t1 = time.perf_counter()
        for _ in range(samples):
            ledger.consistency_proof(rng.randrange(1, size), size)
        t2 = time.perf_counter()
    return (t1 - t0) / samples, (t2 - t1) / samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries [1000000]")
    parser.add_argument("--period", type=int, default=1000, help="entries per signed head [1000]")
    parser.add_argument("--single", type=int, default=2000, help="single appends timed [2000]")
    parser.add_argument("--target", type=float, default=30.0, help="verify target, s [30]")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args(argv)

    from gridhash.ledger.signing import generate_key
    from gridhash.ledger.verify import verify_ledger

    folder = args.keep or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ledger.db"
    if path.exists():
        path.unlink()
    try:
        keys = {
            p: generate_key(folder / "keys", p, overwrite=True) for p in ("operator", "ua-grid")
        }
        print(
            f"ledger: {args.entries:,} entries, a tree head signed by {len(keys)} parties every "
            f"{args.period:,} entries; Python {platform.python_version()}, SQLite "
            f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs",
            flush=True,
        )
        build_s = build(path, keys, args.entries, args.period)
        size_mb = path.stat().st_size / 1e6
        single_s = single_appends(folder, args.single)

        public = [k.public for k in keys.values()]
        report = verify_ledger(path, public)
        ref_s = reference(path)
        incl_s, cons_s = proofs(path, args.entries, 200)

        print(f"{'':34}{'seconds':>10}{'per entry':>14}")
        print(
            f"{'build (append_many + sign_head)':34}{build_s:10.2f}"
            f"{build_s / args.entries * 1e6:11.1f} us   {args.entries / build_s:,.0f} entries/s"
        )
        print(
            f"{'single append (own transaction)':34}{single_s:10.2f}"
            f"{single_s / args.single * 1e6:11.1f} us   {args.single / single_s:,.0f} appends/s "
            f"({args.single:,} timed)"
        )
        print(
            f"{'verify_ledger':34}{report.seconds:10.2f}"
            f"{report.seconds / args.entries * 1e6:11.1f} us   {report.entries:,} entries, "
            f"{report.nodes_checked:,} nodes, {report.tree_heads:,} heads, "
            f"{report.signatures_checked:,} signatures, {report.consistency_checked:,} "
            "consistency proofs"
        )
        print(
            f"{'reference: read + SHA-256 only':34}{ref_s:10.2f}"
            f"{ref_s / args.entries * 1e6:11.1f} us"
        )
        print(f"inclusion proof (fresh open, {args.entries:,} leaves): {incl_s * 1e3:.3f} ms each")
        print(f"consistency proof: {cons_s * 1e3:.3f} ms each")
        print(f"file: {size_mb:,.1f} MB ({size_mb * 1e6 / args.entries:.0f} bytes per entry)")
        print(f"verify / reference: {report.seconds / ref_s:.2f}x")
        met = "met" if report.seconds < args.target else "MISSED"
        print(f"verify {report.seconds:.2f} s (target < {args.target:g} s: {met})")
        if not report.ok:
            print(f"verification FAILED: {report.first}")
            return 1
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
