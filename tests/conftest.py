"""Shared fixtures: small scenarios built in code, so each test states what it needs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

#: Test folders whose every test is ``slow`` (the service starts servers and
#: databases; the oracle solves with PyPSA; the agent and the feeds start loopback
#: stand-ins for miners, a Bitcoin node and market APIs).  Single slow tests
#: elsewhere carry ``@pytest.mark.slow`` themselves.
SLOW_FOLDERS = ("service", "oracle", "agent", "feeds")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m "not slow"``, do not even import the slow folders (FastAPI, PyPSA and
    schemathesis cost seconds to import)."""
    if config.getoption("markexpr", "").strip() == "not slow":
        folder = collection_path if collection_path.is_dir() else collection_path.parent
        if folder.name in SLOW_FOLDERS:
            return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in :data:`SLOW_FOLDERS` ``slow``."""
    for item in items:
        if Path(str(item.path)).parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


def tiny_scenario(hours: int = 48, **overrides: Any) -> dict[str, Any]:
    """A two-unit plant, one offtake over two lines, one mining site with two classes."""
    data: dict[str, Any] = {
        "name": "tiny",
        "description": "a small test plant",
        "horizon": {"start": "2027-01-01T00:00:00Z", "hours": hours},
        "plant": {
            "name": "Tiny",
            "house_load_mw": 10.0,
            "units": [
                {
                    "name": "U1",
                    "capacity_mw": 100.0,
                    "min_stable_mw": 40.0,
                    "ramp_up_mw_per_h": 30.0,
                    "ramp_down_mw_per_h": 30.0,
                    "marginal_cost_usd_per_mwh": 8.0,
                },
                {"name": "U2", "capacity_mw": 50.0, "marginal_cost_usd_per_mwh": 30.0},
            ],
        },
        "grid": {
            "offtakes": [
                {
                    "name": "city",
                    "price_usd_per_mwh": {
                        "generator": "profile",
                        "mean": 60.0,
                        "daily_amplitude": 0.5,
                        "noise": 0.05,
                        "seed": 3,
                    },
                    "demand_mw": 80.0,
                    "firm_mw": 20.0,
                }
            ],
            "lines": [
                {"name": "L1", "serves": "city", "capacity_mw": 60.0},
                {"name": "L2", "serves": "city", "capacity_mw": 40.0},
            ],
            "import_price_usd_per_mwh": 120.0,
            "unserved_penalty_usd_per_mwh": 3000.0,
        },
        "mining": {
            "sites": [{"name": "S", "capacity_mw": 30.0}],
            "fleet": [
                {"model": "Antminer S21 XP", "count": 4000, "site": "S"},
                {"model": "Antminer S19j Pro", "count": 4000, "site": "S"},
            ],
            "cooling_overhead": 0.05,
            "pool_fee": 0.02,
            "opex_usd_per_mwh": 5.0,
        },
        "bitcoin": {
            "price_usd": 90000.0,
            "difficulty": 1.4e14,
            "fees_btc_per_block": 0.03,
            "start_height": 982500,
        },
    }
    data = copy.deepcopy(data)
    for path, value in overrides.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        last = keys[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return data


@pytest.fixture
def tiny() -> dict[str, Any]:
    return tiny_scenario()
