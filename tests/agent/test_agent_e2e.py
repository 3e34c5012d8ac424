"""End to end on loopback: ``gridhash serve --demo`` + ``gridhash agent`` + 20 fake miners
(16 LuxOS, 4 Avalon) driven by the real pyasic, through a tampering proxy.

No active plan → all asleep; the owners approve today's plan → awake within the cap;
the monitor raises a hold → all asleep within one poll interval (and a machine that
ignores the sleep is reported); a forged or re-signed setpoint → ignored, asleep,
reported; the service stopped → all asleep once ``valid_until`` passes.  Every
process and server is started here and stopped here, with timeouts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_miners import FakeFleet, FakeMiner, loopback_block

from gridhash.ledger.canonical import canonical_json
from gridhash.ledger.signing import PartyKey

SITE = "north-hall"
POLL_S = 2.0
TTL_S = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gridhash(*args: str, **kw: Any) -> subprocess.Popen[str]:
    code = "import sys; from gridhash.cli import main; sys.argv[0] = 'gridhash'; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, **kw)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    return out or ""


class Reader(threading.Thread):
    """Collects a process's output lines (so its pipe never fills)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        super().__init__(daemon=True)
        self.proc, self.lines = proc, []

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.25) -> float:
    """Seconds until ``check()`` is truthy; fails after ``timeout``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for: {what}")


class Proxy:
    """A loopback HTTP proxy to the service that can forge or re-sign setpoints."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.mode = upstream, "pass"
        self.attacker = PartyKey("attacker", Ed25519PrivateKey.generate())
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "content-type")}
                try:
                    r = httpx.request(method, proxy.upstream + self.path, headers=headers,
                                      content=body, timeout=5)
                except httpx.HTTPError:
                    self.send_response(502)
                    self.end_headers()
                    return
                content = r.content
                if method == "GET" and self.path.endswith("/setpoint") and r.status_code == 200:
                    content = proxy.tamper(r.json())
                self.send_response(r.status_code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def tamper(self, body: dict[str, Any]) -> bytes:
        if self.mode == "forge":  # a bigger cap, the service's signature kept
            body = {**body, "mw_cap": body["mw_cap"] + 100.0, "hold": False}
        elif self.mode == "resign":  # a bigger cap signed by another key, that key attached
            fields = {k: v for k, v in body.items() if k not in ("signature", "service_key")}
            fields.update(mw_cap=fields["mw_cap"] + 100.0, hold=False, hold_ids=[])
            sig = self.attacker.sign(b"gridhash-setpoint v1\n" + canonical_json(fields))
            body = {**fields, "signature": sig.hex(),
                    "service_key": self.attacker.public.raw.hex()}
        return json.dumps(body).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fleet() -> Iterator[FakeFleet]:
    block = loopback_block()
    miners = [FakeMiner(f"{block}.{i + 10}", firmware="avalon" if i >= 16 else "luxos")
              for i in range(20)]
    f = FakeFleet(miners)
    try:
        yield f
    finally:
        f.close()


def test_agent_follows_plan_hold_tampering_and_a_lost_service(tmp_path: Path,
                                                              fleet: FakeFleet) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = gridhash("serve", "--demo", "--port", str(port), "--db",
                       f"sqlite:///{tmp_path / 'ops.sqlite'}", "--setpoint-ttl-s", str(TTL_S),
                       cwd=tmp_path)
    svc_out = Reader(service)
    svc_out.start()
    agent = proxy = None
    try:
        wait_for("the service to answer", lambda: _up(base), timeout=240, every=1)
        tokens = dict(re.findall(r"^\s+(\S+)\s+(?:\S+(?: agent)?)\s+(gh_\S+)$",
                                 svc_out.text(), re.M))
        roles = {p["id"]: p["role"] for p in httpx.get(
            f"{base}/api/parties", headers=_auth(tokens, "operator", tokens)).json()}
        op = next(p for p, r in roles.items() if r == "operator")
        owners = [p for p, r in roles.items() if r == "owner"]
        monitor = next(p for p, r in roles.items() if r == "monitor")
        key = httpx.get(f"{base}/api/ledger", headers=_h(tokens[op])).json()["service_key"]
        offset = httpx.get(f"{base}/api/agreement",
                           headers=_h(tokens[op])).json()["clock_offset_days"]
        (tmp_path / "site.token").write_text(tokens[f"site:{SITE}"] + "\n")
        (tmp_path / "miners.toml").write_text("cooling_overhead = 0.05\n" + "".join(
            f'[[miners]]\nhost = "{m.host}"\n' for m in fleet.miners))
        proxy = Proxy(base)
        agent = gridhash("agent", "--service", proxy.url, "--site", SITE, "--token-file",
                         str(tmp_path / "site.token"), "--service-key", key, "--miners",
                         str(tmp_path / "miners.toml"), "--poll-s", str(POLL_S),
                         "--report-s", "5", "--clock-offset-days", str(offset), cwd=tmp_path)
        log = Reader(agent)
        log.start()
        asleep = lambda: all(not m.mining for m in fleet.miners)  # noqa: E731

        # 1. no active plan for today: every machine asleep
        sp = httpx.get(f"{base}/api/sites/{SITE}/setpoint", headers=_h(tokens[op])).json()
        assert sp["mw_cap"] == 0 and "no active plan" in sp["reason"], sp
        wait_for("all asleep without a plan", asleep, timeout=60)

        # 2. the owners approve today's plan: awake within its cap
        today = sp["issued_at"][:10]
        plan = next(p for p in httpx.get(f"{base}/api/plans", params={"day": today},
                                         headers=_h(tokens[op])).json()
                    if p["status"] == "proposed")
        for o in owners:
            r = httpx.post(f"{base}/api/plans/{plan['id']}/approve", headers=_h(tokens[o]),
                           json={"reason": "e2e"})
            assert r.status_code == 200, r.text
        cap = httpx.get(f"{base}/api/sites/{SITE}/setpoint",
                        headers=_h(tokens[op])).json()["mw_cap"]
        assert cap > 0.1, f"today's plan gives {SITE} {cap} MW this hour"
        wait_for("all awake under an active plan", lambda: all(m.mining for m in fleet.miners),
                 timeout=60)
        drawn = sum(m.watts() for m in fleet.miners) * 1.05 / 1e6
        assert drawn <= cap
        wait_for("a telemetry report with 20 awake", lambda: _telemetry(base, tokens[op], 20),
                 timeout=30)

        # 3. the monitor raises a hold: all asleep within one poll interval; one disobeys
        fleet.miners[0].disobey = True
        t0 = time.monotonic()
        r = httpx.post(f"{base}/api/safety/holds", headers=_h(tokens[monitor]),
                       json={"reason": "e2e hold"})
        assert r.status_code == 201, r.text
        took = wait_for("all obedient machines asleep after the hold",
                        lambda: all(not m.mining for m in fleet.miners[1:]), timeout=30,
                        every=0.1)
        # within one poll interval of the hold, plus the time to send 20 commands
        assert time.monotonic() - t0 <= POLL_S + 3.0, took
        wait_for("the disobeying machine reported", lambda: "disobeying" in log.text()
                 and _telemetry(base, tokens[op], None, disobeying=1), timeout=30)
        fleet.miners[0].disobey = False
        hold_id = r.json()["id"]
        r = httpx.post(f"{base}/api/safety/holds/{hold_id}/lift", headers=_h(tokens[monitor]),
                       json={"reason": "e2e over"})
        assert r.status_code == 200, r.text
        wait_for("awake again after the hold is lifted",
                 lambda: all(m.mining for m in fleet.miners), timeout=60)

        # 4. a forged setpoint, then one re-signed with another key: ignored, asleep, reported
        for mode in ("forge", "resign"):
            proxy.mode = mode
            wait_for(f"all asleep on a {mode}d setpoint", asleep, timeout=30)
            assert "REJECTED (bad_signature)" in log.text()
            proxy.mode = "pass"
            wait_for(f"awake again after the {mode}", lambda: all(m.mining for m in
                                                                   fleet.miners), timeout=60)
        rejected = httpx.get(f"{base}/api/sites/{SITE}/telemetry",
                             headers=_h(tokens[op])).json()
        assert any(t["report"]["rejected_setpoints"] > 0 for t in rejected)

        # 5. the service stops: every machine asleep once valid_until has passed
        stop(service, signal.SIGKILL)
        t_stop = time.monotonic()
        wait_for("all asleep after the service is gone", asleep, timeout=TTL_S + 30)
        assert time.monotonic() - t_stop <= TTL_S + POLL_S + 5
        assert "service unreachable" in log.text()
        assert "FAIL-SAFE" in log.text()
        # one line per change, not per poll: far fewer lines than polls x machines
        assert len(log.lines) < 20 * 20, log.text()[-3000:]
    finally:
        if agent is not None:
            stop(agent)
        if proxy is not None:
            proxy.close()
        stop(service)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _auth(tokens: dict[str, str], role: str, _: Any) -> dict[str, str]:
    # any party token reads the parties; the first printed is the operator's in the demo
    return _h(next(t for p, t in tokens.items() if not p.startswith("site:")))


def _telemetry(base: str, token: str, awake: int | None, disobeying: int = 0) -> bool:
    rows = httpx.get(f"{base}/api/sites/{SITE}/telemetry", headers=_h(token)).json()
    if not rows:
        return False
    m = rows[0]["machines"]
    return (awake is None or m["awake"] == awake) and m["disobeying"] >= disobeying
