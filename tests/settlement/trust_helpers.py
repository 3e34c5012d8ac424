"""Shared by the trust tests: a five-party agreement and a small scenario settling under it."""

from __future__ import annotations

from typing import Any

from test_settlement import agreement

from conftest import tiny_scenario

PARTIES = ("op", "a", "b", "city", "mon")


def scenario(hours: int = 48, start: str = "2027-01-01T00:00:00Z", name: str = "deal"
             ) -> dict[str, Any]:
    data = tiny_scenario(hours=hours, agreements=[agreement(name=name)])
    data["horizon"]["start"] = start
    return data
