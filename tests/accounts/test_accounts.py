"""The accounts: every line by hand, periods and paths add up, and every view reads them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridhash.accounts import COST_CATEGORIES, Flows, Rates, account, bad_end

from conftest import tiny_scenario
from helpers import loaded


def _by_hand() -> Any:
    """Two paths × 48 hours (two days, from 23:00 on 31 January: three days, two months),
    one unit, one offtake, one miner class."""
    N, T = 2, 48
    h = np.arange(T, dtype=float)
    gen = np.stack([np.full(T, 90.0), np.full(T, 50.0)])[:, None]  # (N, 1, T)
    delivered = np.stack([np.full(T, 60.0), np.full(T, 30.0)])[:, None]
    mining = gen[:, 0:1] - delivered - 10.0 + np.zeros((N, 1, T))
    blackout = np.zeros((N, T))
    blackout[1, :3] = 10.0  # path 1: three hours of house load unsupplied
    flows = Flows(
        unit_available=np.full((1, 1, T), 100.0),
        unit=gen,
        imported=np.zeros((N, T)),
        diesel=np.zeros((N, T)),
        house_load=np.full((1, T), 10.0),
        house_load_unsupplied=blackout,
        delivered=delivered,
        unserved=np.stack([np.zeros(T), np.full(T, 5.0)])[:, None],
        mining=mining,
        restricted=np.zeros((N, T), dtype=bool) | (h < 5),
        mining_blocked=np.zeros((N, T), dtype=bool),
        on_diesel=np.zeros((N, T), dtype=bool),
    )
    rates = Rates(
        offtake_price_usd_per_mwh=np.full((1, 1, T), 50.0),
        unit_cost_usd_per_mwh=np.full((1, 1, T), 10.0),
        import_price_usd_per_mwh=np.full((1, T), 100.0),
        diesel_cost=300.0,
        btc_per_mwh=np.full((1, 1, T), 0.001),
        mining_usd_per_mwh=np.full((1, 1, T), 80.0),
        mining_opex_usd_per_mwh=np.full((1, T), 4.0),
        unserved_penalty=1000.0,
        blackout_penalty=20_000.0,
        fixed_usd_per_year={"fleet_capital": 8760.0, "fixed_om": 0.0},
        mining_power_price=20.0,
    )
    index = pd.date_range("2027-01-31T23:00Z", periods=T, freq="h")
    return account(flows, rates, unit_names=("U",), offtake_names=("city",),
                   class_names=("S/m",), unit_capacity_mw=np.array([100.0]),
                   plant_capacity_mw=200.0, index=index, objective_usd=[1.0, 2.0])


def test_every_line_by_hand() -> None:
    acc = _by_hand()
    t = acc.totals()
    T = 48
    np.testing.assert_allclose(t["generated_mwh"], [90 * T, 50 * T])
    np.testing.assert_allclose(t["mining_mwh"], [20 * T, 10 * T])
    np.testing.assert_allclose(t["curtailed_mwh"], [10 * T, 50 * T])
    np.testing.assert_allclose(t["grid_revenue_usd"], [60 * 50 * T, 30 * 50 * T])
    np.testing.assert_allclose(t["mining_revenue_usd"], [20 * 80 * T, 10 * 80 * T])
    np.testing.assert_allclose(t["cost_usd:generation"], [900 * T, 500 * T])
    np.testing.assert_allclose(t["cost_usd:mining_opex"], [80 * T, 40 * T])
    np.testing.assert_allclose(t["cost_usd:fleet_capital"], [T, T])
    cost = sum(t[f"cost_usd:{c}"] for c in COST_CATEGORIES)
    np.testing.assert_allclose(t["cost_usd"], cost)
    np.testing.assert_allclose(t["net_usd"], t["revenue_usd"] - t["cost_usd"])
    # Penalties apart: not in net_usd.
    np.testing.assert_allclose(t["penalty_usd:unserved_firm"], [0, 5 * 1000 * T])
    np.testing.assert_allclose(t["penalty_usd:station_blackout"], [0, 30 * 20_000])
    np.testing.assert_allclose(t["btc_mined"], [0.02 * T, 0.01 * T])
    np.testing.assert_allclose(t["mining_power_cost_usd"], [400 * T, 200 * T])
    np.testing.assert_allclose(t["mining_net_usd"],
                               [(1600 - 80 - 400 - 1) * T, (800 - 40 - 200 - 1) * T])
    assert list(t["hours_station_blackout"]) == [0, 3]
    assert list(t["hours_restricted"]) == [5, 5]
    assert t["hours_restricted"].dtype == np.int64
    np.testing.assert_allclose(t["capacity_factor"], [90 / 200, 50 / 200])
    np.testing.assert_allclose(t["capacity_factor:U"], [0.9, 0.5])
    np.testing.assert_allclose(t["objective_usd"], [1.0, 2.0])


def test_days_months_and_hour_slices_add_up_to_the_path() -> None:
    acc = _by_hand()
    t = acc.totals()
    days, by_day = acc.by("day")
    assert days == ["2027-01-31", "2027-02-01", "2027-02-02"]
    months, by_month = acc.by("month")
    assert months == ["2027-01", "2027-02"]
    for name in acc.lines:
        np.testing.assert_allclose(by_day[name].sum(axis=1), t[name], err_msg=name)
        np.testing.assert_allclose(by_month[name].sum(axis=1), t[name], err_msg=name)
    assert by_day["hours_station_blackout"].tolist() == [[0, 0, 0], [1, 2, 0]]
    first, rest = acc.hour_slice(0, 10).totals(), acc.hour_slice(10, 48).totals()
    for name in acc.lines:
        np.testing.assert_allclose(first[name] + rest[name], t[name], err_msg=name)
    with pytest.raises(ValueError, match="freq"):
        acc.by("week")
    with pytest.raises(KeyError, match="no account line"):
        acc.hourly("profit")


def test_bad_end_of_each_metric() -> None:
    for name in ("penalty_usd:unserved_firm", "penalty_usd:station_blackout", "cost_usd",
                 "unserved_firm_mwh", "hours_station_blackout", "diesel_mwh"):
        assert bad_end(name) == "high", name
    for name in ("net_usd", "revenue_usd", "btc_mined", "grid_mwh", "capacity_factor",
                 "mining_net_usd"):
        assert bad_end(name) == "low", name


# --------------------------------------------------------------------------- #
# Views read the accounts
# --------------------------------------------------------------------------- #


def _deal() -> dict[str, Any]:
    return {
        "name": "deal",
        "entitlements": {"a": 0.5, "b": 0.5},
        "parties": [
            {"id": "a", "name": "Owner A", "role": "owner"},
            {"id": "b", "name": "Owner B", "role": "owner"},
            {"id": "city", "name": "City utility", "role": "offtaker"},
        ],
        "obligations": [],
        "prices": [{"offtake": "city", "payer": "city"}],
        "mining": {"owners": {"a": 0.3, "b": 0.7}, "energy_price_usd_per_mwh": 20.0},
        "costs": {"fixed_om_usd_per_year": 1_000_000.0},
        "approval": {"role": "owner", "required": 2, "vetoes": []},
    }


@pytest.fixture(scope="module")
def deal_scenario():
    return loaded(tiny_scenario(hours=72, agreements=[_deal()]))


def test_compare_reads_the_accounts_money_apart_from_penalties(deal_scenario) -> None:
    from gridhash.pipeline import run_scenario
    from gridhash.report.compare import compare_agreements

    row = compare_agreements(deal_scenario, ["deal"])[0]
    t = {k: float(v[0]) for k, v in run_scenario(deal_scenario, agreement="deal")
         .accounts.totals().items()}
    assert row["net_usd"] == pytest.approx(t["net_usd"], abs=0.01)
    assert row["net_usd"] == pytest.approx(row["revenue_usd"] - row["cost_usd"], abs=0.02)
    assert row["penalty_usd"]["unserved_firm"] == pytest.approx(t["penalty_usd:unserved_firm"],
                                                                abs=0.01)
    assert row["btc_mined"] == pytest.approx(t["btc_mined"], abs=1e-8)
    assert "objective_usd" not in row and "optimizer_objective_usd" in row
    # The fixed O&M of the agreement is a cost, pro rata for 72 hours.
    assert t["cost_usd:fixed_om"] == pytest.approx(1_000_000.0 * 72 / 8760)


def test_plan_pages_and_metered_statements_read_the_accounts(deal_scenario) -> None:
    from gridhash.service.plant import Plant
    from gridhash.settlement.statements import meter_records

    plant = Plant(deal_scenario, "deal")
    run = plant.run()
    day = dt.date(2027, 1, 2)
    plan = plant.plan_for_day(day)
    days, by_day = run.accounts.by("day", ("grid_mwh", "net_usd", "penalty_usd:unserved_firm"))
    d = days.index("2027-01-02")
    assert plan["totals_mwh"]["grid"] == pytest.approx(by_day["grid_mwh"][0, d], abs=1e-3)
    assert plan["money_usd"]["net"] == pytest.approx(by_day["net_usd"][0, d], abs=0.01)
    assert plan["penalty_usd"]["unserved_firm"] == pytest.approx(
        by_day["penalty_usd:unserved_firm"][0, d], abs=0.01)
    # Meters that read the plan give the plan's meter record: one accounting.
    first, stop = plant.period_span(1)
    f = run.accounts.flows
    readings: dict[tuple[str, int], float] = {}
    for t in range(first, stop):
        for u, name in enumerate(run.inputs.unit_names):
            readings[(f"unit:{name}", t)] = float(f.unit[0, u, t])
        for o, name in enumerate(run.inputs.offtake_names):
            readings[(f"offtake:{name}", t)] = float(f.delivered[0, o, t])
        for k, name in enumerate(run.inputs.class_names):
            readings[(f"miner:{name}", t)] = float(f.mining[0, k, t])
        readings[("import", t)] = float(f.imported[0, t])
        readings[("diesel", t)] = float(f.diesel[0, t])
    metered = plant.meter_record(1, readings)
    planned = meter_records(run, run.agreement)[1]
    assert metered["start"] == planned["start"] and metered["hours"] == planned["hours"]
    for key in ("offtakes", "miners"):
        assert metered[key].keys() == planned[key].keys()
        for name, v in planned[key].items():
            for field, values in v.items():
                np.testing.assert_allclose(metered[key][name][field], values, atol=1e-9)
    for cat, values in planned["costs_usd"].items():
        np.testing.assert_allclose(metered["costs_usd"][cat], values, rtol=1e-12, atol=1e-9)


def test_a_sweep_without_a_safety_part_equals_run_on_each_path() -> None:
    """The sweep's other branch (no envelope: the plant's own limits with the path's
    outages and line cuts) through the same pipeline as ``gridhash run``."""
    from gridhash.pipeline import run_problem
    from gridhash.risk.models import sample_paths
    from gridhash.risk.sweep import run_paths
    from gridhash.scenario.resolve import resolve

    ld = loaded(tiny_scenario(hours=96))
    assert ld.scenario.safety is None
    ids = [0, 5]
    df = run_paths(ld, ids, seed=4)
    base = resolve(ld)
    rp = sample_paths(base, ids, seed=4, scenario=ld)
    for row, i in enumerate(ids):
        lp = run_problem(ld, rp.inputs_for(base, row), None, solver="lp")
        t = {k: float(v[0]) for k, v in lp.accounts.totals().items()}
        got = df.loc[df["path"] == i].iloc[0]
        shared = [k for k in df.columns if k in t and ":U" not in k]
        assert {"net_usd", "penalty_usd:unserved_firm", "btc_mined", "grid_mwh"} <= set(shared)
        for k in shared:
            assert got[k] == pytest.approx(t[k], rel=1e-6, abs=1e-3), k
