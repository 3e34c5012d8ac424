"""Shared pieces of the service tests: a small plant, a throwaway PostgreSQL, a fixed clock.

The fixtures built on these are in ``service_fixtures.py`` (a pytest plugin the
test modules load with ``pytest_plugins``).
"""

from __future__ import annotations

import copy
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gridhash.scenario.load import LoadedScenario, validate

#: Plant time in the tests: day 2 of the horizon, 10:30 UTC.
NOW = datetime(2027, 1, 2, 10, 30, tzinfo=UTC)

PARTIES = {
    "op": "operator",
    "own-a": "owner",
    "own-b": "owner",
    "buyer": "offtaker",
    "watch": "monitor",
    "audit": "auditor",
}
SITES = ("S", "T")


def scenario_data(hours: int = 96) -> dict[str, Any]:
    """A small plant (two units, two offtakes, two mining sites) and an agreement with a
    party of every role: operator, two owners, an offtaker, a monitor and an auditor."""
    return copy.deepcopy({
        "name": "svc-tiny",
        "description": "a small plant for the operations service tests",
        "horizon": {"start": "2027-01-01T00:00:00Z", "hours": hours},
        "plant": {
            "name": "Tiny",
            "house_load_mw": 10.0,
            "units": [
                {"name": "U1", "capacity_mw": 100.0, "min_stable_mw": 40.0,
                 "ramp_up_mw_per_h": 30.0, "ramp_down_mw_per_h": 30.0,
                 "marginal_cost_usd_per_mwh": 8.0},
                {"name": "U2", "capacity_mw": 50.0, "marginal_cost_usd_per_mwh": 30.0},
            ],
        },
        "grid": {
            "offtakes": [
                {"name": "city",
                 "price_usd_per_mwh": {"generator": "profile", "mean": 60.0,
                                       "daily_amplitude": 0.5, "noise": 0.05, "seed": 3},
                 "demand_mw": 80.0, "firm_mw": 20.0},
                {"name": "export", "price_usd_per_mwh": 25.0, "demand_mw": 30.0},
            ],
            "lines": [
                {"name": "L1", "serves": "city", "capacity_mw": 60.0},
                {"name": "L2", "serves": "city", "capacity_mw": 40.0},
                {"name": "L3", "serves": "export", "capacity_mw": 30.0},
            ],
            "import_price_usd_per_mwh": 120.0,
            "unserved_penalty_usd_per_mwh": 3000.0,
        },
        "mining": {
            "sites": [{"name": "S", "capacity_mw": 30.0}, {"name": "T", "capacity_mw": 10.0}],
            "fleet": [
                {"model": "Antminer S21 XP", "count": 4000, "site": "S"},
                {"model": "Antminer S19j Pro", "count": 4000, "site": "S"},
                {"model": "Antminer S21 XP", "count": 2000, "site": "T"},
            ],
            "cooling_overhead": 0.05,
            "pool_fee": 0.02,
            "opex_usd_per_mwh": 5.0,
        },
        "bitcoin": {"price_usd": 90000.0, "difficulty": 1.4e14, "fees_btc_per_block": 0.03,
                    "start_height": 982500},
        "agreements": [{
            "name": "joint",
            "description": "two owners, a paying offtaker, a monitor with a veto",
            "entitlements": {"own-a": 0.5, "own-b": 0.5},
            "parties": [{"id": pid, "name": f"Party {pid}", "role": role}
                        for pid, role in PARTIES.items()],
            "obligations": [{"offtake": "city", "mw": 30.0}],
            "prices": [{"offtake": "city", "price_usd_per_mwh": 70.0, "payer": "buyer"}],
            "mining": {"owners": {"own-a": 0.7, "own-b": 0.3},
                       "energy_price_usd_per_mwh": 30.0},
            "costs": {"fixed_om_usd_per_year": 8_760_000.0},
            "approval": {"role": "owner", "required": 2, "vetoes": ["watch"]},
        }],
    })


def service_scenario(hours: int = 96) -> LoadedScenario:
    return LoadedScenario(validate(scenario_data(hours), source="svc-tiny"), "svc-tiny", None, "")


class Clock:
    """A plant clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.value = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.value

    def set(self, when: datetime) -> None:
        with self._lock:
            self.value = when

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.value += timedelta(**delta)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- #
# PostgreSQL: one throwaway cluster per session
# --------------------------------------------------------------------------- #


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found (install PostgreSQL: apt-get install postgresql)")
    return path


@dataclass
class PgCluster:
    folder: Path
    port: int
    user: str
    run_as: str | None
    counter: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.folder}&port={self.port}"

    def create_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self.counter)}"
        with psycopg.connect(host=str(self.folder), port=self.port, user=self.user,
                             dbname="postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), user=self.run_as, capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=self.folder)

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w",
                  "-t", "30", "stop", timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------- #
# A service in-process
# --------------------------------------------------------------------------- #


@dataclass
class Harness:
    client: Any
    svc: Any
    tokens: dict[str, str]
    clock: Clock
    folder: Path

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(who), **kw)

    def post(self, path: str, who: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(who), json=json, **kw)

    def put(self, path: str, who: str, json: Any = None) -> Any:
        return self.client.put(path, headers=self.h(who), json=json)


def make_harness(db: str, folder: Path, *, demo: bool = False, clock: Clock | None = None,
                 hours: int = 96, scenario: LoadedScenario | None = None,
                 **config_fields: Any) -> Harness:
    from fastapi.testclient import TestClient

    from gridhash.service.app import create_app
    from gridhash.service.config import ServiceConfig

    clock = clock or Clock()
    config = ServiceConfig(db=db, ledger=folder / "ledger.sqlite", keys=folder / "keys",
                           scenario=scenario or service_scenario(hours), agreement="joint",
                           demo=demo,
                           clock=clock, **config_fields)
    app = create_app(config)
    svc = app.state.service
    client = TestClient(app, raise_server_exceptions=False)
    return Harness(client, svc, dict(svc.issued_tokens), clock, folder)


def meter_ids(svc: Any) -> list[str]:
    return sorted(svc.plant.meters)


def readings_for(svc: Any, first: int, stop: int, value: float = 1.0) -> list[dict[str, Any]]:
    """One reading per meter per hour in [first, stop), JSON-ready."""
    plant = svc.plant
    return [{"meter": m, "interval_start": plant.hour_start(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "value": value + t / 100}
            for t in range(first, stop) for m in meter_ids(svc)]


def start_cluster() -> PgCluster:
    """initdb + pg_ctl start in a temporary folder (as user postgres when run as root)."""
    run_as = None
    if os.geteuid() == 0:
        for candidate in ("postgres", "nobody"):
            try:
                pwd.getpwnam(candidate)
            except KeyError:
                continue
            run_as = candidate
            break
    folder = Path(tempfile.mkdtemp(prefix="gridhash-pg-"))
    user = "postgres"
    if run_as is not None:
        info = pwd.getpwnam(run_as)
        os.chown(folder, info.pw_uid, info.pw_gid)
    folder.chmod(0o700)
    cluster = PgCluster(folder, free_port(), user, run_as, itertools.count())
    init = cluster._run(_pg_bin("initdb"), "-D", str(folder / "data"), "-U", user,
                        "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
                        timeout=120)
    if init.returncode != 0:
        init = cluster._run(_pg_bin("initdb"), "-D", str(folder / "data"), "-U", user,
                            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C",
                            timeout=120)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
    options = (f"-k {folder} -p {cluster.port} -c listen_addresses='' -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    start = cluster._run(_pg_bin("pg_ctl"), "-D", str(folder / "data"), "-o", options,
                         "-l", str(folder / "postgres.log"), "-w", "-t", "60", "start",
                         timeout=90)
    if start.returncode != 0:
        log = (folder / "postgres.log").read_text() if (folder / "postgres.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {start.stderr or start.stdout}\n{log}")
    return cluster


class LiveServer:
    """A real uvicorn server for an app, on a free loopback port, in a thread.

    Stops by itself when the ``with`` block ends (``should_exit``, bounded join).
    """

    def __init__(self, app: Any, timeout: float = 30.0) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.timeout = timeout

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=self.timeout)


def setpoint_of(response: Any) -> dict[str, Any]:
    """The setpoint inside a GET /api/sites/{site}/setpoint answer, its signature checked
    over the exact payload bytes with plain ``cryptography`` (no gridhash serialiser)."""
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    envelope = response.json() if hasattr(response, "json") else response
    assert response.status_code == 200 if hasattr(response, "status_code") else True, envelope
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(envelope["key"])).verify(
        bytes.fromhex(envelope["signature"]), envelope["payload"].encode("utf-8"))
    return json.loads(envelope["payload"])
