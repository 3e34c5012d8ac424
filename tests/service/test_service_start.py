"""Starting ``gridhash serve``: a port in use fails before the database is touched.

A second ``gridhash serve --demo`` beside a running one used to issue fresh demo
tokens (rotating the running server's) and only then fail to bind, locking out
everyone using the running server's tokens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import service_scenario
from sqlalchemy import create_engine, text

from gridhash.errors import InputError


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port held by a listening socket (as a running server holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def token_hashes(db: Path) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            return sorted(c.execute(text("select id, token_hash from principals")).all())
    finally:
        engine.dispose()


def test_a_second_demo_start_on_a_busy_port_keeps_the_running_servers_tokens(
    tmp_path: Path, busy_port: int
) -> None:
    from gridhash.service.cli import build, serve

    db = tmp_path / "svc.sqlite"
    url = f"sqlite:///{db}"
    scenario = service_scenario()
    # the running server: its demo start issued tokens
    with open(os.devnull, "w") as out:
        build("127.0.0.1", busy_port, url, True, ledger=tmp_path / "l.sqlite",
              scenario=scenario, agreement="joint", out=out)
    before = token_hashes(db)
    assert before and all(h for _, h in before)
    # the second start, on the same port: refused before anything is issued
    with pytest.raises(InputError, match=rf"cannot listen on 127.0.0.1:{busy_port}") as info:
        serve("127.0.0.1", busy_port, url, True, ledger=tmp_path / "l.sqlite",
              scenario=scenario, agreement="joint")
    assert info.value.field == "--port" and "no token was issued" in str(info.value)
    assert token_hashes(db) == before


def test_serve_on_a_busy_port_exits_2_with_one_line_and_creates_nothing(
    tmp_path: Path, busy_port: int
) -> None:
    db = tmp_path / "never.sqlite"
    res = subprocess.run(
        [sys.executable, "-m", "gridhash.cli", "serve", "--demo", "--port", str(busy_port),
         "--db", f"sqlite:///{db}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert f"cannot listen on 127.0.0.1:{busy_port}" in lines[0]
    assert not db.exists()  # the database was never opened
    assert "token" not in res.stdout  # and no token printed
