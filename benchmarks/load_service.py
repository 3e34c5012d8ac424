"""Benchmark: the operations service under load on loopback: meter ingestion and setpoint polling.

Starts ``gridhash`` 's operations service as a real uvicorn process on
127.0.0.1 (SQLite in WAL mode with ``synchronous=FULL``, the ledger beside it,
the default ``znpp`` scenario and its first agreement) with the plant clock set
to ``--plant-time`` (default 2027-12-31 00:00 UTC, so 8,736 hours × 12 meters
of intervals have ended).  Then, at the same time:

- ``--writers`` clients post hourly meter readings in batches of ``--batch``
  (distinct readings, hour after hour over every meter), each waiting for the
  acknowledgement before sending the next: the operator's meter feed, offered
  at ``--rate`` readings per second (batch n is due at n × batch / rate; its
  latency runs from when it was due, so a service that falls behind is charged
  for the queueing); ``--rate 0`` sends as fast as the service answers;
- ``--pollers`` clients poll ``GET /api/sites/{site}/setpoint`` in turn for
  every mining site with the sites' own tokens, every ``--poll-interval``
  seconds: the mining sites' agents (an active plan for the day is in force).

It stops by itself after ``--readings`` readings or ``--seconds`` seconds,
whichever comes first, then counts what the service stored (API, and the
SQLite file directly after the server is stopped), checks that every
acknowledged reading is there exactly once, and verifies the ledger.

Prints readings per second (acknowledged readings / wall time of the
ingestion), latency percentiles of both request kinds, errors, and whether
the targets hold: ≥ 1,000 readings/s sustained, p99 < 100 ms, nothing lost.
Exits 1 when a target is missed or anything is lost.

    python benchmarks/load_service.py [--rate 1500] [--readings 60000] [--seconds 60]
                                      [--batch 100] [--writers 2] [--pollers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

SERVER = """
import json, sys, time
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn

from gridhash.service.app import create_app
from gridhash.service.config import ServiceConfig

db, ledger, keys, port, start = sys.argv[1:]
base, t0 = datetime.fromisoformat(start), time.monotonic()
config = ServiceConfig(db=db, ledger=Path(ledger), keys=Path(keys),
                       clock=lambda: base + timedelta(seconds=time.monotonic() - t0))
app = create_app(config)
print(json.dumps({"tokens": app.state.service.issued_tokens}), flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


class Server:
    def __init__(self, folder: Path, plant_time: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = folder / "service.sqlite"
        self.args = [sys.executable, "-c", SERVER, f"sqlite:///{self.db}",
                     str(folder / "ledger.sqlite"), str(folder / "keys"), str(self.port),
                     plant_time]
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 120.0) -> dict[str, str]:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(self.proc.stderr.read() if self.proc.stderr else "no output")
        tokens = json.loads(line)["tokens"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return tokens
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the service did not start")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.proc = None


def readings(meters: list[str], start: datetime, count: int) -> list[dict[str, Any]]:
    """``count`` distinct readings, hour after hour over every meter (MWh, realistic sizes)."""
    out = []
    hour = 0
    while len(out) < count:
        stamp = (start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for k, meter in enumerate(meters):
            out.append({"meter": meter, "interval_start": stamp,
                        "value": round(100.0 + (hour * 7919 + k * 104729) % 85000 / 100, 3)})
        hour += 1
    return out[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1500.0,
                        help="offered readings per second (0: as fast as possible)")
    parser.add_argument("--readings", type=int, default=60_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--pollers", type=int, default=2)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--plant-time", default="2027-12-31T00:00:00+00:00")
    parser.add_argument("--keep", type=Path, help="keep the database and ledger in this folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="gridhash-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    server = Server(folder, args.plant_time)
    try:
        tokens = server.start()
        return run(args, server, tokens)
    finally:
        server.stop()
        if args.keep is None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, server: Server, tokens: dict[str, str]) -> int:
    op = {"Authorization": f"Bearer {tokens['znpp-operator']}"}
    with httpx.Client(base_url=server.url, headers=op, timeout=60) as c:
        meters = c.get("/api/meters").json()["known_meters"]
        sites = c.get("/api/sites").json()
        plant_day = datetime.fromisoformat(args.plant_time).date().isoformat()
        t = time.perf_counter()
        plan = c.post("/api/plans", json={"day": plant_day}).json()
        plan_s = time.perf_counter() - t
    for owner in ("rosatom", "us-partner"):
        httpx.post(f"{server.url}/api/plans/{plan['id']}/approve", timeout=60,
                   headers={"Authorization": f"Bearer {tokens[owner]}"}).raise_for_status()

    todo = readings(meters, datetime(2027, 1, 1, tzinfo=UTC), args.readings)
    chunks = [todo[i:i + args.batch] for i in range(0, len(todo), args.batch)]
    cursor = iter(range(len(chunks)))
    lock = threading.Lock()
    stop = threading.Event()
    ingest_lat: list[float] = []
    poll_lat: list[float] = []
    acked: list[int] = []
    errors: list[str] = []
    polls_nonzero = [0]

    def writer() -> None:
        with httpx.Client(base_url=server.url, headers=op, timeout=60) as client:
            for i in cursor:
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                if args.rate > 0:
                    due = t_start + i * args.batch / args.rate
                    if due > t0:
                        time.sleep(due - t0)
                    t0 = due
                r = client.post("/api/meters/readings", json={"readings": chunks[i]})
                dt = time.perf_counter() - t0
                with lock:
                    ingest_lat.append(dt)
                    if r.status_code == 200 and r.json()["stored"] == len(chunks[i]):
                        acked.append(i)
                    else:
                        errors.append(f"batch {i}: {r.status_code} {r.text[:200]}")

    def poller(n: int) -> None:
        site_tokens = {s: {"Authorization": f"Bearer {tokens[f'site:{s}']}"} for s in sites}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            k = n
            while not stop.is_set():
                site = sites[k % len(sites)]
                k += 1
                t0 = time.perf_counter()
                r = client.get(f"/api/sites/{site}/setpoint", headers=site_tokens[site])
                dt = time.perf_counter() - t0
                with lock:
                    poll_lat.append(dt)
                    if r.status_code != 200:
                        errors.append(f"setpoint {site}: {r.status_code} {r.text[:200]}")
                    elif r.json()["mw_cap"] > 0:
                        polls_nonzero[0] += 1
                stop.wait(args.poll_interval)

    writers = [threading.Thread(target=writer, daemon=True) for _ in range(args.writers)]
    pollers = [threading.Thread(target=poller, args=(n,), daemon=True)
               for n in range(args.pollers)]
    t_start = time.perf_counter() + 0.05
    for th in pollers + writers:
        th.start()
    deadline = t_start + args.seconds
    for th in writers:
        th.join(timeout=max(0.0, deadline - time.perf_counter()))
    stop.set()
    for th in writers + pollers:
        th.join(timeout=60)
    wall = time.perf_counter() - t_start

    acked_readings = sum(len(chunks[i]) for i in acked)
    with httpx.Client(base_url=server.url, headers=op, timeout=300) as c:
        stored_api = c.get("/api/meters").json()["readings"]
        t = time.perf_counter()
        verify = c.get("/api/ledger/verify").json()
        verify_s = time.perf_counter() - t
        ledger = c.get("/api/ledger").json()
    server.stop()
    conn = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
    try:
        stored_db = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        distinct = conn.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT meter, interval_start FROM readings)"
        ).fetchone()[0]
        expected = {(r["meter"], r["interval_start"].replace("T", " ").removesuffix("Z")
                     + ".000000", r["value"]) for i in acked for r in chunks[i]}
        present = {(m, t, v) for m, t, v in conn.execute(
            "SELECT meter, interval_start, value FROM readings")}
    finally:
        conn.close()
    lost = len(expected - present)
    rate = acked_readings / wall
    p99_ingest = percentile(ingest_lat, 99) * 1000
    p99_poll = percentile(poll_lat, 99) * 1000
    figures = {
        "machine": {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                    "cpus": os.cpu_count()},
        "setup": {"offered_readings_per_s": args.rate or None, "batch": args.batch,
                  "writers": args.writers, "pollers": args.pollers,
                  "poll_interval_s": args.poll_interval, "meters": len(meters),
                  "sites": len(sites), "plan_seconds": round(plan_s, 2)},
        "wall_s": round(wall, 2),
        "readings_acknowledged": acked_readings,
        "readings_per_s": round(rate, 1),
        "ingest_requests": len(ingest_lat),
        "ingest_ms": {"p50": round(percentile(ingest_lat, 50) * 1000, 1),
                      "p95": round(percentile(ingest_lat, 95) * 1000, 1),
                      "p99": round(p99_ingest, 1),
                      "max": round(max(ingest_lat, default=0) * 1000, 1),
                      "mean": round(statistics.fmean(ingest_lat) * 1000, 1) if ingest_lat
                      else None},
        "setpoint_polls": len(poll_lat),
        "setpoint_polls_per_s": round(len(poll_lat) / wall, 1),
        "setpoint_polls_nonzero": polls_nonzero[0],
        "setpoint_ms": {"p50": round(percentile(poll_lat, 50) * 1000, 1),
                        "p95": round(percentile(poll_lat, 95) * 1000, 1),
                        "p99": round(p99_poll, 1),
                        "max": round(max(poll_lat, default=0) * 1000, 1)},
        "errors": len(errors),
        "stored": {"api": stored_api, "sqlite": stored_db, "distinct": distinct,
                   "acknowledged_missing": lost},
        "ledger": {"entries": ledger["size"], "verify_ok": verify["ok"],
                   "verify_s": round(verify_s, 2)},
    }
    ok_rate = rate >= 1000
    ok_p99 = p99_ingest < 100 and p99_poll < 100
    ok_kept = lost == 0 and stored_db == distinct == acked_readings == stored_api
    figures["targets"] = {"readings_per_s>=1000": ok_rate, "p99<100ms": ok_p99,
                          "nothing_lost": ok_kept, "ledger_verifies": verify["ok"]}
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        m = figures["machine"]
        offered = f"{args.rate:,.0f} readings/s offered" if args.rate else "unthrottled"
        print(f"operations service load, loopback: Python {m['python']}, SQLite {m['sqlite']}, "
              f"{m['cpus']} CPUs; {offered}, batch {args.batch}, {args.writers} writers, "
              f"{args.pollers} pollers every {args.poll_interval * 1000:.0f} ms")
        print(f"ingestion   {acked_readings:>8,} readings in {wall:6.2f} s = {rate:8,.0f} "
              f"readings/s  ({len(ingest_lat):,} requests; p50 "
              f"{figures['ingest_ms']['p50']} ms, p95 {figures['ingest_ms']['p95']} ms, p99 "
              f"{figures['ingest_ms']['p99']} ms, max {figures['ingest_ms']['max']} ms)")
        print(f"setpoints   {len(poll_lat):>8,} polls = {len(poll_lat) / wall:8,.0f} polls/s     "
              f"(p50 {figures['setpoint_ms']['p50']} ms, p95 {figures['setpoint_ms']['p95']} "
              f"ms, p99 {figures['setpoint_ms']['p99']} ms, max "
              f"{figures['setpoint_ms']['max']} ms; {polls_nonzero[0]:,} with a MW cap > 0)")
        print(f"stored      api {stored_api:,}, sqlite {stored_db:,} ({distinct:,} distinct); "
              f"acknowledged but missing: {lost}; errors: {len(errors)}")
        print(f"ledger      {ledger['size']:,} entries, verified {verify['ok']} in "
              f"{verify_s:.2f} s")
        print("targets     " + ", ".join(f"{k}: {'met' if v else 'MISSED'}"
                                         for k, v in figures["targets"].items()))
        for e in errors[:5]:
            print(f"error: {e}")
    return 0 if all(figures["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
