"""Benchmark: build a large ledger and verify it from scratch, against raw SHA-256 of its bytes.

Builds a ledger of ``--entries`` hourly meter readings (small realistic JSON
payloads, ~110 bytes) in periods of ``--period`` entries: each period is one
``append_many`` transaction with a tree head signed by two parties (Ed25519)
in the same transaction.  Then:

- ``verify_ledger`` against a keyring of both parties' public keys, with a
  checkpoint saved at half the ledger: every leaf hash recomputed, every stored
  interior node recomputed and compared, the root at every signed head, every
  signature against the keyring, every entry covered by a complete head, a
  consistency proof between successive heads, and the checkpoint's root and
  consistency proof to the latest head;
- the *reference*, measured in the same run: read every entry from the same
  file and SHA-256 its canonical leaf bytes, then SHA-256 the ``n - 1``
  interior nodes (``merkle.root`` over the leaf hashes): the hashing any
  verifier must do, with no checks, reports or signatures;
- ``--rounds`` of (verify, then the reference), after a first reference: each
  timed in wall and CPU seconds, and the ratio taken between the best of each
  (on a shared machine another process can only lengthen a run);
- single-entry ``append`` (one durable transaction each) on a separate small
  ledger, and inclusion / consistency proofs served by a freshly opened ledger.

Prints the figures, the ratio verify / reference (wall, and CPU), and whether
the wall ratio met the target ratio (``--target`` 1.2 by default).  Exits 1 if verification reports
a discrepancy.

    python benchmarks/ledger_verify.py [--entries 1000000] [--period 1000] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any


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


def build(path: Path, keys: dict, entries: int, period: int, node_stride: int | None) -> float:
    """Seconds spent in ``append_many`` with its signed head (payloads not counted)."""
    from gridhash.ledger.store import Ledger

    spent = 0.0
    t_start = time.perf_counter()
    stride = {} if node_stride is None else {"node_stride": node_stride}
    with Ledger.create(path, **stride) as ledger:
        done = 0
        while done < entries:
            n = min(period, entries - done)
            items = [("meter", payload(done + k)) for k in range(n)]
            t0 = time.perf_counter()
            ledger.append_many(items, sign=keys)
            spent += time.perf_counter() - t0
            done += n
            if done % (entries // 10 or 1) < n:
                elapsed = time.perf_counter() - t_start
                print(f"  built {done:>9,} entries ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    return spent


def reference(path: Path) -> float:
    """The reference of this benchmark since it was written: read every entry and SHA-256
    its canonical leaf bytes (a list of leaf hashes), then the ``n - 1`` interior nodes level
    by level (pairs hashed left to right, a lone last node carried up): hashlib alone, no
    checks, reports or signatures."""
    from gridhash.ledger.canonical import entry_leaf_bytes

    t0 = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    level = [
        sha256(b"\x00" + entry_leaf_bytes(seq, kind, payload.encode(), ts)).digest()
        for seq, kind, payload, ts in conn.execute(
            "SELECT seq, kind, payload, timestamp FROM entries ORDER BY seq"
        )
    ]
    conn.close()
    while len(level) > 1:
        carry = [level[-1]] if len(level) % 2 else []
        level = [sha256(b"\x01" + a + b).digest()
                 for a, b in zip(level[0::2], level[1::2], strict=False)] + carry
    return time.perf_counter() - t0


def reference_streamed(path: Path) -> float:
    """A tighter floor: the same hashing streamed in chunks (no list of every leaf hash),
    leaf bytes assembled in one comprehension per chunk, nodes folded as leaves arrive."""
    from gridhash.ledger.canonical import entry_leaf_bytes_many

    t0 = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cur = conn.execute("SELECT seq, kind, payload, timestamp, NULL FROM entries ORDER BY seq")
    stack: list[bytes] = []
    size = 0
    while chunk := cur.fetchmany(4096):
        for data in entry_leaf_bytes_many(chunk):
            h = sha256(b"\x00" + data).digest()
            n = size
            while n & 1:
                h = sha256(b"\x01" + stack.pop() + h).digest()
                n >>= 1
            stack.append(h)
            size += 1
    conn.close()
    r = stack[-1]
    for left in reversed(stack[:-1]):
        r = sha256(b"\x01" + left + r).digest()
    return time.perf_counter() - t0


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of ``fn(*args)``."""
    return timed_report(fn, *args)[0]


def timed_report(fn: Callable[..., Any], *args: Any) -> tuple[tuple[float, float], Any]:
    """``((wall, cpu), fn(*args))``."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return (time.perf_counter() - w0, time.process_time() - c0), out


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
    parser.add_argument("--target", type=float, default=1.2,
                        help="target ratio verify / reference [1.2]")
    parser.add_argument("--rounds", type=int, default=3,
                        help="verifications timed, each followed by the reference [3]")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument("--node-stride", type=int,
                        help="keep interior nodes every N levels [the store's default, 4; "
                        "1: every level, the layout before node_stride]")
    args = parser.parse_args(argv)

    from gridhash.ledger.keyring import Keyring
    from gridhash.ledger.note import Checkpoint
    from gridhash.ledger.signing import generate_key
    from gridhash.ledger.store import Ledger
    from gridhash.ledger.verify import verify_ledger

    folder = args.keep or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ledger.db"
    for old in (path, folder / "single.db"):  # a kept folder from an earlier run
        old.unlink(missing_ok=True)
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
        build_s = build(path, keys, args.entries, args.period, args.node_stride)
        size_mb = path.stat().st_size / 1e6
        single_s = single_appends(folder, args.single)

        ring = Keyring.of([k.public for k in keys.values()])
        with Ledger.open(path, readonly=True) as ledger:
            half = next(h for h in ledger.heads() if h.size >= args.entries // 2)
            checkpoint = Checkpoint.parse(half.checkpoint().render())
        # Rounds of: the reference, then verify; then the reference once more.  Each is
        # timed in wall and in CPU seconds, and the ratio uses the best (least disturbed)
        # of each: on a shared machine another process's burst lengthens a run, never
        # shortens it.
        refs: list[tuple[float, float]] = [timed(reference, path)]
        verifies: list[tuple[float, float]] = []
        report = None
        for _ in range(args.rounds):
            (wall, cpu), report = timed_report(
                lambda: verify_ledger(path, ring, checkpoint=checkpoint))
            verifies.append((wall, cpu))
            refs.append(timed(reference, path))
        ref_s, ref_cpu = min(w for w, _ in refs), min(c for _, c in refs)
        verify_s, verify_cpu = min(w for w, _ in verifies), min(c for _, c in verifies)
        tight_s = reference_streamed(path)
        incl_s, cons_s = proofs(path, args.entries, 200)

        print(f"{'':34}{'seconds':>10}{'per entry':>14}")
        print(
            f"{'build (append_many, signed head)':34}{build_s:10.2f}"
            f"{build_s / args.entries * 1e6:11.1f} us   {args.entries / build_s:,.0f} entries/s"
        )
        print(
            f"{'single append (own transaction)':34}{single_s:10.2f}"
            f"{single_s / args.single * 1e6:11.1f} us   {args.single / single_s:,.0f} appends/s "
            f"({args.single:,} timed)"
        )
        print(
            f"{'verify_ledger':34}{verify_s:10.2f}"
            f"{verify_s / args.entries * 1e6:11.1f} us   {report.entries:,} entries, "
            f"{report.nodes_checked:,} nodes, {report.tree_heads:,} heads, "
            f"{report.signatures_checked:,} signatures, {report.consistency_checked:,} "
            "consistency proofs"
        )
        print(
            f"{'reference: read + SHA-256 only':34}{ref_s:10.2f}"
            f"{ref_s / args.entries * 1e6:11.1f} us"
        )
        print("  every round, wall (CPU) seconds: verify "
              + ", ".join(f"{w:.2f} ({c:.2f})" for w, c in verifies)
              + "; reference " + ", ".join(f"{w:.2f} ({c:.2f})" for w, c in refs))
        print(
            f"{'tighter floor: streamed SHA-256':34}{tight_s:10.2f}"
            f"{tight_s / args.entries * 1e6:11.1f} us   (verify / floor "
            f"{verify_s / tight_s:.2f}x)"
        )
        print(f"inclusion proof (fresh open, {args.entries:,} leaves): {incl_s * 1e3:.3f} ms each")
        print(f"consistency proof: {cons_s * 1e3:.3f} ms each")
        print(f"file: {size_mb:,.1f} MB ({size_mb * 1e6 / args.entries:.0f} bytes per entry)")
        ratio = verify_s / ref_s
        met = "met" if ratio <= args.target else "MISSED"
        print(f"verify / reference: {ratio:.2f}x wall, {verify_cpu / ref_cpu:.2f}x CPU (best of "
              f"{len(verifies)} and {len(refs)}; target <= {args.target:g}x: {met}); load "
              f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if not report.ok:
            print(f"verification FAILED: {report.first}")
            return 1
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
