"""Helpers shared by tests: write scenarios to disk, run the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import strategies as st

from gridhash.scenario.load import LoadedScenario, validate


def write_scenario(folder: Path, data: dict[str, Any], name: str = "scenario.toml") -> Path:
    path = folder / name
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def loaded(data: dict[str, Any]) -> LoadedScenario:
    return LoadedScenario(validate(data, source="test"), "test", None, "")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str) -> CliResult:
    """Invoke the CLI through its real entry point (errors → exit 2), capturing output."""
    from gridhash.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    code = 0
    try:
        sys.argv = ["gridhash", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    return CliResult(code, out.getvalue(), err.getvalue())


#: Event kinds of a ``safety.events`` entry that the property tests draw.
SAFETY_EVENT_KINDS = ("line_cut", "diesel_delivery", "diesel_generators", "staff",
                      "monitoring_down", "comms_down", "safety_hold", "physical_damage")


@st.composite
def safety_events(
    draw: st.DrawFn,
    hours: int,
    window: st.SearchStrategy[tuple[int, int]],
    kinds: tuple[str, ...] = SAFETY_EVENT_KINDS,
) -> list[dict[str, Any]]:
    """Up to six random ``safety.events`` of ``kinds`` within ``hours`` hours, each at
    ``(hour, duration)`` drawn from ``window`` (lines ``L1``/``L2``)."""
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(list(kinds)))
        h, d = draw(window)
        d = min(d, hours - h)
        ev: dict[str, Any] = {"kind": kind, "hour": h}
        if kind == "line_cut":
            ev |= {"line": draw(st.sampled_from(["L1", "L2"])), "hours": d}
        elif kind == "diesel_delivery":
            ev |= {"days": draw(st.floats(0.1, 3.0))}
        elif kind in ("diesel_generators", "staff"):
            ev |= {"value": draw(st.integers(0, 12)), "hours": d}
        elif kind == "cooling_water":
            ev |= {"value": draw(st.sampled_from([2.0, 4.5, 5.0, 8.0])), "hours": d}
        else:
            ev |= {"hours": d}
        out.append(ev)
    return out
