"""``gridhash run``'s solver: the exact fast path by default, the whole-year LP on request.

The two must agree on everything but how output is split between sources (or uses)
of equal cost (or value); the fast path's split is the documented tie rule
(docs/architecture.md, "Which solver, and how ties are split").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gridhash.pipeline import SOLVERS, run_scenario

from conftest import tiny_scenario
from helpers import run_cli, write_scenario

#: The ramps of U1 bind: the fast path needs LP windows (BINDING of tests/oracle).
BINDING = {
    "plant__units__0__marginal_cost_usd_per_mwh": 50.0,
    "plant__units__0__ramp_up_mw_per_h": 15.0,
    "plant__units__0__ramp_down_mw_per_h": 15.0,
}


@pytest.fixture(scope="module")
def znpp_runs():
    return run_scenario("znpp"), run_scenario("znpp", solver="lp")


def test_the_default_is_the_fast_path_with_the_lps_optimum_and_duals(znpp_runs) -> None:
    fast, lp = znpp_runs
    assert fast.result.solver == "fast" and fast.result.certified and fast.result.lp_hours == 0
    assert lp.result.solver == "highs" and not lp.result.certified and lp.result.lp_hours is None
    assert fast.result.objective_usd == pytest.approx(lp.result.objective_usd, rel=1e-9)
    np.testing.assert_allclose(fast.result.marginal_value_usd_per_mwh,
                               lp.result.marginal_value_usd_per_mwh, atol=1e-6)
    f = {k: v[0] for k, v in fast.accounts.totals().items()}
    g = {k: v[0] for k, v in lp.accounts.totals().items()}
    assert f.keys() == g.keys()
    for k in f:
        if ":unit-" in k:
            continue  # units of equal cost: the LP splits their output its own way
        assert f[k] == pytest.approx(g[k], rel=1e-9, abs=1e-3), k  # < 0.1 cent, MWh


def test_units_of_equal_cost_and_ramp_share_in_proportion_to_their_ranges(znpp_runs) -> None:
    """The tie rule: each of the tied units runs the same fraction of its range above
    its minimum, every hour (znpp's units 1-3: 9 USD/MWh, 190 MW/h)."""
    run = znpp_runs[0]
    p, r = run.problem, run.result
    tied = [0, 1, 2]
    assert len(set(p.unit_cost_usd_per_mwh[tied, 0])) == 1
    assert len(set(p.unit_ramp_up_mw_per_h[tied])) == 1
    span = p.unit_available_mw[tied] - p.unit_min_mw[tied]
    share = r.unit_mw[tied] - p.unit_min_mw[tied]
    on = (span > 0).all(axis=0)
    assert on.sum() > 1000
    frac = share[:, on] / span[:, on]
    np.testing.assert_allclose(frac, np.broadcast_to(frac[0], frac.shape), atol=1e-12)
    # ... and the LP, free to split them any way, did not always do so
    lp = znpp_runs[1].result
    assert np.abs(lp.unit_mw[tied] - r.unit_mw[tied]).max() > 1.0


def test_run_records_the_solver_and_solver_lp_forces_the_whole_year_lp(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, tiny_scenario(hours=72, **BINDING))
    docs = {}
    for solver in (None, *SOLVERS):
        out = tmp_path / f"out-{solver}"
        args = ["run", str(path), "--out", str(out), *(["--solver", solver] if solver else [])]
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        docs[solver] = json.loads((out / "summary.json").read_text())["solver"]
        assert f"solver {docs[solver]['name']}" in (out / "report.html").read_text()
    fast, lp = docs["fast"], docs["lp"]
    assert docs[None] | {"seconds": 0, "solve_seconds": 0} == fast | {"seconds": 0,
                                                                      "solve_seconds": 0}
    # its ramp violations come every day: the repair ends as one LP of the whole path
    assert fast["name"] == "fast+highs" and not fast["certified"] and 0 < fast["lp_hours"] <= 72
    assert lp["name"] == "highs" and not lp["certified"] and lp["lp_hours"] == 72
    assert fast["status"] == lp["status"] == "Optimal"
    assert fast["objective_usd"] == pytest.approx(lp["objective_usd"], abs=0.02)
    bad = run_cli("run", str(path), "--out", str(tmp_path / "x"), "--solver", "simplex")
    assert bad.exit_code == 2 and "simplex" in bad.output
    with pytest.raises(ValueError, match="solver must be one of fast, lp"):
        run_scenario("znpp", solver="highs")


def test_a_certified_run_imports_no_lp_solver_nor_plotly(tmp_path: Path) -> None:
    """``gridhash run`` of the default year: the merit order is certified, so HiGHS and
    scipy are never imported; the report's figures are plain JSON, so plotly is not
    either (only its plotly.js file is read)."""
    code = (
        "import sys\n"
        f"sys.argv = ['gridhash', 'run', 'znpp', '--out', {str(tmp_path / 'out')!r}]\n"
        "from gridhash.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = [m for m in ('highspy', 'scipy', 'plotly') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "HEAVY []" in out.stderr, out.stderr
    solver = json.loads((tmp_path / "out" / "summary.json").read_text())["solver"]
    assert solver["name"] == "fast" and solver["certified"] and solver["lp_hours"] == 0


def test_report_html_written_as_bytes_equals_the_page_as_text(tmp_path: Path,
                                                               znpp_runs) -> None:
    from gridhash.report.advice import warnings_for
    from gridhash.report.html import render_html, write_html
    from gridhash.report.summary import hourly_frame, summary

    run = znpp_runs[0]
    data = summary(run) | {"warnings": warnings_for(run)}
    hourly = hourly_frame(run)
    write_html(tmp_path / "report.html", run, data, hourly)
    assert (tmp_path / "report.html").read_bytes() == render_html(run, data, hourly).encode()


def test_the_console_script_tunes_the_cycle_collector_and_main_does_not() -> None:
    """``gridhash`` (the console script, :func:`gridhash.cli.entry`) collects cycles
    every 200,000 allocations and freezes what is left at exit; :func:`main`, which
    tests and other programs call in-process, leaves the collector as it was."""
    import gc
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["gridhash"] == "gridhash.cli:entry"
    code = (
        "import gc, sys\n"
        "sys.argv = ['gridhash', 'scenarios']\n"
        "before = gc.get_threshold()\n"
        "from gridhash.cli import {fn}\n"
        "try:\n    {fn}()\nexcept SystemExit:\n    pass\n"
        "print('THRESHOLD', gc.get_threshold() == before, gc.get_threshold())\n"
    )
    for fn, expected in (("entry", "False (200000, 30, 30)"), ("main", "True")):
        out = subprocess.run([sys.executable, "-c", code.format(fn=fn)], capture_output=True,
                             text=True, check=True)
        assert f"THRESHOLD {expected}" in out.stdout, (fn, out.stdout, out.stderr)
    before = gc.get_threshold()
    assert run_cli("scenarios").exit_code == 0
    assert gc.get_threshold() == before
