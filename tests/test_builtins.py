"""Every built-in scenario solves, and its energy accounts balance (1e-6 relative)."""

from __future__ import annotations

import numpy as np
import pytest

from gridhash.pipeline import run_scenario
from gridhash.report.summary import hourly_frame, summary
from gridhash.scenario import builtin_names


@pytest.fixture(params=builtin_names())
def run(request, builtin_run):
    return builtin_run(request.param)


def test_energy_accounts_balance(run) -> None:
    s = summary(run)
    e = s["energy_mwh"]
    lhs = e["generated"] + e["imported"] + e["diesel"] + e["house_load_unsupplied"]
    rhs = e["house_load"] + e["grid"] + e["mining"]
    assert lhs == pytest.approx(rhs, rel=1e-6)
    assert e["curtailed"] == pytest.approx(e["available"] - e["generated"], rel=1e-6, abs=1e-6)
    h = hourly_frame(run)
    np.testing.assert_allclose(
        h["generation_mw"] + h["imported_mw"] + h["diesel_mw"] + h["house_load_unsupplied_mw"],
        h["house_load_mw"] + h["grid_mw"] + h["mining_mw"],
        rtol=1e-6,
        atol=1e-6 * h["available_mw"].max(),
    )
    np.testing.assert_allclose(h["curtailed_mw"], h["available_mw"] - h["generation_mw"])
    assert (h["curtailed_mw"] > -1e-6).all()
    unit_cols = [c for c in h.columns if c.startswith("unit:")]
    np.testing.assert_allclose(h[unit_cols].sum(axis=1), h["generation_mw"])
    # no rounding residue in any hourly figure: 0, or a real amount (the fast path sets
    # what is below 1e-9 MW, or within it of a unit's availability, to the bound)
    power = [c for c in h.columns if c.endswith("_mw") or c.startswith(
        ("unit:", "offtake:", "miner:", "penalty_usd"))]
    assert "house_load_unsupplied_mw" in power and "unit:" in " ".join(power)
    for name in power:
        v = h[name].abs()
        assert not ((v > 0) & (v < 1e-6)).any(), name


def test_money_adds_up_and_penalties_stay_apart(run) -> None:
    s = summary(run)
    rev, cost, pen = s["revenue_usd"], s["cost_breakdown_usd"], s["penalty_usd"]
    assert rev["total"] == pytest.approx(rev["grid"] + rev["mining"], abs=0.02)
    assert s["cost_usd"] == pytest.approx(sum(cost.values()), abs=0.1)
    assert s["net_usd"] == pytest.approx(rev["total"] - s["cost_usd"], abs=0.02)
    assert set(pen) == {"unserved_firm", "station_blackout"}
    # The optimizer's figure is money less the penalties, with the fixed costs (which
    # no decision changes) left out: the penalties are in it, never in net_usd.
    fixed = cost["fleet_capital"] + cost["fixed_om"]
    recomputed = s["net_usd"] + fixed - pen["unserved_firm"] - pen["station_blackout"]
    assert recomputed == pytest.approx(s["solver"]["objective_usd"], rel=1e-6, abs=1.0)
    assert "objective_usd" not in s  # only as the solver's figure
    assert s["solver"]["status"] == "Optimal"
    assert s["hours"] == 8760
    # Every built-in mines except the recorded year, which has no fleet (the plant as it was).
    has_fleet = len(run.inputs.class_names) > 0
    assert (s["btc_mined"] > 0) == has_fleet
    # The months add up to the year.
    for key in ("net_usd", "grid_mwh", "btc_mined", "penalty_usd:unserved_firm"):
        total = sum(m[key] for m in s["monthly"].values())
        year = {"net_usd": s["net_usd"], "grid_mwh": s["energy_mwh"]["grid"],
                "btc_mined": s["btc_mined"],
                "penalty_usd:unserved_firm": pen["unserved_firm"]}[key]
        assert total == pytest.approx(year, rel=1e-9, abs=0.2)
    gen = s["energy_mwh"]["generated"]
    capacity = sum(u["capacity_mw"] for u in s["units"].values())
    # summary.json rounds the capacity factor to 6 decimals
    assert s["capacity_factor"] == pytest.approx(gen / (capacity * s["hours"]), abs=5e-7)


def test_default_scenario_is_znpp_with_six_units() -> None:
    from gridhash.scenario import load_scenario

    sc = load_scenario().scenario
    assert sc.name == "znpp" and len(sc.plant.units) == 6
    assert sum(u.capacity_mw for u in sc.plant.units) == pytest.approx(5700.0)


def test_envelope_is_obeyed_and_explained(run) -> None:
    h = hourly_frame(run)
    assert (h.loc[~h["mining_allowed"], "mining_mw"] <= 1e-6).all()
    assert (h["mining_mw"] <= h["mining_cap_mw"] + 1e-6).all()
    net = h["generation_mw"] - h["house_load_mw"]
    assert (net <= h["envelope_max_net_output_mw"] + 1e-6).all()
    assert (h["generation_mw"] <= h["envelope_max_gross_output_mw"] + 1e-6).all()
    np.testing.assert_allclose(
        h["envelope_max_net_output_mw"],
        (h["envelope_max_gross_output_mw"] - h["house_load_mw"]).clip(lower=0.0))
    s = summary(run)["safety"]
    if run.envelope is None:
        assert s is None and (h["restriction"] == "").all()
    else:
        assert s["hours_restricted"] == int((h["restriction"] != "").sum())
        assert s["hours_mining_blocked"] == int((~h["mining_allowed"]).sum())


def test_znpp_safety_year(builtin_run) -> None:
    """The default year's events act as the rules say (worked from znpp.toml)."""
    run = builtin_run("znpp")
    env = run.envelope
    assert env is not None
    acts = env.rule_activations()
    # Four complete losses of off-site power, as many as in the recorded year 2025
    # (Feb 11 h, Jul 4 5 h in the record's own window, Sep-Oct 30 days, Dec 1 h).
    assert acts["ts-offsite-power-lost"] == 4 and acts["mining-not-on-diesel"] == 4
    record = run_scenario("znpp-record").envelope
    assert record is not None
    assert record.rule_activations()["ts-offsite-power-lost"] == 4
    # July 4 is cut in the same UTC hours in both years (14:00-19:00)
    jul4 = slice(24 * 184 + 14, 24 * 184 + 19)
    assert str(run.inputs.index[jul4.start]) == "2027-07-04 14:00:00+00:00"
    assert env.on_diesel[jul4].all() and record.on_diesel[jul4].all()
    assert not env.on_diesel[jul4.start - 1] and not env.on_diesel[jul4.stop]
    # One line lost beyond 78 h twice (April: 96 h; August: 240 h); the 72 h planned
    # outage of Ferosplavna-1 in June stays within the completion time.
    assert acts["ts-offsite-circuit-lost"] == 2
    assert env.on_diesel.sum() == 11 + 5 + 720 + 1
    # diesel deliveries kept the tanks above zero: no house load unsupplied, exactly (the
    # merit order's rounding residue, 2e-13 MW in 127 hours, is set to its bound)
    assert not run.result.blackout_mw.any()
    assert run.accounts.totals()["hours_station_blackout"][0] == 0
    hourly = run.accounts.hourly()
    for name in ("house_load_unsupplied_mwh", "penalty_usd:station_blackout", "curtailed_mwh",
                 "imported_mwh", "diesel_mwh", "unserved_firm_mwh", "mining_mwh", "grid_mwh"):
        h = np.abs(hourly[name])
        assert not ((h > 0) & (h < 1e-6)).any(), name  # no residue: 0, or a real figure
    # every line has an hourly series, the per-class mining opex too (its rate is shared)
    classes = [n for n in hourly if n.startswith("mining_opex_usd:")]
    assert len(classes) == 2
    np.testing.assert_allclose(sum(hourly[n] for n in classes), hourly["mining_opex_usd"])
    assert run.result.diesel_mw.sum() == pytest.approx(100.0 * (11 + 5 + 720 + 1))
    # The scenario says so where it compares itself with the record.
    assert any("Complete losses of off-site power: 4 here, as in 2025" in a
               for a in run.loaded.scenario.assumptions)


def test_imports_serve_only_the_house_load_the_units_cannot_make(run) -> None:
    h = hourly_frame(run)
    unmade = (h["house_load_mw"] - h["envelope_max_gross_output_mw"]).clip(lower=0.0)
    assert (h["imported_mw"] <= unmade + 1e-6).all()
    # nothing imported reaches the grid or mining: they get at most what the units make
    # beyond the house load (plus diesel and unsupplied house load, which are zero there)
    beyond = (h["generation_mw"] - h["house_load_mw"]).clip(lower=0.0)
    sent = h["grid_mw"] + h["mining_mw"]
    assert (sent <= beyond + h["diesel_mw"] + h["house_load_unsupplied_mw"] + 1e-6).all()


def test_znpp_hour_that_imported_for_house_load_while_delivering_firm_energy(builtin_run) -> None:
    """Hour 2701 (2027-04-23T13:00Z): the envelope lets the units make 380 MW; the plan
    used to import 70 MW "for house load" and deliver 350 MW of firm energy, i.e. pass
    imported power on to the grid.  Now the units make the house load themselves."""
    run = builtin_run("znpp")
    t = 2701
    assert str(run.inputs.index[t]) == "2027-04-23 13:00:00+00:00"
    r, p = run.result, run.problem
    assert p.unit_available_mw[:, t].sum() == pytest.approx(380.0)
    assert p.house_load_mw[t] == pytest.approx(100.0)
    assert r.imported_mw[t] == pytest.approx(0.0, abs=1e-6)
    assert r.unit_mw[:, t].sum() == pytest.approx(380.0)
    assert r.delivered_mw[:, t].sum() == pytest.approx(280.0)
    assert r.unserved_mw[:, t].sum() == pytest.approx(p.offtake_firm_mw[:, t].sum() - 280.0)


def test_znpp_record_reproduces_the_recorded_year() -> None:
    """`gridhash run znpp-record` gives the 2025 record (docs/sources.md §1.4a)."""
    run = run_scenario("znpp-record")
    s = summary(run)
    sf = s["safety"]
    # Hours with 0, 1 and 2 off-site lines, counted by hand from R3-R17:
    # 0 lines: 5 (Jul 4) + 719 (Sep 23-Oct 23) + 1 (Dec 6) + 2 (Dec 13) = 727;
    # 1 line: Ferosplavna-1 out 4,452 h less the 724 with both out, plus Dniprovska
    # out 1,102 h less the 3 with both out = 4,827.
    assert sf["hours_by_offsite_lines"] == {"0": 727, "1": 4827, "2": 3206}
    assert sf["hours_on_diesel"] == 727
    assert sf["diesel_fuel_days_lowest"]["at"] == "2025-09-27T11:00Z"
    # 10 days less the 5 h of July 4 and the 94 h from 13:00 on Sept 23 to 11:00 on
    # Sept 27 (each hour on diesel burns 1/24 day), just before the first delivery.
    assert sf["diesel_fuel_days_lowest"]["days"] == pytest.approx(10 - (5 + 94) / 24, abs=1e-4)
    # The record's fuel comes from its dated deliveries only (resupply_days = 0: no
    # responsive deliveries on top, which would have put ~44 days on site): at its
    # highest, just after the last delivery (2025-10-21 12:00), 10 days less the 5 h
    # of July 4 and the 671 h on diesel from 13:00 on Sept 23, plus 8 + 4 × 6 days
    # delivered = 42 − 676/24 = 13.83 days, the 'two-week reserve' reported (R12).
    fuel = run.envelope.state.quantities["diesel_fuel_days"]
    assert run.envelope.state.resupply_days == 0
    assert fuel.max() == pytest.approx(42 - 676 / 24, abs=1e-9)
    assert str(run.inputs.index[fuel.argmax()]) == "2025-10-21 12:00:00+00:00"
    # The shipped mining rules allow mining only with both lines in service.
    assert sf["share_hours_mining_allowed"] == pytest.approx(3206 / 8760, abs=1e-6)
    assert sf["rule_activations"]["ts-offsite-power-lost"] == 4
    e = s["energy_mwh"]
    assert e["generated"] == 0 and e["mining"] == 0 and e["grid"] == 0
    assert e["diesel"] == pytest.approx(100.0 * 727)
    assert e["imported"] == pytest.approx(100.0 * (8760 - 727))
    assert s["penalty_usd"] == {"unserved_firm": 0, "station_blackout": 0}
    assert all(m == {"cold_shutdown": 8760} for m in sf["unit_hours_by_mode"].values())


def test_report_shows_record_vs_scenario_for_znpp(builtin_run) -> None:
    from gridhash.report.html import record_vs_scenario_table

    table = record_vs_scenario_table(builtin_run("znpp"))
    assert "Record vs scenario" in table and "record 2025" in table
    # single-line hours: record 4,827, the default year 448; ZTPP-Melitopol only in znpp
    assert "<td>hours on a single line</td><td>4,827</td><td>448</td>" in table
    assert "<td>complete losses of off-site power</td><td>4 (longest 719 h)</td>" in table
    assert "ZTPP-Melitopol-330" in table
    assert record_vs_scenario_table(builtin_run("itaipu")) == ""  # another plant
    assert record_vs_scenario_table(builtin_run("znpp-record")) == ""  # the record itself


def test_safety_cli_reports_the_record_figures() -> None:
    import json

    from helpers import run_cli

    res = run_cli("safety", "znpp-record", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["hours_by_offsite_lines"] == {"0": 727, "1": 4827, "2": 3206}
    assert doc["hours_on_diesel"] == 727
    assert doc["share_hours_mining_allowed"] == pytest.approx(3206 / 8760, abs=1e-6)
    text = run_cli("safety", "znpp-record")
    assert text.exit_code == 0
    assert "0 lines: 727 h, 1 line: 4827 h, 2 lines: 3206 h" in text.stdout.replace("\n", " ")
