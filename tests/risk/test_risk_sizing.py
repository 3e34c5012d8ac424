"""Fleet sizing: candidates on common paths, NPV arithmetic, the choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gridhash.risk.sizing import _projection, _with_fleet, size_fleet
from gridhash.scenario.load import load_scenario
from gridhash.scenario.resolve import resolve

from helpers import run_cli


@pytest.fixture(scope="module")
def znpp():
    return load_scenario("znpp")


def test_candidate_fleet_has_the_asked_mw_over_the_sites(znpp) -> None:
    cand = _with_fleet(znpp, "Antminer S19j Pro", 300.0)
    i = resolve(cand)
    assert set(i.class_models[k].name for k in range(len(i.class_names))) == {"Antminer S19j Pro"}
    assert i.class_max_mw.sum() == pytest.approx(300.0, rel=1e-3)
    # 250 and 200 MW sites: 5/9 and 4/9 of the fleet.
    assert i.class_max_mw[0] / i.class_max_mw.sum() == pytest.approx(250 / 450, rel=1e-3)


def test_projection_discounts_and_halves_by_hand(znpp) -> None:
    f = _projection(znpp, 3, 0.10)
    i = resolve(znpp)
    g = (i.btc_price_usd[-1] / i.btc_price_usd[0]) / (i.difficulty[-1] / i.difficulty[0])
    g = float(g) ** (8760 / (i.hours - 1))
    assert f[0] == pytest.approx(1 / 1.1)
    # Height 982,500 + 52,560 blocks a year: the 1,050,000 halving falls in year 2, so
    # year 3's subsidy is half of year 1's; fees stay.
    fees = 0.03
    assert f[2] == pytest.approx(g**2 * (1.5625 + fees) / (3.125 + fees) / 1.1**3, rel=1e-9)
    assert 0 < f[1] < f[0]


def test_size_values_candidates_with_the_valuation_of_economics(znpp) -> None:
    """One valuation: a candidate's NPV is lifetime_value of its paths' first year, with
    the power price of its own dispatch (as gridhash economics takes it)."""
    from gridhash.bitcoin.economics import lifetime_value
    from gridhash.risk.sizing import _factors, _fleet_power_price
    from gridhash.risk.sweep import sweep

    res = size_fleet(znpp, models=["Antminer S21 XP"], mw_levels=[0.0, 150.0], paths=2, seed=1)
    row = next(r for r in res["candidates"] if r["mw"] == 150.0)
    cand = _with_fleet(znpp, "Antminer S21 XP", 150.0)
    df = sweep(cand, 2, seed=1)
    pp = _fleet_power_price(cand)
    assert row["power_price_usd_per_mwh"] == pytest.approx(pp)
    mwh = df["mining_mwh"].to_numpy()
    # A path may mine nothing all year (with seed 1 one of the two is restricted every
    # hour): its opex per MWh is 0, as size_fleet takes it, not 0/0.
    opex = np.divide(df["mining_opex_usd"].to_numpy(), mwh, out=np.zeros(len(mwh)),
                     where=mwh > 0)
    v = lifetime_value(df["mining_revenue_usd"].to_numpy(), mwh, row["capex_usd"],
                       power_price_usd_per_mwh=pp, factors=_factors(znpp, res["lifetime_years"]),
                       opex_usd_per_mwh=opex,
                       discount_rate=res["discount_rate"],
                       resale_fraction=res["resale_fraction"])
    assert row["npv_mean_usd"] == pytest.approx(float(np.mean(v.npv_usd)), rel=1e-9)
    assert 0.0 < row["uptime_mean"] < 1.0
    assert row["breakeven_btc_usd"] > 0 and row["breakeven_hashprice_usd_per_ph_day"] > 0
    if all(r["objective_usd"] <= 0 for r in res["candidates"]):
        assert res["best"]["model"] is None and res["choice"].startswith("buy nothing")


def test_size_fleet_values_candidates_on_common_paths(znpp) -> None:
    res = size_fleet(znpp, models=["Antminer S21 XP"], mw_levels=[0.0, 100.0, 200.0], paths=3,
                     seed=2)
    rows = {r["mw"]: r for r in res["candidates"]}
    assert rows[0.0]["npv_mean_usd"] == 0.0 and rows[0.0]["machines"] == 0
    assert rows[200.0]["capex_usd"] == pytest.approx(2 * rows[100.0]["capex_usd"], rel=1e-3)
    assert res["best"]["objective_usd"] == max(r["objective_usd"] for r in res["candidates"])
    q = size_fleet(znpp, models=["Antminer S21 XP"], mw_levels=[100.0], paths=3, seed=2,
                   quantile=0.05)
    assert q["candidates"][0]["objective_usd"] <= rows[100.0]["npv_mean_usd"] + 1e-6
    assert np.isclose(q["candidates"][0]["npv_mean_usd"], rows[100.0]["npv_mean_usd"])


def test_cli_size(tmp_path: Path) -> None:
    res = run_cli("size", "znpp", "--paths", "2", "--model", "Antminer S19j Pro", "--mw", "0",
                  "--mw", "100", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "size.json").read_text())
    assert len(doc["candidates"]) == 2 and "best" in doc
    assert doc["scenario_line_cuts"] is False  # the sampled cuts replace znpp's own
    both = run_cli("size", "znpp", "--paths", "2", "--model", "Antminer S19j Pro", "--mw", "100",
                   "--scenario-line-cuts", "--out", str(tmp_path / "both"))
    assert both.exit_code == 0, both.output
    kept = json.loads((tmp_path / "both" / "size.json").read_text())
    assert kept["scenario_line_cuts"] is True
    # More line cuts never mine more.
    assert kept["candidates"][0]["btc_mined_mean"] <= doc["candidates"][1]["btc_mined_mean"]
    html = (tmp_path / "size.html").read_text()
    assert "Fleet value against size" in html
    # the terminal, size.json and the chart say the same thing (not "buy nothing" beside
    # "best: <model>, 0 MW")
    if doc["best"]["model"] is None:
        assert doc["choice"].startswith("buy nothing")
        assert "buy nothing" in html and ", 0 MW" not in html
        assert "buy nothing" in " ".join(res.stdout.split())
    else:
        assert doc["choice"] in html
    bad = run_cli("size", "znpp", "--model", "Antminer S99", "--out", str(tmp_path))
    assert bad.exit_code == 2 and "S99" in bad.stderr
