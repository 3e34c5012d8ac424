"""The pages an owner and a monitor read, in a real browser (Debian's Chromium, headless,
driven by Playwright, as ``test_service_dashboard.py``): the API docs offline, deciding on
a plan from its own page, an overview that updates itself, statements in USD and BTC,
one clock.  Screenshots of every page visited are saved (paths in the messages).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_helpers import NEEDS_CHROMIUM, Site, login, shot
from service_helpers import setpoint_of

pytest_plugins = ["browser_fixtures"]
pytestmark = NEEDS_CHROMIUM


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


MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
CLOCKS = re.compile(r"\b20\d\d-\d\d-\d\d[ T]\d\d:\d\d")


def one_clock(page: Any, path: str) -> None:
    """The header holds the only clock, in plant time with its offset; no time anywhere
    carries microseconds."""
    header = page.inner_text("header")
    assert len(CLOCKS.findall(header)) == 1 and "plant time" in header, path
    assert "real time" in page.inner_text("#clock-offset"), path
    body = page.inner_text("body")
    assert not MICROSECONDS.search(body), f"microseconds on screen: {path}"
    assert "+00:00" not in body, path


def test_owners_decide_on_the_plan_page_and_the_overview_follows_a_hold(
    browser: Any, site: Site
) -> None:
    from gridhash.service import dashboard

    context, refused = offline_context(browser, site)
    page = context.new_page()

    # The first owner reviews the hourly setpoints and approves on the plan's own page.
    login(page, site, "own-a")
    page.goto(f"{site.url}/ui/plans/1")
    path = shot(page, site, "own-a-plan-1")
    one_clock(page, path)
    assert page.locator("#decide button[name=approve]").count() == 1, path
    assert page.locator("#decide button[name=reject]").count() == 1, path
    assert page.locator("#decide button[name=veto]").count() == 0, f"no veto for owners: {path}"
    rows = page.locator("table tr").all_inner_texts()
    assert any("no restriction" in r for r in rows), f"blank envelope cells: {path}"
    page.fill("#decide input[name=reason]", "setpoints checked")
    page.click("#decide button[name=approve]")
    page.wait_for_url("**/ui/plans/1?msg=*")
    path = shot(page, site, "own-a-plan-1-approved")
    assert "the plan is proposed" in page.inner_text(".flash"), path
    assert "You voted: approve" in page.inner_text("#decide"), path
    assert "own-a: approve (setpoints checked)" in page.inner_text("#decisions"), path

    # The monitor sees a veto button there (and no vote).
    login(page, site, "watch")
    page.goto(f"{site.url}/ui/plans/1")
    path = shot(page, site, "watch-plan-1")
    assert page.locator("#decide button[name=veto]").count() == 1, path
    assert page.locator("#decide button[name=approve]").count() == 0, path

    # The second owner approves there too: the plan is active.
    login(page, site, "own-b")
    page.goto(f"{site.url}/ui/plans/1")
    page.click("#decide button[name=approve]")
    page.wait_for_url("**/ui/plans/1?msg=*")
    path = shot(page, site, "own-b-plan-1-active")
    assert "the plan is active" in page.inner_text(".flash"), path

    # The overview, left open, shows a hold raised elsewhere without a reload.
    page.goto(f"{site.url}/ui")
    page.wait_for_function("window.Plotly !== undefined")
    path = shot(page, site, "own-b-overview-before")
    one_clock(page, path)
    assert "Mining allowed" in page.inner_text("#mining-state"), path
    planned = site.call("GET", "/api/plans/1", "own-b")["plan"]["sites"]["S"]
    assert planned[11] > 0, "the test needs mining planned at 11:00"
    page.evaluate("window.__same_page = true")
    site.call("POST", "/api/safety/holds", "watch", {"reason": "drone strike reported"})
    page.wait_for_function(
        "document.getElementById('mining-state').textContent.includes('Mining stopped')",
        timeout=4_000 + 2_000 * dashboard.OVERVIEW_POLL_S)
    path = shot(page, site, "own-b-overview-after-hold")
    assert page.evaluate("window.__same_page === true"), f"the page reloaded: {path}"
    assert "drone strike reported" in page.inner_text("#blocked-by"), path
    assert "hold #1 raised 2027-01-02 10:30:00" in page.inner_text("#cap-note"), path
    # plan vs actual: the cap in force is the plan before the hold and 0 MW from its hour
    cap = page.evaluate("""() => document.getElementById('chart-today').data
                          .find(t => t.name === 'S cap in force').y""")
    assert cap[:10] == pytest.approx(planned[:10]), path
    assert cap[10:] == [0.0] * 14, path
    sp = setpoint_of(site.call("GET", "/api/sites/S/setpoint", "own-b"))
    assert sp["mw_cap"] == 0.0

    # Statements in USD and BTC, the integer cents and satoshis beside them.
    page.goto(f"{site.url}/ui/statements")
    path = shot(page, site, "own-b-statements")
    one_clock(page, path)
    assert "net cash position" in page.inner_text("#owed-note"), path
    st = site.call("GET", "/api/statements/0/parties/own-b", "own-b")["statement"]
    row = page.locator("tr.statement").first
    owed = row.locator("td.owed").inner_text()
    cents = st["usd_owed_cents"]
    sign = "−" if cents < 0 else ""
    assert f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}" in owed, path
    assert f"{cents:,} ¢" in owed, path
    sats = st["btc_sats"]
    btc = row.locator("td.btc").inner_text()
    assert f"{sats // 100_000_000}.{sats % 100_000_000:08d}" in btc, path
    assert f"{sats:,} sat" in btc, path

    # The safety page and the ledger: the same clock, no microseconds.
    for name, url in (("safety", "/ui/safety"), ("ledger", "/ui/ledger")):
        page.goto(f"{site.url}{url}")
        one_clock(page, shot(page, site, f"own-b-{name}"))
    assert refused == [], f"the dashboard asked for {refused}"
    context.close()
