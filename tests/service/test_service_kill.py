"""A real uvicorn server process killed with SIGKILL in the middle of meter ingestion,
then restarted: every acknowledged reading is there, exactly once; a batch in flight
is all there or not at all; re-sending it stores nothing twice; the ledger verifies and
holds every stored reading exactly once.  Also: ``serve`` as a process prints the
tokens, answers on loopback and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from service_helpers import free_port, scenario_data

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")

SERVER = """
import json, sys, time
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn

from gridhash.service.app import create_app
from gridhash.service.config import ServiceConfig

db, ledger, keys, scenario, port, start = sys.argv[1:]
base, t0 = datetime.fromisoformat(start), time.monotonic()
config = ServiceConfig(db=db, ledger=Path(ledger), keys=Path(keys), scenario=scenario,
                       clock=lambda: base + timedelta(seconds=time.monotonic() - t0))
app = create_app(config)
print(json.dumps({"tokens": app.state.service.issued_tokens}), flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""
PLANT_TIME = "2027-06-01T00:00:00+00:00"  # 3,624 hours of the horizon have ended
BATCH = 150


class Server:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        scenario = folder / "plant.toml"
        if not scenario.exists():
            scenario.write_bytes(tomli_w.dumps(scenario_data(hours=8760)).encode())
        self.args = [sys.executable, "-c", SERVER, f"sqlite:///{folder / 'svc.sqlite'}",
                     str(folder / "ledger.sqlite"), str(folder / "keys"), str(scenario),
                     str(self.port), PLANT_TIME]
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> dict[str, str]:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the tokens, printed before uvicorn starts
        assert line, self.proc.stderr.read() if self.proc.stderr else "no output"
        tokens = json.loads(line)["tokens"]
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return tokens
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.05)

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
            self.proc = None


@contextmanager
def server(folder: Path) -> Iterator[Server]:
    s = Server(folder)
    try:
        yield s
    finally:
        s.close()


def batches(meters: list[str], count: int) -> list[list[dict[str, Any]]]:
    """``count`` batches of distinct readings, hour by hour over every meter."""
    flat = [{"meter": m, "interval_start": f"2027-01-{1 + h // 24:02d}T{h % 24:02d}:00:00Z",
             "value": round(100.0 + h + k / 10, 3)}
            for h in range(24 * 31) for k, m in enumerate(meters)]
    return [flat[i * BATCH:(i + 1) * BATCH] for i in range(count)]


def test_sigkill_during_ingestion_loses_no_acknowledged_reading(tmp_path: Path) -> None:
    with server(tmp_path) as srv:
        tokens = srv.start()
        op = {"Authorization": f"Bearer {tokens['op']}"}
        meters = httpx.get(f"{srv.url}/api/meters", headers=op).json()["known_meters"]
        todo = batches(meters, 40)
        acked: dict[int, dict[str, Any]] = {}
        unknown: set[int] = set()
        lock = threading.Lock()
        cursor = iter(range(len(todo)))

        def writer() -> None:
            with httpx.Client(base_url=srv.url, headers=op, timeout=30) as client:
                for i in cursor:
                    try:
                        r = client.post("/api/meters/readings", json={"readings": todo[i]})
                    except httpx.TransportError:
                        with lock:
                            unknown.add(i)
                        return
                    with lock:
                        if r.status_code == 200:
                            acked[i] = r.json()
                        else:
                            unknown.add(i)

        threads = [threading.Thread(target=writer, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 12:
            assert time.monotonic() < deadline, f"too slow: {len(acked)} batches acknowledged"
            time.sleep(0.005)
        assert srv.kill() == -signal.SIGKILL
        for t in threads:
            t.join(timeout=30)
        with lock:
            acked_now, in_flight = dict(acked), set(unknown)
        assert all(a["stored"] == BATCH for a in acked_now.values())
        sent = set(acked_now) | in_flight
        assert in_flight, "the kill should catch at least one request in flight"

        srv.start()  # same database and ledger: recovery runs at start-up
        stored = {}
        after = 0
        while after is not None:
            page = httpx.get(f"{srv.url}/api/meters/readings", headers=op,
                             params={"after": after, "limit": 10_000}).json()
            for r in page["readings"]:
                key = (r["meter"], r["interval_start"])
                assert key not in stored, f"duplicated reading {key}"
                stored[key] = r["value"]
            after = page["next"]
        for i in acked_now:
            for r in todo[i]:
                assert stored.get((r["meter"], r["interval_start"])) == r["value"], (i, r)
        complete = []
        for i in in_flight:  # all of a batch or none of it
            present = [(r["meter"], r["interval_start"]) in stored for r in todo[i]]
            assert all(present) or not any(present), f"batch {i} partly stored"
            complete.append(all(present))
        assert len(stored) == BATCH * (len(acked_now) + sum(complete))
        # Re-sending what was in flight stores the missing batches once, the rest not again.
        for i, done in zip(in_flight, complete, strict=True):
            r = httpx.post(f"{srv.url}/api/meters/readings", headers=op,
                           json={"readings": todo[i]}, timeout=30).json()
            assert r["stored"] == (0 if done else BATCH) and r["duplicates"] == (
                BATCH if done else 0)
        summary = httpx.get(f"{srv.url}/api/meters", headers=op).json()
        assert summary["readings"] == BATCH * len(sent)
        # The ledger holds each stored reading exactly once, and verifies.
        entries: list[dict[str, Any]] = []
        while len(entries) < httpx.get(f"{srv.url}/api/ledger", headers=op).json()["size"]:
            entries += httpx.get(f"{srv.url}/api/ledger/entries", headers=op,
                                 params={"start": len(entries), "limit": 1000}).json()
        on_ledger = [tuple(r[:2]) for e in entries if e["kind"] == "meter_batch"
                     for r in e["payload"]["readings"]]
        assert len(on_ledger) == len(set(on_ledger)) == BATCH * len(sent)
        report = httpx.get(f"{srv.url}/api/ledger/verify", headers=op, timeout=60).json()
        assert report["ok"], report
        # SIGTERM stops uvicorn gracefully (it then re-raises the signal): the service
        # closes the ledger with every entry under a signed head, as one file.
        assert srv.kill(signal.SIGTERM) in (0, -signal.SIGTERM)
        from gridhash.ledger.store import Ledger

        with Ledger.open(tmp_path / "ledger.sqlite", readonly=True) as ledger:
            head = ledger.head()
            assert head is not None and head.size == ledger.size == len(entries)
        assert not (tmp_path / "ledger.sqlite-wal").exists()


def test_serve_prints_tokens_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    code = ("from gridhash.service.cli import serve; "
            f"serve('127.0.0.1', {port}, 'sqlite:///{tmp_path / 'demo.sqlite'}', True)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            cwd=tmp_path)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while not any(line.startswith("dashboard:") for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            assert time.monotonic() < deadline, "".join(lines)
        text = "".join(lines)
        tokens = dict(line.split()[0::2] for line in lines
                      if line.startswith("  ") and " gh_" in line)
        assert {"znpp-operator", "rosatom", "us-partner", "iaea", "auditor"} <= set(tokens), text
        assert "plan 1 for" in text and "statements for period" in text, text
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                me = httpx.get(f"{url}/api/me", timeout=2,
                               headers={"Authorization": f"Bearer {tokens['iaea']}"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, text
                time.sleep(0.1)
        assert me.json()["role"] == "monitor"
        assert httpx.get(f"{url}/static/plotly.min.js").headers["content-type"].startswith(
            "text/javascript")
        assert (tmp_path / "demo.ledger.sqlite").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean stop
