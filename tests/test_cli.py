"""The command line: outputs, formats, lazy imports, built-ins."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
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
        " 'prometheus_client', 'httpx', 'fastapi', 'numba', 'llvmlite')"
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
    assert set(summary["revenue_usd"]) == {"grid", "mining", "demand_response", "total"}
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
    listed = " ".join(result.stdout.split())
    assert "summary.json, hourly.parquet, hourly.csv, report.html" in listed


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


def test_economics_values_machines_as_the_dispatch_runs_them(builtin_run) -> None:
    """The power price the fleet pays and its uptime come from the dispatch (the issue:
    the S21 XP runs when power is worth 53.5 USD/MWh, not at the median 103 and not
    100 % of the time), with breakeven hashprice and BTC price beside the power price."""
    import numpy as np

    from gridhash.pipeline import value_models
    from gridhash.report.terminal import economics_rows

    run = builtin_run("znpp")
    r = run.result
    s21 = next(m for m in run.inputs.class_models if m.name == "Antminer S21 XP")
    row = value_models(run, [s21])[0]
    ks = [k for k, m in enumerate(run.inputs.class_models) if m.name == s21.name]
    drawn = r.mining_mw[ks].sum(axis=0)
    assert row["power_price_usd_per_mwh"] == pytest.approx(
        float((r.marginal_value_usd_per_mwh * drawn).sum() / drawn.sum()))
    assert row["power_price_usd_per_mwh"] < float(np.median(r.marginal_value_usd_per_mwh))
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
    # how each model is cooled (air, hydro, immersion) is a column of its own
    assert "cooling" in result.stdout
    for cooling in {m.cooling for m in load_catalogue().values()}:
        assert f" {cooling} " in result.stdout


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
    assert doc["rule_activations"]["ts-offsite-power-lost"] == 4
    assert any(r["what"] == "event" for r in doc["timeline"])
    path = write_scenario(tmp_path, tiny_scenario(24))
    res = run_cli("safety", str(path))
    assert res.exit_code == 0 and "no safety part" in res.stdout
    assert "add a [safety] table" in res.stdout  # rich markup must not eat the brackets


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


# --------------------------------------------------------------------------- #
# Machine-readable output: what a pipe receives
# --------------------------------------------------------------------------- #


#: A small agreement on the tiny scenario (two owners, the city pays for its energy).
AGREEMENT = {
    "name": "deal",
    "entitlements": {"a": 0.5, "b": 0.5},
    "parties": [
        {"id": "op", "name": "Operator", "role": "operator"},
        {"id": "a", "name": "Owner A", "role": "owner"},
        {"id": "b", "name": "Owner B", "role": "owner"},
        {"id": "city", "name": "City utility", "role": "offtaker"},
    ],
    "obligations": [],
    "prices": [{"offtake": "city", "payer": "city"}],
    "mining": {"owners": {"a": 0.3, "b": 0.7}, "energy_price_usd_per_mwh": 20.0},
    "approval": {"role": "owner", "required": 2},
}


def _json_commands() -> set[str]:
    """Every command (``ledger proof`` for sub-commands) that has a ``--json`` option."""
    import typer

    from gridhash.cli import app

    found: set[str] = set()

    def walk(cmd: Any, prefix: str) -> None:
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click)
            for name, sub in cmd.commands.items():
                walk(sub, f"{prefix} {name}".strip())
        elif any("--json" in p.opts for p in cmd.params):
            found.add(prefix)

    walk(typer.main.get_command(app), "")
    return found


def _strict_json(text: str) -> object:
    """Parse as JSON, refusing NaN and Infinity (which are not JSON)."""

    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.slow
def test_every_json_command_prints_only_json_on_stdout(tmp_path: Path) -> None:
    """Run each ``--json`` command as a subprocess: its real stdout parses as strict JSON.

    HiGHS prints a banner on the C-level stdout when a solver object is created;
    only a real subprocess (not an in-process runner) sees it.
    """
    path = write_scenario(tmp_path, tiny_scenario(hours=24, agreements=[AGREEMENT]))
    out = tmp_path / "o"
    subprocess.run([sys.executable, "-m", "gridhash.cli", "settle", str(path), "--out",
                    str(out), "--demo-keys", str(tmp_path / "keys")], capture_output=True,
                   check=True)
    argv = {
        "run": ["run", str(path), "--out", str(out), "--json"],
        "compare": ["compare", str(path), "--json"],
        "safety": ["safety", "znpp", "--json"],
        "ledger proof": ["ledger", "proof", str(out / "ledger.sqlite"), "0", "--json"],
    }
    assert _json_commands() == set(argv), "a --json command without a test here"
    for name, args in argv.items():
        res = subprocess.run([sys.executable, "-m", "gridhash.cli", *args],
                             capture_output=True, text=True)
        assert res.returncode == 0, (name, res.stderr)
        assert "HiGHS" not in res.stdout, (name, res.stdout[:300])
        _strict_json(res.stdout)


def test_every_json_file_written_is_strict_json(tmp_path: Path) -> None:
    """run, settle, risk and size on one folder: each .json parses without NaN/Infinity.

    The scenario has no mining at all (every ratio over mining is 0/0) and no firm
    obligation, the cases most likely to produce a NaN.
    """
    data = tiny_scenario(hours=24, agreements=[AGREEMENT])
    data["mining"]["sites"][0]["capacity_mw"] = 0.0
    data["grid"]["offtakes"][0]["firm_mw"] = 0.0
    path = write_scenario(tmp_path, data)
    out = tmp_path / "o"
    for args in (["run", "--csv"], ["settle", "--demo-keys", str(tmp_path / "keys")],
                 ["risk", "--paths", "4"],
                 ["size", "--paths", "2", "--mw", "0", "--mw", "1",
                  "--model", "Antminer S21 XP"]):
        res = run_cli(args[0], str(path), "--out", str(out), *args[1:])
        assert res.exit_code == 0, (args, res.output)
    written = sorted(out.rglob("*.json"))
    assert {p.name for p in written} >= {"summary.json", "statements.json", "risk.json",
                                         "size.json"}
    for p in written:
        _strict_json(p.read_text())


def test_a_figure_that_is_not_finite_is_an_error_naming_it(tmp_path: Path) -> None:
    from gridhash.errors import OutputError
    from gridhash.report.write import json_text

    assert json_text({"a": [1.0, 2]}, what="x") == '{\n  "a": [\n    1.0,\n    2\n  ]\n}\n'
    with pytest.raises(OutputError, match=r"cannot write summary.json: the figure at "
                       r"energy_mwh.mining\[1\] is not a finite number"):
        json_text({"energy_mwh": {"grid": 1.0, "mining": [0.0, float("inf")]}},
                  what="summary.json")


# --------------------------------------------------------------------------- #
# Warnings: legal but probably wrong
# --------------------------------------------------------------------------- #


def _warnings(tmp_path: Path, data: dict[str, Any]) -> tuple[list[str], str]:
    path = write_scenario(tmp_path, data)
    res = run_cli("run", str(path), "--out", str(tmp_path / "o"), "--json")
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)  # warnings go to stderr, never into the JSON stream
    return printed["warnings"], " ".join(res.stderr.split())


def test_a_fleet_larger_than_its_site_says_what_never_runs(tmp_path: Path) -> None:
    from gridhash.bitcoin.catalogue import get_model

    data = tiny_scenario(hours=24)
    data["mining"]["sites"][0]["capacity_mw"] = 250.0
    data["mining"]["fleet"] = [{"model": "Antminer S21 XP", "count": 100_000, "site": "S"}]
    warnings, stderr = _warnings(tmp_path, data)
    m = get_model("Antminer S21 XP")
    per = m.power_w * 1.05 / 1e6
    idle = int(np.ceil((100_000 * per - 250.0) / per - 1e-9))
    assert 34_000 < idle < 36_000  # the "~35,000 machines"
    assert len(warnings) == 2  # and the city's price below mining's value
    text = warnings[0]
    assert text.startswith("site S: its fleet draws up to 382.7 MW")
    assert f"about {idle:,} machines never run" in text
    assert f"{idle * m.price_usd / 1e6:,.1f} M USD" in text
    assert "warning: site S: its fleet draws" in stderr


def test_house_load_near_the_plant_size_is_flagged(tmp_path: Path) -> None:
    data = tiny_scenario(hours=24)
    data["plant"]["house_load_mw"] = 120.0
    data["grid"]["offtakes"][0]["price_usd_per_mwh"] = 900.0
    data["grid"]["offtakes"][0]["firm_mw"] = 0.0
    warnings, stderr = _warnings(tmp_path, data)
    assert warnings == [
        "plant.house_load_mw reaches 120 MW at 2027-01-01T00:00Z, 80% of the plant's 150 MW "
        "net capacity; a plant's own use is usually a few per cent of it (flagged above "
        "33%): is it in MW, and net of the units' own use?"
    ]
    assert "warning: plant.house_load_mw reaches 120 MW" in stderr


def test_a_price_below_mining_value_is_flagged_and_a_high_one_is_not(tmp_path: Path) -> None:
    warnings, _ = _warnings(tmp_path, tiny_scenario(hours=24))
    assert len(warnings) == 1
    assert warnings[0].startswith("offtake city: in 24 of 24 hours (the first: hour 0 ")
    assert "above its firm obligation the power goes to mining, not to city" in warnings[0]
    data = tiny_scenario(hours=24)
    data["grid"]["offtakes"][0]["price_usd_per_mwh"] = 900.0
    (tmp_path / "high").mkdir()
    assert _warnings(tmp_path / "high", data)[0] == []


def test_grid_first_agreements_are_not_flagged_for_mining_outbidding_the_grid(
        builtin_run) -> None:
    from gridhash.report.advice import mining_outbids_grid

    # bilateral: by value above its obligation, so mining takes what the grid would have
    warned = mining_outbids_grid(builtin_run("znpp", agreement="bilateral"))
    assert warned and all("grid_first = true puts every offtake first" in w for w in warned)
    # ukraine-international: grid_first = true, every offtake before mining whatever the prices
    assert mining_outbids_grid(builtin_run("znpp", agreement="ukraine-international")) == []


def test_the_default_scenario_is_not_flagged_for_its_fleet_or_house_load(builtin_run) -> None:
    from gridhash.report.advice import fleet_beyond_site, house_load_too_high

    run = builtin_run("znpp")
    assert fleet_beyond_site(run.inputs) == [] and house_load_too_high(run.inputs) == []


# --------------------------------------------------------------------------- #
# The terminal
# --------------------------------------------------------------------------- #


def _commands() -> dict[str, Any]:
    import typer

    from gridhash.cli import app

    found: dict[str, Any] = {}

    def walk(cmd: Any, prefix: str) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, f"{prefix} {name}".strip())
        else:
            found[prefix] = cmd

    walk(typer.main.get_command(app), "")
    return found


@pytest.mark.parametrize("columns", ["80", "60"])
def test_help_keeps_defaults_and_shows_flags_as_flags(monkeypatch: pytest.MonkeyPatch,
                                                      columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    commands = _commands()
    assert {"run", "size", "risk", "ledger proof", "serve"} <= set(commands)
    for name, cmd in commands.items():
        res = run_cli(*name.split(), "--help")
        assert res.exit_code == 0, (name, res.output)
        text = " ".join(res.stdout.split())
        assert "<bool>" not in text, (name, res.stdout)
        for param in cmd.params:
            if param.param_type_name != "option" or param.name == "help":
                continue
            assert param.help, f"{name} {param.opts[0]} has no help text"
            written = " ".join(param.help.split())
            for default in re.findall(r"\[default: [^\]]*\]", written):
                assert default in text, (name, default, res.stdout)
    run_help = " ".join(run_cli("run", "--help").stdout.split())
    assert "[default: out/<scenario>/]" in run_help and "--json Print" in run_help


@pytest.mark.slow
def test_ctrl_c_during_a_dask_sweep_prints_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, mid-sweep."""
    import os
    import signal
    import time

    path = write_scenario(tmp_path, tiny_scenario(hours=24))
    out = tmp_path / "o"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridhash.cli", "risk", str(path), "--workers", "2",
         "--paths", "1000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )

    def children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == proc.pid:  # the parent's pid
                    found.append(int(entry.name))
        return found

    try:
        deadline = time.monotonic() + 120
        while len(children()) < 3 and time.monotonic() < deadline:  # 2 workers + tracker
            time.sleep(0.2)
        kids = children()
        assert len(kids) >= 3, "the cluster did not start"
        time.sleep(3)  # the workers are running paths
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "interrupted; nothing written" and stdout == ""
    assert not out.exists()
    time.sleep(1)
    assert [k for k in kids if Path(f"/proc/{k}").exists()
            and "Z" not in (Path(f"/proc/{k}") / "stat").read_text().rsplit(")", 1)[1][:3]] == []


_TOKENS = re.compile(r"-?\d[\d,]*\.\d+|[A-Za-z][\w.]*(?:-[\w.]+)+")


@pytest.fixture(scope="module")
def narrow_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Each table-printing command at 200, 80 and 60 columns: {command: {width: stdout}}."""
    folder = tmp_path_factory.mktemp("narrow")
    path = str(write_scenario(folder, tiny_scenario(hours=48, agreements=[AGREEMENT])))
    out = str(folder / "o")
    commands = {
        "safety": ["safety", "znpp"],
        "settle": ["settle", path, "--out", out, "--demo-keys", str(folder / "keys")],
        "size": ["size", path, "--paths", "2", "--mw", "0", "--mw", "10", "--out", out],
        "compare": ["compare", path],
        "economics": ["economics", path],
        "run": ["run", path, "--out", out],
        "risk": ["risk", path, "--paths", "6", "--out", out],
    }
    got: dict[str, dict[str, str]] = {}
    mp = pytest.MonkeyPatch()
    try:
        for name, args in commands.items():
            got[name] = {}
            for width in ("200", "80", "60"):
                mp.setenv("COLUMNS", width)
                if name == "settle":  # a period is settled once: the same folder, emptied
                    shutil.rmtree(out, ignore_errors=True)
                res = run_cli(*args)
                assert res.exit_code == 0, (name, res.output)
                got[name][width] = res.stdout
    finally:
        mp.undo()
    return got


@pytest.mark.slow
@pytest.mark.parametrize("width", ["80", "60"])
@pytest.mark.parametrize("command", ["safety", "settle", "size", "compare", "economics", "run",
                                     "risk"])
def test_narrow_terminals_cut_no_number_or_identifier(
    narrow_outputs: dict[str, dict[str, str]], command: str, width: str
) -> None:
    """Every figure and hyphenated identifier of the wide output is whole in the narrow one."""
    wide, narrow = narrow_outputs[command]["200"], narrow_outputs[command][width]
    assert "…" not in narrow, narrow
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= int(width), narrow

    def tokens(text: str) -> list[str]:  # the solver's time differs from run to run
        return _TOKENS.findall("\n".join(x for x in text.splitlines() if "solver" not in x))

    whole = set(tokens(narrow))
    missing = [t for t in tokens(wide) if t not in whole]
    assert not missing, (missing[:5], narrow)


@pytest.mark.slow
def test_a_model_name_stays_on_one_line(narrow_outputs: dict[str, dict[str, str]]) -> None:
    wide = narrow_outputs["size"]["200"].splitlines()
    # The candidates' names: the first cell of each row of the wide table.
    names = {ln.split("│")[1].strip() for ln in wide if ln.startswith("│")}
    assert len(names) >= 2 and all(" " in n for n in names), names  # multi-word names
    for width in ("80", "60"):
        lines = narrow_outputs["size"][width].splitlines()
        for name in names:
            assert any(name in line for line in lines), (width, name)


# --------------------------------------------------------------------------- #
# Report pages
# --------------------------------------------------------------------------- #


def _figure(html_text: str, title: str) -> dict[str, Any]:
    """The plotly figure (data and layout) whose title starts with ``title``."""
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{",
                         html_text, re.S):
        layout = json.loads(m.group(2))
        if layout.get("title", {}).get("text", "").startswith(title):
            return {"data": json.loads(m.group(1)), "layout": layout}
    raise AssertionError(f"no figure titled {title!r}")


def test_value_of_a_mwh_keeps_prices_readable_and_marks_penalty_hours(tmp_path: Path) -> None:
    data = tiny_scenario(hours=48)
    unit = data["plant"]["units"][0]
    unit["min_stable_mw"] = 0.0  # free to follow a line cut
    del unit["ramp_up_mw_per_h"], unit["ramp_down_mw_per_h"]
    data["grid"]["lines"][0]["outages"] = [{"start": "2027-01-01T10:00:00Z", "hours": 6}]
    data["grid"]["lines"][1]["outages"] = [{"start": "2027-01-01T10:00:00Z", "hours": 6}]
    path = write_scenario(tmp_path, data)
    out = tmp_path / "o"
    assert run_cli("run", str(path), "--out", str(out)).exit_code == 0
    hourly = pd.read_parquet(out / "hourly.parquet")
    assert (hourly["unserved_firm_mw"] > 0).sum() == 6  # six penalty hours
    fig = _figure((out / "report.html").read_text(), "Value of a MWh")
    traces = {t["name"]: t for t in fig["data"]}
    penalty = next(t for n, t in traces.items() if n.startswith("penalty hours (6 h)"))
    assert penalty["type"] == "bar" and "3,000 USD/MWh" in penalty["name"]
    marginal = next(t for n, t in traces.items() if n.startswith("marginal value"))
    assert marginal["yaxis"] == "y2"
    top = fig["layout"]["yaxis"]["range"][1]
    prices = [v for n, t in traces.items() if n.startswith(("grid price", "mining value"))
              for v in (t["y"] if isinstance(t["y"], list) else [])]
    assert top < 3000 / 10 and (not prices or max(prices) <= top)  # not squashed by spikes
    assert fig["layout"]["yaxis2"]["range"][1] < 3000  # the penalty is left off its axis too


def test_report_tables_do_not_break_dates_or_identifiers(tmp_path: Path) -> None:
    safety = {"events": [{"kind": "safety_hold", "hour": 5, "hours": 3,
                          "reason": "NUREG-1431 drill"}]}
    path = write_scenario(tmp_path, tiny_scenario(hours=24, safety=safety))
    out = tmp_path / "o"
    assert run_cli("run", str(path), "--out", str(out)).exit_code == 0
    page = (out / "report.html").read_text()
    assert "td,th{white-space:nowrap" in page
    row = re.search(r"<tr><td>mining-safety-hold</td>.*?</tr>", page).group(0)
    assert "<td>2027-01-01T05:00Z</td>" in row  # a plain (nowrap) cell, not a text one
    for cell in re.findall(r"<td class='text'>(.*?)</td>", page):
        for word in re.sub(r"<span class='nw'>[^<]*</span>", "", cell).split():
            assert "-" not in word, cell  # every hyphenated word is kept whole


def test_readme_quick_start_names_the_system_packages_ci_installs() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    for package in re.findall(r"apt-get install -y -q (\S+)", ci):
        assert package in quick, f"the Quick start does not name {package}"
    assert "initdb" in quick and "start what they need themselves" in quick
    assert "about a minute" not in quick and re.search(r"\d+ s\b|\d+ min", quick), quick


def test_on_a_terminal_the_progress_bar_is_not_broken_by_a_banner(tmp_path: Path) -> None:
    """stdout and stderr on a pseudo-terminal, as a user sees them."""
    import os
    import pty

    path = write_scenario(tmp_path, tiny_scenario(hours=24))
    primary, secondary = pty.openpty()
    env = os.environ | {"COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "gridhash.cli", "run", str(path), "--out",
                             str(tmp_path / "o")], stdin=secondary, stdout=secondary,
                            stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")
    os.close(primary)
    text = seen.decode(errors="replace")
    assert "Running HiGHS" not in text and "THIRD_PARTY" not in text, text
    assert "objective" in text  # the summary table arrived


@pytest.mark.parametrize("args", [
    ["size", "--mw", "1e308", "--paths", "1"],
    ["size", "--mw", "nan", "--paths", "1"],
    ["size", "--mw", "-5", "--paths", "1"],
    ["economics", "--power-price", "nan"],
    ["economics", "--power-price", "inf"],
    ["economics", "--power-price", "-1e308"],
])
def test_absurd_numbers_on_the_command_line_are_refused(tmp_path: Path, args: list[str]) -> None:
    res = run_cli(*args, *(["--out", str(tmp_path / "o")] if args[0] == "size" else []))
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and args[1] in res.output
    assert not (tmp_path / "o").exists()
