"""Demand response: the shared curtailment rule on price series constructed by hand
(hysteresis in time and in price, minimum hold, high strike, calls, unknown prices), the
planner honouring it, and the programme's revenue."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridhash.demand_response import (
    ABOVE_STRIKE,
    CALLED,
    HELD,
    HIGH_STRIKE,
    MINING,
    WAITING,
    CurtailmentRule,
    Programme,
    RuleState,
    curtailment,
    dr_revenue,
    site_programmes,
)

from conftest import tiny_scenario
from helpers import run_cli, write_scenario

A, H, X, C, M, W = ABOVE_STRIKE, HELD, HIGH_STRIKE, CALLED, MINING, WAITING
nan = math.nan


def codes(prices: list[float], rule: CurtailmentRule, called: list[bool] | None = None
          ) -> list[int]:
    return curtailment(np.array(prices), rule,
                       None if called is None else np.array(called))[0].tolist()


def test_hysteresis_curtail_after_n_above_resume_after_m_below() -> None:
    rule = CurtailmentRule(strike=100, hours_above=2, hours_below=3)
    prices = [50, 120, 130, 90, 80, 95, 110, 90, 120, 120]
    #        one hour above is not enough; the 2nd is curtailed; 3 below resume at the 3rd
    #        (the two before it: waiting for the 3rd hour below)
    assert codes(prices, rule) == [M, M, A, W, W, M, M, M, M, A]
    # above the strike while curtailed: the reason stays "above the strike"
    assert codes([120, 130, 140, 90, 90, 90], rule) == [M, A, A, W, W, M]


def test_minimum_hold_keeps_a_curtailment_however_low_the_price() -> None:
    rule = CurtailmentRule(strike=100, hours_above=1, hours_below=1, min_hold_hours=4)
    assert codes([150, 50, 50, 50, 50, 50], rule) == [A, H, H, H, M, M]
    # without the hold it resumes at the first hour below
    assert codes([150, 50, 50], CurtailmentRule(strike=100)) == [A, M, M]


def test_high_strike_curtails_at_once_and_the_resume_level_below_the_strike() -> None:
    rule = CurtailmentRule(strike=100, hours_above=3, high_strike=300)
    assert codes([50, 400, 50, 50], rule) == [M, X, M, M]
    assert codes([120, 120, 400], rule) == [M, M, X]  # high before the 3rd hour above
    rule = CurtailmentRule(strike=100, resume=80)
    assert codes([120, 90, 95, 70, 90], rule) == [A, W, W, M, M]  # 90 is not below 80
    # a high-strike hour inside a curtailment says so; the hold counts from its start
    rule = CurtailmentRule(strike=100, high_strike=300, min_hold_hours=3)
    assert codes([50, 400, 50, 400, 50, 50, 50], rule) == [M, X, H, X, M, M, M]


def test_calls_curtail_whatever_the_price_and_unknown_prices_pause_the_runs() -> None:
    rule = CurtailmentRule(strike=100, hours_above=2)
    assert codes([10, 10, 10], rule, [False, True, False]) == [M, C, M]
    assert codes([120, nan, 120], rule) == [M, M, A]
    assert codes([120, 50, 120], rule) == [M, M, M]
    only_calls = curtailment(np.array([500.0, 500.0]), None, np.array([True, False]))[0]
    assert only_calls.tolist() == [C, M]


PRICE = st.one_of(st.sampled_from([50.0, 90.0, 100.0, 120.0, 300.0, 400.0, nan]),
                  st.floats(0, 500))


@given(st.integers(0, 48).flatmap(lambda T: st.lists(st.lists(PRICE, min_size=T, max_size=T),
                                                     min_size=1, max_size=4)),
       st.integers(1, 4), st.integers(1, 4), st.integers(0, 6),
       st.sampled_from([None, 300.0]), st.sampled_from([None, 95.0]),
       st.builds(RuleState, st.booleans(), st.integers(0, 4), st.integers(0, 4),
                 st.integers(1, 6)),
       st.lists(st.booleans(), min_size=48, max_size=48))
def test_the_vectorised_rule_equals_stepping_it_hour_by_hour_path_by_path(
        paths: list[list[float]], n: int, m: int, hold: int, high: float | None,
        resume: float | None, start: RuleState, calls: list[bool]) -> None:
    """:func:`curtailment` over N series at once (the sweep's paths) gives, for each
    series, exactly what :meth:`RuleState.step` gives hour by hour on it alone: the
    codes and the state after the last hour (from any state before the first)."""
    rule = CurtailmentRule(strike=100, hours_above=n, hours_below=m, min_hold_hours=hold,
                           high_strike=high, resume=resume)
    if not start.curtailed:
        start = RuleState(False, start.run_above, start.run_below, 0)
    prices = np.array(paths, dtype=float).reshape(len(paths), -1)
    called = np.array(calls[:prices.shape[1]], dtype=bool)
    batch, _ = curtailment(prices, rule, called, start)
    for row, series in enumerate(prices):
        s, spec = start, []
        for t, p in enumerate(series):
            s, code = s.step(rule, float(p), bool(called[t]))
            spec.append(code)
        alone, end = curtailment(series, rule, called, start)
        assert batch[row].tolist() == spec == alone.tolist()
        assert end == s


@given(st.lists(st.floats(0, 400), min_size=1, max_size=60), st.integers(0, 60),
       st.integers(1, 4), st.integers(1, 4), st.integers(0, 5))
def test_the_agent_hour_by_hour_equals_the_planner(prices: list[float], cut: int, n: int,
                                                   m: int, hold: int) -> None:
    """The agent steps the rule as prices arrive; the planner runs it over the series."""
    rule = CurtailmentRule(strike=150, hours_above=n, hours_below=m, min_hold_hours=hold,
                           high_strike=350)
    whole, end = curtailment(np.array(prices), rule)
    cut = min(cut, len(prices))
    first, state = curtailment(np.array(prices[:cut]), rule)
    live = list(first)
    for p in prices[cut:]:
        state, code = state.step(rule, p)
        live.append(code)
    assert live == whole.tolist() and state == end
    # a curtailment that began lasts at least the minimum hold (unless the series ends)
    c = (whole != 0).astype(int).tolist()
    starts = [t for t in range(len(c)) if c[t] and (t == 0 or not c[t - 1])]
    for t in starts:
        run = len(c[t:]) if 0 not in c[t:] else c[t:].index(0)
        assert run >= min(hold, len(c) - t)


def test_rule_levels_are_checked() -> None:
    with pytest.raises(ValueError, match="resume"):
        CurtailmentRule(strike=100, resume=120)
    with pytest.raises(ValueError, match="high strike"):
        CurtailmentRule(strike=100, high_strike=50)
    assert RuleState().step(CurtailmentRule(strike=1), 2.0)[1] == A


def test_site_programmes_per_path_equal_each_path_alone() -> None:
    """The sweep's call: every site's codes, capacity and payments over N price paths
    equal the same function on each path's prices alone; sites without a programme and
    hours out keep their capacity and earn nothing."""
    rng = np.random.default_rng(4)
    prices = rng.choice([40.0, 90.0, 130.0, 450.0], size=(5, 2, 30))  # (N, O, T)
    cap = np.full((3, 30), 12.0)
    cap[0, 10:12] = 0.0  # site 0 out
    called = np.zeros((3, 30), dtype=bool)
    called[1, 3:5] = True
    progs = [Programme(CurtailmentRule(strike=100, hours_above=2, min_hold_hours=2,
                                       high_strike=400), price_offtake=1, enrolled_mw=10.0,
                       availability_usd_per_mw_h=1.5, curtailed_usd_per_mwh=30.0),
             Programme(None, price_offtake=0, availability_usd_per_mw_h=2.0,
                       curtailed_usd_per_mwh=40.0),
             None]
    batch = site_programmes(progs, prices, called, cap)
    assert batch.codes.shape == batch.site_capacity_mw.shape == (5, 3, 30)
    for n in range(5):
        one = site_programmes(progs, prices[n], called, cap)
        for name in ("codes", "site_capacity_mw", "availability_usd", "energy_usd"):
            assert np.array_equal(getattr(batch, name)[n], getattr(one, name)), (n, name)
        want, _ = curtailment(prices[n, 1], progs[0].rule)
        assert np.array_equal(one.codes[0], want)
        assert np.array_equal(one.site_capacity_mw[0], np.where(want != 0, 0.0, cap[0]))
        assert one.availability_usd[0].tolist() == [0.0 if 10 <= t < 12 else 15.0
                                                    for t in range(30)]
    assert batch.codes[:, 1].tolist() == [[C if 3 <= t < 5 else M for t in range(30)]] * 5
    assert batch.energy_usd[:, 1].sum(axis=-1).tolist() == [2 * 12.0 * 40.0] * 5
    assert not batch.codes[:, 2].any() and (batch.site_capacity_mw[:, 2] == 12.0).all()
    assert not batch.availability_usd[:, 2].any()


def test_programme_revenue_by_hand() -> None:
    enrolled = np.array([20.0, 20.0, 0.0, 20.0])
    called = np.array([M, C, C, A])
    avail, energy = dr_revenue(enrolled, called, 2.5, 40.0)
    assert avail.tolist() == [50.0, 50.0, 0.0, 50.0]
    assert energy.tolist() == [0.0, 800.0, 0.0, 0.0]  # only called hours, only what was there


def test_the_planner_never_mines_in_curtailed_hours(tmp_path: Path) -> None:
    from gridhash.pipeline import run_scenario
    from gridhash.report.summary import summary
    from gridhash.scenario.load import load_scenario

    hours = 48
    prices = [60.0] * hours
    prices[5:9] = [130.0] * 4      # 4 h above 100: curtailed from the 2nd (hour 6) ...
    prices[20] = 500.0             # ... high strike: hour 20 at once, then the hold
    (tmp_path / "price.csv").write_text("usd\n" + "\n".join(map(str, prices)) + "\n")
    data = tiny_scenario(hours=hours)
    data["grid"]["offtakes"][0]["price_usd_per_mwh"] = {"file": "price.csv"}
    data["mining"]["sites"][0]["demand_response"] = {
        "strike_usd_per_mwh": 100.0, "hours_above": 2, "hours_below": 2, "min_hold_hours": 5,
        "high_strike_usd_per_mwh": 400.0, "enrolled_mw": 20.0,
        "availability_usd_per_mw_h": 2.0, "curtailed_usd_per_mwh": 50.0,
        "calls": [{"start": "2027-01-02T06:00:00Z", "hours": 3, "reason": "test call"}],
    }
    path = write_scenario(tmp_path, data)
    run = run_scenario(load_scenario(str(path)))
    codes_ = run.inputs.site_dr_codes[0]
    curtailed = np.flatnonzero(codes_)
    # 6 (2nd hour above), 7-8 above, 9-10 held by the 5 h minimum; 20 high strike, held
    # 21-24 by the minimum; 30-32 called by the grid operator
    assert curtailed.tolist() == [6, 7, 8, 9, 10, 20, 21, 22, 23, 24, 30, 31, 32]
    assert run.result.mining_mw[:, curtailed].sum() == 0.0
    assert run.result.mining_mw.sum() > 0
    s = summary(run)["demand_response"]
    assert s["sites"]["S"]["curtailed_hours"] == 13
    assert s["sites"]["S"]["availability_usd"] == 20.0 * 2.0 * hours
    assert s["sites"]["S"]["curtailed_on_call_usd"] == 3 * 20.0 * 50.0
    assert s["revenue_usd"] == 1920.0 + 3000.0
    # The payments are money in the one set of accounts: in revenue and in net money.
    full = summary(run)
    rev = full["revenue_usd"]
    assert rev["demand_response"] == 1920.0 + 3000.0
    assert rev["total"] == pytest.approx(rev["grid"] + rev["mining"] + 4920.0, abs=0.02)
    assert full["net_usd"] == pytest.approx(rev["total"] - full["cost_usd"], abs=0.02)
    assert run.accounts.totals(("demand_response_revenue_usd",))[
        "demand_response_revenue_usd"][0] == pytest.approx(4920.0)
    out = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert out.exit_code == 0, out.output
    assert "demand-response revenue" in out.output and "13 site-hours" in out.output
    # Each curtailment is a site limit, explained: when, and which rule began it.
    windows = s["sites"]["S"]["curtailments"]
    assert [(w["from"], w["to"], w["hours"]) for w in windows] == [
        ("2027-01-01T06:00Z", "2027-01-01T11:00Z", 5),
        ("2027-01-01T20:00Z", "2027-01-02T01:00Z", 5),
        ("2027-01-02T06:00Z", "2027-01-02T09:00Z", 3)]
    assert windows[0]["why"] == ("demand response at S: price above the strike (100 USD/MWh) "
                                 "for 2 h (curtails after 2 h)")
    assert windows[0]["hours_by_reason"] == {"price above the strike": 3, "minimum hold": 2}
    assert windows[1]["why"] == ("demand response at S: price at or above the high strike "
                                 "(400 USD/MWh)")
    assert windows[2]["why"] == "demand response at S: called by the grid operator"
    assert out.output.count("S at 0 MW") == 3  # every curtailment, with its rule
    for w in windows:
        assert w["from"] in out.output
    assert "high strike" in out.output and "called by the grid" in out.output
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Sites at 0 MW by their demand-response rule" in page
    assert page.count("<td>S</td><td>2027-") == 3 and windows[0]["why"] in page
    # The plan's limits name the rule hour by hour (what the service's plans publish).
    from gridhash.scenario.resolve import site_limits

    why = site_limits(run.inputs)["S"]
    assert [t for t, x in enumerate(why) if x] == curtailed.tolist()
    assert [why[t]["code"] for t in (6, 7, 8, 9, 10, 20, 21, 30)] == [
        "above_strike", "above_strike", "above_strike", "min_hold", "min_hold",
        "high_strike", "min_hold", "called"]
