"""A plan says why a site is at 0 MW in a demand-response hour: in the plan API, on
the plan page, and in the signed setpoint the site agent receives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from service_helpers import NOW, LoadedScenario, make_harness, scenario_data, setpoint_of
from test_service_api import approve, propose

from gridhash.scenario.load import validate

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def dr_scenario() -> LoadedScenario:
    data = scenario_data(96)
    s, t = data["mining"]["sites"]
    # S: the city's market price above 65 USD/MWh for 2 h curtails it (evening peaks);
    # T: the grid operator calls it around the harness's 10:30 on 2 January.
    s["demand_response"] = {"strike_usd_per_mwh": 65.0, "hours_above": 2, "hours_below": 2,
                            "min_hold_hours": 3, "price_offtake": "city"}
    t["demand_response"] = {"strike_usd_per_mwh": 1000.0, "availability_usd_per_mw_h": 2.0,
                            "calls": [{"start": "2027-01-02T09:00:00Z", "hours": 3,
                                       "reason": "test call"}]}
    return LoadedScenario(validate(data, source="svc-dr"), "svc-dr", None, "")


def test_plans_and_setpoints_name_the_demand_response_rule_holding_a_site_at_zero(
        tmp_path: Path) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'svc.db'}", tmp_path, scenario=dr_scenario())
    plan = propose(h)
    data = plan["plan"]
    limits, caps, sites = data["site_limits"], data["site_cap_mw"], data["sites"]
    hour = NOW.hour
    # T is called at 09:00-12:00: cap 0, and the plan says why.
    for k in (9, 10, 11):
        assert caps["T"][k] == 0.0 and sites["T"][k] == 0.0
        assert limits["T"][k]["constraint"] == "demand_response"
        assert limits["T"][k]["code"] == "called"
        assert "called by the grid operator" in limits["T"][k]["detail"]
    assert limits["T"][8] is None and limits["T"][12] is None
    # S: curtailed hours by its price rule, each named with its levels.
    held = [k for k in range(24) if limits["S"][k]]
    assert held and all(caps["S"][k] == 0.0 == sites["S"][k] for k in held)
    codes = {limits["S"][k]["code"] for k in held}
    assert "above_strike" in codes
    first = next(limits["S"][k] for k in held if limits["S"][k]["code"] == "above_strike")
    m = re.fullmatch(r"demand response at S: price above the strike \(65 USD/MWh\) for "
                     r"(\d+) h \(curtails after 2 h\)", first["detail"])
    assert m and int(m.group(1)) >= 2, first
    assert all(limits["S"][k] is None for k in range(24) if caps["S"][k] > 0)
    # the plan API returns the same (GET /api/plans/{id})
    again = h.get(f"/api/plans/{plan['id']}", "audit").json()["plan"]
    assert again["site_limits"] == limits

    approve(h, plan["id"], "own-a", "own-b")
    sp = setpoint_of(h.get("/api/sites/T/setpoint", "site:T"))
    assert sp["mw_cap"] == 0.0 and sp["limit"]["code"] == "called"
    assert sp["reason"] == (f"plan {plan['id']} (2027-01-02), hour {hour}: demand response "
                            "at T: called by the grid operator")
    sp = setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))
    assert sp["limit"] == limits["S"][hour]
    assert (sp["limit"] is None) == (sp["mw_cap"] > 0 or caps["S"][hour] > 0)

    # the plan page shows each limit next to the site's setpoint
    h.client.cookies.set("gridhash_token", h.tokens["own-a"])
    page = h.client.get(f"/ui/plans/{plan['id']}")
    assert page.status_code == 200
    assert "site limits" in page.text
    assert "demand response at T: called by the grid operator" in page.text
    assert first["detail"] in page.text
    h.client.cookies.clear()


def test_metered_statements_carry_the_demand_response_payments_in_cents(
        tmp_path: Path) -> None:
    """The service's statements from meter readings: each site's programme payments are
    pools and owners' lines in cents, read from the plan's accounts (the metered flows do
    not change them), and the ledger recomputes them."""
    from service_helpers import readings_for

    h = make_harness(f"sqlite:///{tmp_path / 'svc.db'}", tmp_path, scenario=dr_scenario())
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 24)})
    r = h.post("/api/statements", "op", {"period": 0})
    assert r.status_code == 201, r.text
    doc = h.get("/api/statements/0", "audit").json()
    pools = {p["pool"]: p for p in doc["pools"]}
    acc = h.svc.plant.run().accounts.hour_slice(0, 24)
    for site in ("S", "T"):
        for kind in ("availability", "energy"):
            line = f"demand_response_{kind}_usd:{site}"
            pool = pools[f"demand_response:{kind}:{site}"]
            assert pool["total"] == round(float(acc.totals((line,))[line][0]) * 100)
            assert set(pool["allocated"]) == {"own-a", "own-b"}  # the fleet's owners
    assert pools["demand_response:availability:T"]["total"] == 24 * 10 * 2 * 100
    by = {s["party"]: s for s in doc["statements"]}
    assert by["own-a"]["demand_response_cents"] + by["own-b"]["demand_response_cents"] == sum(
        p["total"] for k, p in pools.items() if k.startswith("demand_response:"))
    assert h.get("/api/ledger/verify", "audit").json()["ok"]
