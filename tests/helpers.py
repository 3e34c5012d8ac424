"""Helpers shared by tests: write scenarios to disk, run the CLI in-process."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

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
