"""PyPSA as an oracle: the exported network solves to gridhash's optimum.

Each case builds a scenario, solves it with gridhash's whole-horizon LP
(``run_scenario(..., solver="lp")``), exports the same problem with
:func:`gridhash.export.pypsa.to_pypsa`, solves that with PyPSA/linopy/HiGHS and
compares: objectives to a relative 1e-6, and the hourly totals of grid delivery
and mining (unique at these optima).  The fast path (``gridhash run``'s default
solver) of the same problem is held to the same figures.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import tomllib
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from gridhash.dispatch import solve_fast, solve_lp
from gridhash.export.pypsa import export_netcdf, to_pypsa
from gridhash.pipeline import Run, run_scenario
from gridhash.scenario import builtin_text
from gridhash.scenario.load import LoadedScenario, validate

from conftest import tiny_scenario

pypsa = pytest.importorskip("pypsa")

REL = 1e-6

# Unit U1 is mid-merit (50 USD/MWh) with slow ramps, so it follows the price
# only as fast as its ramps allow; both ramps and the firm obligation bind.
BINDING = {
    "plant__units__0__marginal_cost_usd_per_mwh": 50.0,
    "plant__units__0__ramp_up_mw_per_h": 15.0,
    "plant__units__0__ramp_down_mw_per_h": 15.0,
}
# Line L1 out for six hours leaves 40 MW of lines for a 50 MW firm obligation
# (so firm > offtake_cap and 10 MW is unserved); U1 trips for four hours and
# returns at its 40 MW minimum, a step its 15 MW/h ramp must not limit.
OUTAGES = {
    **BINDING,
    "grid__offtakes__0__firm_mw": 50.0,
    "grid__lines__0__outages": [{"start": "2027-01-01T10:00:00Z", "hours": 6}],
    "plant__units__0__outages": [{"start": "2027-01-02T06:00:00Z", "hours": 4}],
}


@pytest.fixture(autouse=True)
def _quiet_pypsa() -> Any:
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    yield
    logging.disable(previous)


def _loaded(data: dict[str, Any], name: str = "tiny") -> LoadedScenario:
    return LoadedScenario(validate(data, source=name), name, None, "")


def _znpp(hours: int, start: dt.datetime | None = None) -> LoadedScenario:
    """The built-in default scenario cut to ``hours`` hours (from ``start``)."""
    data = tomllib.loads(builtin_text("znpp"))
    begin = start or data["horizon"]["start"]
    data["horizon"] = {"start": begin, "hours": hours}
    end = begin + dt.timedelta(hours=hours)
    # Windows and events wholly outside the cut are rejected by validation: drop them,
    # and shorten events that run past its end.
    for group in (data["plant"]["units"], data["grid"]["lines"], data["mining"]["sites"]):
        for item in group:
            item["outages"] = [
                w for w in item.get("outages", [])
                if w["start"] < end and w["start"] + dt.timedelta(hours=w["hours"]) > begin
            ]
    events = []
    for ev in data["safety"]["events"]:
        if not begin <= ev["start"] < end:
            continue
        if "hours" in ev:
            ev["hours"] = min(ev["hours"], int((end - ev["start"]).total_seconds() // 3600))
        events.append(ev)
    data["safety"]["events"] = events
    return _loaded(data, "znpp")


def _solve_pypsa(n: Any) -> float:
    status, condition = n.optimize(
        solver_name="highs", include_objective_constant=False, log_to_console=False, progress=False
    )
    assert (status, condition) == ("ok", "optimal")
    return -float(n.objective)


def _compare(run: Run, n: Any) -> None:
    """Solve ``n`` with PyPSA and compare with gridhash's optimum of the same problem."""
    objective = _solve_pypsa(n)
    r = run.result
    assert objective == pytest.approx(r.objective_usd, rel=REL)

    scale = max(1.0, float(run.problem.offtake_cap_mw.max(initial=0.0)))
    g = n.generators_t.p
    mining = g[[f"mining:{k}" for k in run.problem.class_names]].sum(axis=1).to_numpy()
    lines = n.links_t.p0[[f"lines:{o}" for o in run.problem.offtake_names]]
    unserved = g[[f"unserved:{o}" for o in run.problem.offtake_names]].to_numpy().T
    np.testing.assert_allclose(mining, r.total_mining_mw, atol=1e-6 * scale)
    np.testing.assert_allclose(lines.sum(axis=1).to_numpy(), r.grid_mw, atol=1e-6 * scale)
    np.testing.assert_allclose(unserved, r.unserved_mw, atol=1e-6 * scale)
    fast = solve_fast(run.problem)  # gridhash run's default solver, the same figures
    assert objective == pytest.approx(fast.objective_usd, rel=REL)
    np.testing.assert_allclose(mining, fast.mining_mw.sum(axis=0), atol=1e-6 * scale)
    np.testing.assert_allclose(lines.sum(axis=1).to_numpy(), fast.delivered_mw.sum(axis=0),
                               atol=1e-6 * scale)
    np.testing.assert_allclose(unserved, fast.unserved_mw, atol=1e-6 * scale)


def test_tiny_with_binding_ramps_and_firm_obligation() -> None:
    run = run_scenario(_loaded(tiny_scenario(48, **BINDING)), solver="lp")
    p = run.problem
    # The case is only a test of ramps and firm obligations if both bind.
    free = np.full(len(p.unit_names), np.inf)
    no_ramps = dataclasses.replace(p, unit_ramp_up_mw_per_h=free, unit_ramp_down_mw_per_h=free)
    assert solve_lp(no_ramps).objective_usd > run.result.objective_usd + 1.0
    no_firm = dataclasses.replace(p, offtake_firm_mw=np.zeros_like(p.offtake_firm_mw))
    assert solve_lp(no_firm).objective_usd > run.result.objective_usd + 1.0

    n = to_pypsa(p, name="tiny")
    _compare(run, n)
    assert n.meta["objective"] == "gridhash_objective = -pypsa_objective"
    assert n.snapshots[0] == np.datetime64("2027-01-01T00:00")


def test_line_outage_leaves_firm_obligation_partly_unserved() -> None:
    run = run_scenario(_loaded(tiny_scenario(48, **OUTAGES)), solver="lp")
    p = run.problem
    assert (p.offtake_firm_mw > p.offtake_cap_mw).any()
    np.testing.assert_allclose(run.result.unserved_mw[0, 10:16], 10.0, atol=1e-6)
    # Ramps are NaN (ignored by PyPSA) exactly where gridhash does not apply them.
    n = to_pypsa(p)
    ramp = n.generators_t.ramp_limit_up[list(p.unit_names)].to_numpy().T
    np.testing.assert_array_equal(np.isfinite(ramp), p.ramp_mask)
    assert not p.ramp_mask[0, 30:35].any()
    _compare(run, n)


def test_znpp_two_weeks() -> None:
    run = run_scenario(_znpp(336), solver="lp")
    n = to_pypsa(run.problem, name="znpp")
    # Units in cold shutdown all year: p_nom 0 and per-unit series 0, not NaN.
    off = n.generators.loc["unit-4"]
    assert off.p_nom == 0.0
    assert (n.generators_t.p_max_pu["unit-4"] == 0.0).all()
    _compare(run, n)


def test_znpp_with_a_loss_of_offsite_power() -> None:
    # Two weeks around the February loss of off-site power: trips, diesel, mining blocked,
    # a restart; the exported network carries the envelope and solves to the same optimum.
    run = run_scenario(_znpp(336, dt.datetime(2027, 2, 5, tzinfo=dt.UTC)), solver="lp")
    env, r = run.envelope, run.result
    assert env is not None and env.on_diesel.any() and r.diesel_mw.sum() > 0
    assert (r.total_mining_mw[~env.mining_allowed] <= 1e-6).all()
    n = to_pypsa(run.problem, name="znpp")
    assert {"diesel", "blackout"} <= set(n.generators.index) and "mining" in n.links.index
    _compare(run, n)
    diesel = n.generators_t.p["diesel"].to_numpy()
    np.testing.assert_allclose(diesel, r.diesel_mw, atol=1e-6 * 1000)


def test_export_netcdf_reads_back(tmp_path: Any) -> None:
    loaded = _loaded(tiny_scenario(48, **OUTAGES))
    path = export_netcdf(loaded, tmp_path / "nested" / "tiny.nc")
    assert path == tmp_path / "nested" / "tiny.nc"
    assert path.is_file()

    back = pypsa.Network(path)
    run = run_scenario(loaded, solver="lp")
    n = to_pypsa(run.problem, name="tiny")
    for component in ("buses", "generators", "links", "loads"):
        assert list(getattr(back, component).index) == list(getattr(n, component).index)
    assert (back.generators.sign == n.generators.sign).all()
    assert back.meta["scenario"] == "tiny"
    # Series equal to the default everywhere are not written: compare effective values.
    for attr in ("ramp_limit_up", "ramp_limit_down", "p_min_pu", "p_max_pu", "marginal_cost"):
        np.testing.assert_allclose(
            back.get_switchable_as_dense("Generator", attr).to_numpy(),
            n.get_switchable_as_dense("Generator", attr).to_numpy(),
        )
    assert _solve_pypsa(back) == pytest.approx(run.result.objective_usd, rel=REL)


def _toml(table: dict[str, Any], prefix: str = "") -> list[str]:
    """A minimal TOML writer for scenario dicts (tables, arrays of tables, scalars)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    def array_of_tables(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    lines = [
        f"{k} = {value(v)}"
        for k, v in table.items()
        if not isinstance(v, dict) and not array_of_tables(v)
    ]
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            lines += ["", f"[{key}]", *_toml(v, key)]
        elif array_of_tables(v):
            for item in v:
                lines += ["", f"[[{key}]]", *_toml(item, key)]
    return lines


def test_cli_export(tmp_path: Any) -> None:
    from gridhash.cli import app

    data = tiny_scenario(24)
    text = "\n".join(_toml(data)) + "\n"
    assert tomllib.loads(text) == data
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out" / "tiny.nc"

    result = CliRunner().invoke(app, ["export", str(scenario), "--pypsa", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert len(pypsa.Network(out).snapshots) == 24
