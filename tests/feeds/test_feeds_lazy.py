"""``gridhash --help`` and ``gridhash fetch --help`` import no HTTP, market or fitting
library (the fetchers import them when they run)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [["--help"], ["fetch", "--help"], ["fetch", "prices", "--help"],
                                  ["backtest", "--help"], ["calibrate", "--help"]])
def test_help_imports_no_client_library(args: list[str]) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['gridhash', *{args!r}]\n"
        "from gridhash.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('httpx', 'requests', 'entsoe', 'arch', 'statsmodels', 'pandas',"
        " 'pyarrow', 'openpyxl') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "Usage" in out.stdout
