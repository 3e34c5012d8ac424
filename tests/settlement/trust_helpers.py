"""Shared by the trust tests: a five-party agreement and a small scenario settling under it."""

from __future__ import annotations

from typing import Any

from conftest import tiny_scenario

PARTIES = ("op", "a", "b", "city", "mon")


def agreement(name: str = "deal") -> dict[str, Any]:
    return {
        "name": name,
        "entitlements": {"a": 0.5, "b": 0.5},
        "parties": [
            {"id": "op", "name": "Operator", "role": "operator"},
            {"id": "a", "name": "Owner A", "role": "owner"},
            {"id": "b", "name": "Owner B", "role": "owner"},
            {"id": "city", "name": "City utility", "role": "offtaker"},
            {"id": "mon", "name": "Monitor", "role": "monitor"},
        ],
        "obligations": [],
        "prices": [{"offtake": "city", "payer": "city"}],
        "mining": {"owners": {"a": 0.3, "b": 0.7}, "energy_price_usd_per_mwh": 20.0},
        "costs": {"fixed_om_usd_per_year": 1_000_000.0},
        "approval": {"role": "owner", "required": 2, "vetoes": ["mon"]},
    }


def scenario(hours: int = 48, start: str = "2027-01-01T00:00:00Z", name: str = "deal"
             ) -> dict[str, Any]:
    data = tiny_scenario(hours=hours, agreements=[agreement(name)])
    data["horizon"]["start"] = start
    return data
