"""Helpers of the browser tests: Debian's Chromium driven by Playwright against the
service on a loopback port (fixtures in :mod:`browser_fixtures`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: ``pytestmark`` of a browser test module.
NEEDS_CHROMIUM = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason="needs Debian's Chromium")


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
