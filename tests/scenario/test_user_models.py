"""Machines the scenario defines (`[[mining.models]]`) and plants that cannot import."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from gridhash.bitcoin.catalogue import get_model, load_catalogue, released_by
from gridhash.errors import CatalogueError, ScenarioError
from gridhash.scenario.resolve import resolve, scenario_models

from conftest import tiny_scenario
from helpers import loaded, run_cli, write_scenario

HAND = {
    "name": "Hand-1",
    "hashrate_th_s": 100.0,
    "power_w": 2000.0,
    "price_usd": 1000.0,
    "release": date(2026, 1, 1),
    "source": "a made-up data sheet for the test",
}


def with_models(*models: dict, fleet: list[dict] | None = None, **over) -> dict:
    data = tiny_scenario(**over)
    data["mining"]["models"] = [copy.deepcopy(m) for m in models]
    if fleet is not None:
        data["mining"]["fleet"] = fleet
    return data


def test_a_fleet_uses_a_user_model_like_a_catalogue_one() -> None:
    data = with_models(HAND, fleet=[{"model": "Hand-1", "count": 1000, "site": "S"},
                                    {"model": "Antminer S21 XP", "count": 10, "site": "S"}])
    i = resolve(loaded(data))
    hand = i.class_models[0]
    assert hand.name == "Hand-1" and hand.manufacturer == "user-defined"
    assert hand.efficiency_j_per_th == pytest.approx(20.0)
    assert hand.released == "2026-01-01" and hand.price_usd == 1000.0
    assert i.class_models[1] is get_model("Antminer S21 XP")
    # 1,000 × 2 kW × (1 + 5 % cooling) = 2.1 MW
    assert i.class_max_mw[0] == pytest.approx(2.1)


def test_user_model_lookup_is_case_insensitive_like_the_catalogue() -> None:
    data = with_models(HAND, fleet=[{"model": "hand-1", "count": 1, "site": "S"}])
    assert resolve(loaded(data)).class_models[0].name == "Hand-1"


@pytest.mark.parametrize("name", ["Antminer S21 XP", "antminer  s21 xp"])
def test_a_name_clashing_with_the_catalogue_is_an_error_naming_both(name: str) -> None:
    data = with_models({**HAND, "name": name})
    with pytest.raises(ScenarioError) as err:
        resolve(loaded(data))
    text = str(err.value)
    assert name in text and "'Antminer S21 XP'" in text and "Bitmain" in text
    assert err.value.field == "mining.models[0].name"


def test_a_clash_is_exit_2_in_the_cli(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, with_models({**HAND, "name": "Antminer S21"}))
    r = run_cli("economics", str(path), "--power-price", "50")
    assert r.exit_code == 2
    assert "Antminer S21" in r.output and "mining.models[0].name" in r.output
    assert "Traceback" not in r.output


def test_duplicate_user_model_names_are_an_error() -> None:
    from gridhash.scenario.load import validate

    with pytest.raises(ScenarioError, match="duplicate model name 'Hand-1'"):
        validate(with_models(HAND, HAND), source="test")


@pytest.mark.parametrize(
    ("field", "value"),
    [("hashrate_th_s", 0.0), ("power_w", -1.0), ("price_usd", -5.0), ("source", "")],
)
def test_bad_user_model_fields_are_named(field: str, value: object) -> None:
    from gridhash.scenario.load import validate

    with pytest.raises(ScenarioError) as err:
        validate(with_models({**HAND, field: value}), source="test")
    assert f"mining.models[0].{field}" in str(err.value)


def test_economics_lists_user_models_with_the_catalogue(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, with_models(HAND))
    r = run_cli("economics", str(path), "--catalogue", "--power-price", "50")
    assert r.exit_code == 0, r.output
    assert "Hand-1" in r.stdout and "Antminer S21 XP" in r.stdout


def test_size_offers_only_models_released_by_the_horizon_start() -> None:
    from gridhash.risk.sizing import size_candidates

    early = {**HAND, "name": "Early", "release": date(2026, 6, 1)}
    late = {**HAND, "name": "Late", "release": date(2027, 6, 1)}
    ld = loaded(with_models(early, late))  # the horizon starts on 2027-01-01
    cands = size_candidates(ld)
    assert "Early" in cands and "Late" not in cands
    start = date(2027, 1, 1)
    known = scenario_models(ld)
    on_sale = sorted((m for m in known.values() if released_by(m, start)),
                     key=lambda m: m.efficiency_j_per_th)
    assert cands[:3] == [m.name for m in on_sale[:3]]
    assert all(released_by(known[c], start) for c in cands)
    with pytest.raises(CatalogueError, match="released 2027-06-01, after the horizon starts"):
        size_candidates(ld, ["Late"])
    assert size_candidates(ld, ["early", "Antminer S21"]) == ["Early", "Antminer S21"]


def test_released_by_reads_years_and_months_as_their_last_day() -> None:
    cat = load_catalogue()
    s23 = cat["Antminer S23 Hydro 3U"]  # released "2026-01"
    assert not released_by(s23, date(2026, 1, 30))
    assert released_by(s23, date(2026, 1, 31))
    s21xp = cat["Antminer S21 XP"]  # released "2024"
    assert not released_by(s21xp, date(2024, 12, 30)) and released_by(s21xp, date(2024, 12, 31))
    assert released_by(cat["Whatsminer M66S+"], date(2000, 1, 1))  # "unknown": on sale


def test_the_risk_sweep_runs_a_user_model_fleet() -> None:
    from gridhash.risk.sweep import sweep

    data = with_models(HAND, fleet=[{"model": "Hand-1", "count": 5000, "site": "S"}], hours=24)
    df = sweep(loaded(data), 2, seed=1)
    assert len(df) == 2 and (df["btc_mined"] > 0).all()


# --------------------------------------------------------------------------- #
# An analytic scenario solved by hand
# --------------------------------------------------------------------------- #


def analytic() -> dict:
    """One 100 MW unit at 2 USD/MWh, 10 MW house load, a 30 MW line to a buyer at
    50 USD/MWh, and 25,000 user-defined machines of 100 TH/s at 2,000 W (50 MW, no
    cooling, no pool fee, no opex); BTC 100,000 USD, difficulty 1e14, no fees,
    subsidy 3.125 BTC (height 900,000), two hours."""
    return {
        "name": "hand",
        "horizon": {"start": "2027-01-01T00:00:00Z", "hours": 2},
        "plant": {"name": "P", "house_load_mw": 10.0,
                  "units": [{"name": "U", "capacity_mw": 100.0,
                             "marginal_cost_usd_per_mwh": 2.0}]},
        "grid": {"offtakes": [{"name": "city", "price_usd_per_mwh": 50.0, "demand_mw": 30.0}],
                 "lines": [{"name": "L", "serves": "city", "capacity_mw": 30.0}],
                 "import_price_usd_per_mwh": 200.0,
                 "unserved_penalty_usd_per_mwh": 1.0e6},
        "mining": {"sites": [{"name": "S", "capacity_mw": 100.0}],
                   "models": [copy.deepcopy(HAND)],
                   "fleet": [{"model": "Hand-1", "count": 25_000, "site": "S"}],
                   "cooling_overhead": 0.0, "pool_fee": 0.0, "opex_usd_per_mwh": 0.0},
        "bitcoin": {"price_usd": 100_000.0, "difficulty": 1.0e14, "fees_btc_per_block": 0.0,
                    "start_height": 900_000},
    }


def test_analytic_scenario_matches_the_hand_solution() -> None:
    """Hand solution.

    A MWh drawn by a 20 J/TH machine is 3.6e9 J / 20 J/TH = 1.8e8 TH = 1.8e20 hashes;
    a block takes 1e14 · 2^32 = 4.294967296e23 hashes on average, so a MWh finds
    1.8e20 / 4.294967296e23 = 4.1909516e-4 blocks, i.e. 1.3096724e-3 BTC
    (× 3.125) worth 130.967 USD at 100,000 USD/BTC.  That beats the grid's
    50 USD/MWh, so each hour: the fleet's whole 50 MW mines, the line's 30 MW go
    to the grid, 10 MW of house load; the unit makes 90 MW (of 100).  Per hour:
    BTC 50 × 1.3096724e-3 = 0.06548362; objective 30 × 50 + 50 × 130.967 − 90 × 2
    = 7,868.36 USD.  Two hours: 0.13096724 BTC and 15,736.72 USD.
    """
    from gridhash.pipeline import run_scenario

    run = run_scenario(loaded(analytic()))
    r = run.result
    btc_per_mwh = 3.6e9 / 20.0 * 1e12 / (1e14 * 2**32) * 3.125
    assert btc_per_mwh == pytest.approx(1.3096724e-3, rel=1e-7)
    np.testing.assert_allclose(r.unit_mw[0], [90.0, 90.0], atol=1e-6)
    np.testing.assert_allclose(r.mining_mw[0], [50.0, 50.0], atol=1e-6)
    np.testing.assert_allclose(r.delivered_mw[0], [30.0, 30.0], atol=1e-6)
    np.testing.assert_allclose(r.imported_mw, [0.0, 0.0], atol=1e-6)
    assert r.objective_usd == pytest.approx(2 * (30 * 50 + 50 * 130.96724 - 90 * 2), rel=1e-6)
    assert r.objective_usd == pytest.approx(15_736.72, abs=0.05)
    btc = float((r.mining_mw[0] * btc_per_mwh).sum())
    assert btc == pytest.approx(0.13096724, rel=1e-7)


# --------------------------------------------------------------------------- #
# Plants that cannot import
# --------------------------------------------------------------------------- #


def test_imports_allowed_false_leaves_no_import() -> None:
    from gridhash.dispatch import build_problem

    base = build_problem(resolve(loaded(tiny_scenario())))
    assert base.import_cap_mw.max() == pytest.approx(10.0)  # the house load
    no = build_problem(resolve(loaded(tiny_scenario(grid__imports_allowed=False))))
    assert np.all(no.import_cap_mw == 0.0)
    capped = build_problem(resolve(loaded(tiny_scenario(grid__import_cap_mw=4.0))))
    np.testing.assert_allclose(capped.import_cap_mw, 4.0)


def test_imports_allowed_false_reaches_the_safety_envelope() -> None:
    from gridhash.safety import envelope_for
    from gridhash.scenario.load import load_scenario

    ld = load_scenario("znpp-record")
    env = envelope_for(ld, resolve(ld))
    assert env is not None and env.import_cap_mw.max() == pytest.approx(100.0)
    sc = ld.scenario
    grid = sc.grid.model_copy(update={"imports_allowed": False})
    no = type(ld)(sc.model_copy(update={"grid": grid}), ld.source, ld.base_dir, "")
    env = envelope_for(no, resolve(no))
    assert env is not None and np.all(env.import_cap_mw == 0.0)


def test_a_negative_import_cap_is_refused() -> None:
    with pytest.raises(ScenarioError, match="import_cap_mw"):
        resolve(loaded(tiny_scenario(grid__import_cap_mw=[-1.0] * 48)))


def test_size_refuses_an_unreleased_model_with_exit_2(tmp_path: Path) -> None:
    late = {**HAND, "name": "Late", "release": date(2027, 6, 1)}
    path = write_scenario(tmp_path, with_models(late))
    r = run_cli("size", str(path), "--model", "Late", "--paths", "1", "--out", str(tmp_path))
    assert r.exit_code == 2
    assert "released 2027-06-01" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "size.json").exists()
