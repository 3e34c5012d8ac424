"""The pages an owner and a monitor read, in a real browser (Debian's Chromium, headless,
driven by Playwright, as ``test_service_dashboard.py``): the API docs offline, deciding on
a plan from its own page, an overview that updates itself, statements in USD and BTC,
one clock.  Screenshots of every page visited are saved (paths in the messages).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_helpers import Clock, LiveServer, readings_for, service_scenario
from test_service_dashboard import CHROMIUM, FLAGS, Site, shot

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's Chromium")


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


def offline_context(browser: Any, site: Site) -> tuple[Any, list[str]]:
    """A browser context that reaches only the service: every other request is refused
    (an air-gapped plant network) and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    refused: list[str] = []

    def gate(route: Any) -> None:
        url = route.request.url
        if url.startswith(site.url) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", gate)
    return context, refused


def test_api_docs_render_without_a_network(browser: Any, site: Site) -> None:
    context, refused = offline_context(browser, site)
    page = context.new_page()
    page.goto(f"{site.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    path = shot(page, site, "docs")
    assert "gridhash operations service" in page.inner_text(".swagger-ui .info"), path
    assert page.locator(".opblock").count() > 10, f"no operations listed: {path}"
    page.get_by_text("/api/health").first.click()  # an operation opens: the UI works
    page.wait_for_selector(".opblock.is-open", timeout=10_000)
    assert refused == [], f"the docs asked for {refused}"
    context.close()
