"""Every built-in scenario solves, and its energy accounts balance (1e-6 relative)."""

from __future__ import annotations

import numpy as np
import pytest

from gridhash.pipeline import run_scenario
from gridhash.report.summary import hourly_frame, summary
from gridhash.scenario import builtin_names


@pytest.fixture(scope="module", params=builtin_names())
def run(request):
    return run_scenario(request.param)


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


def test_money_adds_up(run) -> None:
    s = summary(run)
    rev = s["revenue_usd"]
    assert rev["total"] == pytest.approx(rev["grid"] + rev["mining"], abs=0.02)
    recomputed = (
        rev["total"] - s["cost_usd"] - s["unserved_penalty_usd"] - s["blackout_penalty_usd"]
    )
    assert recomputed == pytest.approx(s["objective_usd"], rel=1e-6)
    assert s["solver"]["status"] == "Optimal"
    assert s["hours"] == 8760
    assert s["btc_mined"] > 0


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


def test_znpp_safety_year() -> None:
    """The default year's events act as the rules say (worked from znpp.toml)."""
    run = run_scenario("znpp")
    env = run.envelope
    assert env is not None
    acts = env.rule_activations()
    # Three complete losses of off-site power (Feb 11 h, Sep-Oct 30 days, Dec 1 h).
    assert acts["ts-offsite-power-lost"] == 3 and acts["mining-not-on-diesel"] == 3
    # One line lost beyond 78 h twice (April: 96 h; August: 240 h); the 72 h planned
    # outage of Ferosplavna-1 in June stays within the completion time.
    assert acts["ts-offsite-circuit-lost"] == 2
    assert env.on_diesel.sum() == 11 + 720 + 1
    assert run.result.blackout_mw.sum() == 0  # diesel deliveries kept the tanks above zero
    assert run.result.diesel_mw.sum() == pytest.approx(100.0 * (11 + 720 + 1))


def test_imports_serve_only_the_house_load_the_units_cannot_make(run) -> None:
    h = hourly_frame(run)
    unmade = (h["house_load_mw"] - h["envelope_max_gross_output_mw"]).clip(lower=0.0)
    assert (h["imported_mw"] <= unmade + 1e-6).all()
    # nothing imported reaches the grid or mining: they get at most what the units make
    # beyond the house load (plus diesel and unsupplied house load, which are zero there)
    beyond = (h["generation_mw"] - h["house_load_mw"]).clip(lower=0.0)
    sent = h["grid_mw"] + h["mining_mw"]
    assert (sent <= beyond + h["diesel_mw"] + h["house_load_unsupplied_mw"] + 1e-6).all()


def test_znpp_hour_that_imported_for_house_load_while_delivering_firm_energy() -> None:
    """Hour 2701 (2027-04-23T13:00Z): the envelope lets the units make 380 MW; the plan
    used to import 70 MW "for house load" and deliver 350 MW of firm energy, i.e. pass
    imported power on to the grid.  Now the units make the house load themselves."""
    run = run_scenario("znpp")
    t = 2701
    assert str(run.inputs.index[t]) == "2027-04-23 13:00:00+00:00"
    r, p = run.result, run.problem
    assert p.unit_available_mw[:, t].sum() == pytest.approx(380.0)
    assert p.house_load_mw[t] == pytest.approx(100.0)
    assert r.imported_mw[t] == pytest.approx(0.0, abs=1e-6)
    assert r.unit_mw[:, t].sum() == pytest.approx(380.0)
    assert r.delivered_mw[:, t].sum() == pytest.approx(280.0)
    assert r.unserved_mw[:, t].sum() == pytest.approx(p.offtake_firm_mw[:, t].sum() - 280.0)
