"""The command line: outputs, formats, lazy imports, built-ins."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from gridhash.report.summary import HOURLY_COLUMNS
from gridhash.scenario import builtin_names, builtin_text, load_scenario

from conftest import tiny_scenario
from helpers import run_cli, write_scenario


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['gridhash', '--help']\n"
        "from gridhash.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('highspy', 'pandas', 'plotly', 'pypsa', 'scipy', 'numpy', 'pyasic',"
        " 'prometheus_client', 'httpx', 'fastapi')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "run" in out.stdout and "economics" in out.stdout


def test_run_writes_outputs(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, tiny_scenario(hours=72))
    out = tmp_path / "out"
    result = run_cli("run", str(path), "--out", str(out), "--csv")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "scenario",
        "hours",
        "energy_mwh",
        "revenue_usd",
        "cost_usd",
        "btc_mined",
        "net_usd",
        "penalty_usd",
        "capacity_factor",
        "unserved_firm_mwh",
        "solver",
    ):
        assert key in summary
    assert "objective_usd" not in summary and "objective_usd" in summary["solver"]
    assert set(summary["penalty_usd"]) == {"unserved_firm", "station_blackout"}
    assert set(summary["energy_mwh"]) >= {
        "available",
        "generated",
        "imported",
        "house_load",
        "grid",
        "mining",
        "curtailed",
    }
    assert set(summary["revenue_usd"]) == {"grid", "mining", "total"}
    assert set(summary["solver"]) >= {"name", "status", "seconds"}
    assert summary["solver"]["status"] == "Optimal" and summary["hours"] == 72
    hourly = pd.read_parquet(out / "hourly.parquet")
    assert len(hourly) == 72
    for col in HOURLY_COLUMNS:
        assert col in hourly.columns
    for col in ("unit:U1", "unit:U2", "offtake:city", "miner:S/Antminer S21 XP"):
        assert col in hourly.columns
    csv = pd.read_csv(out / "hourly.csv")
    assert len(csv) == 72 and csv["time"].iloc[0] == "2027-01-01T00:00:00Z"
    html = (out / "report.html").read_text()
    assert '<script src="http' not in html and "plotly" in html.lower()
    assert "Where the plant" in html and "by month" in html and "Revenue by source" in html
    out_text = result.stdout
    assert "tiny" in out_text and "net (revenue − costs)" in out_text
    assert "penalty: unserved firm energy" in out_text
    assert "penalty: station blackout" in out_text and "diesel" in out_text
    assert "capacity factor" in out_text
    # "objective" only as the optimizer's figure, labelled so.
    objective_lines = [ln for ln in out_text.splitlines() if "objective" in ln]
    assert objective_lines and all("optimizer" in ln for ln in objective_lines)


def test_run_json_prints_the_summary(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, tiny_scenario(hours=24))
    result = run_cli("run", str(path), "--out", str(tmp_path / "o"), "--json")
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed == json.loads((tmp_path / "o" / "summary.json").read_text())


def test_run_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_scenario(tmp_path, tiny_scenario(hours=24))
    monkeypatch.chdir(tmp_path)
    assert run_cli("run", str(path)).exit_code == 0
    assert (tmp_path / "out" / "tiny" / "summary.json").is_file()


def test_scenarios_lists_each_builtin_on_one_line() -> None:
    result = run_cli("scenarios")
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert [line.split()[0] for line in lines] == builtin_names()
    assert builtin_names()[0] == "znpp" and {"itaipu", "susquehanna"} <= set(builtin_names())


@pytest.mark.parametrize("name", ["znpp", "itaipu", "susquehanna"])
def test_show_prints_toml_that_loads_back(tmp_path: Path, name: str) -> None:
    result = run_cli("show", name)
    assert result.exit_code == 0
    assert result.stdout == builtin_text(name)
    copy = tmp_path / f"{name}.toml"
    copy.write_text(result.stdout)
    assert load_scenario(copy).scenario == load_scenario(name).scenario
    assert tomllib.loads(result.stdout)["name"] == name


def test_economics_prints_fleet_models() -> None:
    result = run_cli("economics")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "breakeven" in text and "payback" in text
    assert "S21 XP" in text and "S19j" in text


def test_economics_values_machines_as_the_dispatch_runs_them() -> None:
    """The power price the fleet pays and its uptime come from the dispatch (the issue:
    the S21 XP runs when power is worth 53.5 USD/MWh, not at the median 103 and not
    100 % of the time), with breakeven hashprice and BTC price beside the power price."""
    import numpy as np

    from gridhash.pipeline import run_scenario, value_models
    from gridhash.report.terminal import economics_rows

    run = run_scenario("znpp")
    r = run.result
    s21 = next(m for m in run.inputs.class_models if m.name == "Antminer S21 XP")
    row = value_models(run, [s21])[0]
    ks = [k for k, m in enumerate(run.inputs.class_models) if m.name == s21.name]
    drawn = r.mining_mw[ks].sum(axis=0)
    assert row["power_price_usd_per_mwh"] == pytest.approx(
        float((r.marginal_value * drawn).sum() / drawn.sum()))
    assert row["power_price_usd_per_mwh"] < float(np.median(r.marginal_value))
    assert 0.0 < row["uptime"] < 1.0
    assert row["first_year_energy_mwh"] == pytest.approx(
        drawn.sum() / run.inputs.class_count[ks].sum(), rel=1e-6)
    for key in ("breakeven_power_usd_per_mwh", "breakeven_hashprice_usd_per_ph_day",
                "breakeven_btc_usd", "npv_usd", "payback_years"):
        assert key in row
    # the table the command prints holds the same numbers
    _, rows, basis = economics_rows("znpp")
    assert rows[0] == row and "hours the fleet mines" in basis
    result = run_cli("economics")
    text = " ".join(result.stdout.split())
    assert "hashprice" in text and "uptime" in text
    assert f"{row['breakeven_btc_usd']:,.0f}" in text


def test_economics_catalogue_lists_every_model() -> None:
    from gridhash.bitcoin.catalogue import load_catalogue

    result = run_cli("economics", "--catalogue")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) > len(load_catalogue())


def test_usage_error_exits_2() -> None:
    result = run_cli("run", "--no-such-option")
    assert result.exit_code == 2


def test_infeasible_scenario_is_explained_without_a_solver_dump(tmp_path: Path) -> None:
    data = tiny_scenario(hours=24)
    data["plant"]["units"][0]["min_stable_mw"] = 100.0  # must run at 100 MW ...
    data["grid"]["lines"][0]["outages"] = [{"start": "2027-01-01T05:00:00Z", "hours": 3}]
    data["grid"]["lines"][1]["outages"] = [{"start": "2027-01-01T05:00:00Z", "hours": 3}]
    data["mining"]["sites"][0]["capacity_mw"] = 0.0  # ... with nowhere to send it
    path = write_scenario(tmp_path, data)
    result = run_cli("run", str(path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "infeasible" in text and "Traceback" not in text
    assert "energy balance" in text or "ramp-down limit" in text
    assert "2027-01-01T0" in text  # names the first hour


def test_penalty_below_mining_value_is_refused(tmp_path: Path) -> None:
    data = tiny_scenario(hours=24)
    data["grid"]["unserved_penalty_usd_per_mwh"] = 10.0
    path = write_scenario(tmp_path, data)
    result = run_cli("run", str(path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "scenario.toml" in text and "grid.unserved_penalty_usd_per_mwh" in text


def test_safety_prints_state_rules_and_timeline() -> None:
    res = run_cli("safety", "znpp")
    assert res.exit_code == 0, res.output
    out = res.stdout
    for text in ("Plant state at the first hour", "Rules in force", "Timeline (UTC)",
                 "ts-offsite-circuit-lost", "line Dniprovska-750 cut for 720 h",
                 "unit-1: cold_shutdown", "hours restricted"):
        assert text in out, text


def test_safety_json_and_a_scenario_without_safety(tmp_path: Path) -> None:
    res = run_cli("safety", "znpp", "--json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["rule_activations"]["ts-offsite-power-lost"] == 3
    assert any(r["what"] == "event" for r in doc["timeline"])
    path = write_scenario(tmp_path, tiny_scenario(24))
    res = run_cli("safety", str(path))
    assert res.exit_code == 0 and "no safety part" in res.stdout


def test_run_with_safety_writes_the_envelope(tmp_path: Path) -> None:
    safety = {
        "diesel": {"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 3.0},
        "events": [
            {"kind": "line_cut", "line": "L1", "hour": 5, "hours": 6},
            {"kind": "line_cut", "line": "L2", "hour": 8, "hours": 2},
        ],
    }
    path = write_scenario(tmp_path, tiny_scenario(hours=48, safety=safety))
    out = tmp_path / "out"
    result = run_cli("run", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text())["safety"]
    assert set(s) >= {"hours_restricted", "hours_mining_blocked", "rule_activations"}
    assert s["rule_activations"]["mining-needs-two-offsite-lines"] == 1
    assert s["rule_activations"]["ts-offsite-power-lost"] == 1
    assert s["hours_on_diesel"] == 2
    h = pd.read_parquet(out / "hourly.parquet")
    assert not h["mining_allowed"].iloc[5:11].any() and h["mining_allowed"].iloc[4]
    assert (h["mining_mw"].iloc[5:11] == 0).all()
    assert "ts-offsite-power-lost: hot_shutdown at once" in h["restriction"].iloc[8]
    assert h["restriction"].iloc[0] == ""
    assert (h["diesel_mw"].iloc[8:10] == 10.0).all()
    assert h["mode:U1"].iloc[8] == "hot_shutdown"
    html = (out / "report.html").read_text()
    assert "Safety envelope and operating modes" in html and "Safety rules that acted" in html
