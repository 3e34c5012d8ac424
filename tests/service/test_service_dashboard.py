"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Two owners log in with their tokens, each approves today's plan (the second approval
makes it active); the test checks what each role can and cannot see, that plotly.js
loads from the service itself (the browser has no network), and saves a screenshot of
every page it visits (paths in the assertion messages).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_helpers import Clock, LiveServer, readings_for, service_scenario, setpoint_of

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's Chromium")


class Site:
    def __init__(self, url: str, tokens: dict[str, str], shots: Path) -> None:
        self.url = url
        self.tokens = tokens
        self.shots = shots
        self.api = httpx.Client(base_url=url, timeout=30)

    def call(self, method: str, path: str, who: str, json: Any = None) -> Any:
        r = self.api.request(method, path, json=json,
                             headers={"Authorization": f"Bearer {self.tokens[who]}"})
        assert r.status_code < 300, r.text
        return r.json()


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


def login(page: Any, site: Site, who: str) -> Any:
    """Log in through the form (logging out whoever was in); lands on the overview."""
    if page.locator("#who").count():
        page.click("#who button")
        page.wait_for_url(f"{site.url}/ui/login")
    page.goto(f"{site.url}/ui")
    assert page.url.endswith("/ui/login")
    page.fill("#token", site.tokens[who])
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/ui")
    assert who in page.inner_text("#who")
    return page


def shot(page: Any, site: Site, name: str) -> str:
    path = site.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, f"empty screenshot {path}"
    return str(path)


def test_two_owners_approve_a_plan_and_see_only_their_own(browser: Any, site: Site) -> None:
    # One browser (one HTTP cache, so plotly.js is compiled once), one party at a time:
    # each logs in through the form and out with the button.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    # A bad token stays on the login page with a message.
    page.goto(f"{site.url}/ui/login")
    page.fill("#token", "gh_wrong")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("#login-error"), shot(page, site, "login-refused")

    # First owner: the plan waits for them; approving leaves it proposed (1 of 2).
    login(page, site, "own-a")
    path = shot(page, site, "own-a-overview")
    assert "own-a" in page.inner_text("#who"), path
    assert "#1" in page.inner_text("#approvals-waiting"), path
    page.wait_for_function("window.Plotly !== undefined", timeout=20_000)
    assert page.locator("#chart-today .main-svg").count() > 0, f"no chart drawn: {path}"
    page.goto(f"{site.url}/ui/plans")
    path = shot(page, site, "own-a-plans-before")
    assert page.locator("#propose").count() == 0, f"an owner must not see 'propose': {path}"
    assert page.locator("#plans button.danger").count() == 0, f"no veto for an owner: {path}"
    page.click("#plan-1 button[name=approve]")
    page.wait_for_url("**/ui/plans?msg=*")
    path = shot(page, site, "own-a-plans-after")
    assert "the plan is proposed" in page.inner_text(".flash"), path
    assert "you: approve" in page.inner_text("#plan-1"), path
    page.goto(f"{site.url}/ui/statements")
    path = shot(page, site, "own-a-statements")
    rows = page.locator("tr.statement")
    assert rows.count() == 1 and rows.get_attribute("data-party") == "own-a", path
    page.goto(f"{site.url}/ui/safety")
    path = shot(page, site, "own-a-safety")
    assert page.locator("#raise-hold").count() == 0, f"only the monitor raises holds: {path}"
    assert "Mining allowed" in page.inner_text("#mining-state"), path

    # Second owner: approving makes the plan active; the overview shows it.
    login(page, site, "own-b")
    page.goto(f"{site.url}/ui/plans")
    page.click("#plan-1 button[name=approve]")
    page.wait_for_url("**/ui/plans?msg=*")
    path = shot(page, site, "own-b-plans")
    assert "the plan is active" in page.inner_text(".flash"), path
    assert "active" in page.inner_text("#plan-1 .badge"), path
    page.goto(f"{site.url}/ui")
    path = shot(page, site, "own-b-overview")
    assert "active" in page.inner_text("#plan-vs-actual"), path
    assert "Nothing waiting" in page.inner_text("#approvals-waiting"), path
    page.goto(f"{site.url}/ui/statements")
    path = shot(page, site, "own-b-statements")
    assert [r.get_attribute("data-party") for r in page.locator("tr.statement").all()] == [
        "own-b"], path
    page.goto(f"{site.url}/ui/plans/1")
    path = shot(page, site, "own-b-plan-1")
    page.wait_for_function("window.Plotly !== undefined")
    assert page.locator("#chart-plan .main-svg").count() > 0, path
    assert setpoint_of(site.call("GET", "/api/sites/S/setpoint", "own-b"))["plan_id"] == 1

    # The monitor sees safety and holds, not statements; raising a hold stops mining.
    login(page, site, "watch")
    path = shot(page, site, "watch-overview")
    assert page.locator("nav a", has_text="Statements").count() == 0, path
    resp = page.goto(f"{site.url}/ui/statements")
    path = shot(page, site, "watch-statements-403")
    assert resp is not None and resp.status == 403, path
    assert "Not allowed" in page.inner_text("#error"), path
    page.goto(f"{site.url}/ui/safety")
    page.fill("#raise-hold input[name=reason]", "strike reported near the site")
    page.click("#raise-hold button")
    page.wait_for_url("**/ui/safety?msg=*")
    path = shot(page, site, "watch-safety-hold")
    assert "Mining stopped" in page.inner_text("#mining-state"), path
    assert setpoint_of(site.call("GET", "/api/sites/S/setpoint", "watch"))["mw_cap"] == 0.0

    # The auditor reads everything and has no buttons.
    login(page, site, "audit")
    page.goto(f"{site.url}/ui/statements")
    path = shot(page, site, "audit-statements")
    assert page.locator("tr.statement").count() == 6, path
    page.goto(f"{site.url}/ui/plans")
    path = shot(page, site, "audit-plans")
    assert page.locator("#plans button").count() == 0, path
    page.goto(f"{site.url}/ui/ledger?verify=1")
    path = shot(page, site, "audit-ledger")
    assert "Verified" in page.inner_text("#verify-result"), path
    login(page, site, "own-a")  # the first owner again: still only its own statement
    page.goto(f"{site.url}/ui/statements")
    path = shot(page, site, "own-a-statements-again")
    assert page.locator("tr.statement").count() == 1, path
    context.close()
