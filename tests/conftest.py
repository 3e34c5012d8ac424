"""Shared fixtures: small scenarios built in code, so each test states what it needs."""

from __future__ import annotations

import copy
import dataclasses
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

#: Test folders whose every test is ``slow`` (the service starts servers and
#: databases; the oracle solves with PyPSA; the agent and the feeds start loopback
#: stand-ins for miners, a Bitcoin node and market APIs).  Single slow tests
#: elsewhere carry ``@pytest.mark.slow`` themselves.
SLOW_FOLDERS = ("service", "oracle", "agent", "feeds")

# The browser tests' helpers assert as the tests do: show the values when they fail.
pytest.register_assert_rewrite("browser_helpers")

#: The quick loop (``-m "not slow"``) runs each hypothesis property test with
#: ``max_examples // QUICK_EXAMPLES`` examples, at least :data:`QUICK_MIN_EXAMPLES`
#: (never more than it asks for); the full run draws every example each test asks for.
#: Examples that failed before are replayed first from ``.hypothesis/`` either way.
QUICK_EXAMPLES = 4
QUICK_MIN_EXAMPLES = 10


def _build_each_typer_app_once() -> None:
    """Build each typer app's click command once per test session, not on every call.

    ``Typer.__call__`` rebuilds the whole command tree (reading the type hints of every
    command's parameters) on each invocation.  A ``gridhash`` process is one invocation,
    so it builds once; the tests invoke the CLI in-process some 300 times, and the
    rebuilding cost the quick loop about 5 s of its 50 s of CPU.  The command is what a
    fresh build gives (click builds a new context per invocation, and reads ``COLUMNS``
    when it prints), so caching it per app changes nothing a test can observe.
    """
    import typer.main

    build = typer.main.get_command
    if getattr(build, "_gridhash_cached", False):
        return
    built: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def get_command(typer_instance: Any) -> Any:
        cmd = built.get(typer_instance)
        if cmd is None:
            cmd = built[typer_instance] = build(typer_instance)
        return cmd

    get_command._gridhash_cached = True  # type: ignore[attr-defined]
    typer.main.get_command = get_command


_build_each_typer_app_once()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m "not slow"``, do not even import the slow folders (FastAPI, PyPSA and
    schemathesis cost seconds to import)."""
    if _quick(config):
        folder = collection_path if collection_path.is_dir() else collection_path.parent
        if folder.name in SLOW_FOLDERS:
            return True
    return None


def _quick(config: pytest.Config) -> bool:
    """Whether this is the quick loop (``pytest -m "not slow"``)."""
    return config.getoption("markexpr", "").strip() == "not slow"


def pytest_report_header(config: pytest.Config) -> str | None:
    if _quick(config):
        return (f"quick loop: slow tests left out; each property test draws 1/{QUICK_EXAMPLES}"
                f" of its examples (at least {QUICK_MIN_EXAMPLES}); `pytest` runs them all")
    return None


def _fewer_examples(item: pytest.Item, seen: set[int]) -> None:
    """Give a hypothesis test 1/:data:`QUICK_EXAMPLES` of its ``max_examples``.

    Its own ``@settings`` override any profile, so the settings hypothesis reads when the
    test runs are replaced (once per test function, however many parameter sets it has).
    Should a later hypothesis keep them elsewhere, the test runs in full.
    """
    from hypothesis import settings

    fn = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
    if not getattr(fn, "is_hypothesis_test", False) or id(fn) in seen:
        return
    seen.add(id(fn))
    own = getattr(fn, "_hypothesis_internal_use_settings", None)
    if isinstance(own, settings):
        fewer = max(QUICK_MIN_EXAMPLES, own.max_examples // QUICK_EXAMPLES)
        fn._hypothesis_internal_use_settings = settings(
            own, max_examples=min(own.max_examples, fewer))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in :data:`SLOW_FOLDERS` ``slow``; in the quick loop, draw fewer
    hypothesis examples."""
    seen: set[int] = set()
    for item in items:
        if Path(str(item.path)).parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
        if _quick(config):
            _fewer_examples(item, seen)


@pytest.fixture(autouse=True)
def _piped_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs in-process with its output captured, as if piped: no ``COLUMNS``
    from the shell (or from pytest-xdist, which sets 80) narrows it.  Tests about
    narrow terminals set ``COLUMNS`` themselves."""
    monkeypatch.delenv("COLUMNS", raising=False)


def _read_only(obj: Any, seen: set[int]) -> None:
    """Make every numpy array reachable through ``obj``'s dataclass fields, dicts, lists
    and tuples read-only, so that a test that writes into a shared run fails there."""
    import numpy as np

    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        obj.flags.writeable = False
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _read_only(getattr(obj, f.name, None), seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            _read_only(v, seen)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _read_only(v, seen)


@pytest.fixture(scope="session")
def builtin_run() -> Callable[..., Any]:
    """``builtin_run(name, agreement=None)``: ``run_scenario`` of a built-in scenario,
    solved once per test session (a full year of znpp takes about half a second, and
    a dozen tests read the same ones).  Its arrays are read-only: a test that changes
    a run builds its own."""
    runs: dict[tuple[str, str | None], Any] = {}

    def get(name: str, agreement: str | None = None) -> Any:
        if (name, agreement) not in runs:
            from gridhash.pipeline import run_scenario

            run = run_scenario(name, agreement=agreement)
            _read_only(run, set())
            runs[name, agreement] = run
        return runs[name, agreement]

    return get


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
