"""Fixtures of the browser tests (a pytest plugin: ``pytest_plugins = ["browser_fixtures"]``).

Debian's Chromium, headless, driven by Playwright, against the service on a loopback
port (``test_service_dashboard.py``, ``test_service_pages.py``; helpers in
:mod:`browser_helpers`).  ``site`` is a fresh service with a day of meter readings, a
statement and tomorrow's plan; ``browser`` is one Chromium per test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import CHROMIUM, FLAGS, Site
from service_helpers import Clock, LiveServer, readings_for, service_scenario


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    from gridhash.service.app import create_app
    from gridhash.service.config import ServiceConfig

    config = ServiceConfig(db=f"sqlite:///{tmp_path / 'ui.sqlite'}", ledger=tmp_path / "l.sqlite",
                           keys=tmp_path / "keys", scenario=service_scenario(), agreement="joint",
                           clock=Clock())
    app = create_app(config)
    tokens = dict(app.state.service.issued_tokens)
    with LiveServer(app) as server:
        s = Site(server.url, tokens, tmp_path / "screenshots")
        s.shots.mkdir()
        s.call("POST", "/api/meters/readings", "op", {"readings": readings_for(
            app.state.service, 0, 34)})
        s.call("POST", "/api/statements", "op", {"period": 0})
        s.call("POST", "/api/plans", "op", {"day": "2027-01-02"})
        yield s
        s.api.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True,
                              timeout=60_000)
        try:
            yield b
        finally:
            b.close()
