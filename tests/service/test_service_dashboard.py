"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Two owners log in with their tokens, each approves today's plan (the second approval
makes it active); the test checks what each role can and cannot see, that plotly.js
loads from the service itself (the browser has no network), and saves a screenshot of
every page it visits (paths in the assertion messages).
"""

from __future__ import annotations

from typing import Any

from browser_helpers import NEEDS_CHROMIUM, Site, login, shot
from service_helpers import setpoint_of

pytest_plugins = ["browser_fixtures"]
pytestmark = NEEDS_CHROMIUM


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
