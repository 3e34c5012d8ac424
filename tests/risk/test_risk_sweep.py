"""The sweep: per-path results equal the single-path pipeline; splits and Dask agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhash.risk.sweep import run_paths, summarise, sweep
from gridhash.scenario.load import load_scenario

from helpers import run_cli


@pytest.fixture(scope="module")
def znpp():
    return load_scenario("znpp")


#: znpp with a demand-response programme at north-hall: a strike near the sampled
#: prices' evening peaks (hysteresis, a hold, a high strike) and one call.
DR_TABLE = """
[mining.sites.demand_response]
strike_usd_per_mwh = 150.0
hours_above = 2
hours_below = 2
min_hold_hours = 3
high_strike_usd_per_mwh = 230.0
enrolled_mw = 200.0
availability_usd_per_mw_h = 1.5
curtailed_usd_per_mwh = 80.0
calls = [{ start = "2027-03-01T16:00:00Z", hours = 4, reason = "test call" }]
"""


@pytest.fixture(scope="module")
def znpp_dr(znpp):
    from gridhash.scenario.load import parse_scenario

    anchor = 'name = "north-hall"\ncapacity_mw = 250.0\n'
    assert anchor in znpp.text
    return parse_scenario(znpp.text.replace(anchor, anchor + DR_TABLE), source="znpp+dr",
                          base_dir=znpp.base_dir)


def _single_path_runs(znpp, ids: list[int], seed: int):
    """Path i's own Inputs through the ordinary single-path pipeline (its own
    envelope, explained), with the LP and with the fast path."""
    from gridhash.pipeline import run_problem
    from gridhash.risk.models import sample_paths
    from gridhash.risk.sweep import without_line_cuts
    from gridhash.safety.envelope import compute_envelope
    from gridhash.safety.rules import build_ruleset
    from gridhash.safety.state import resolve_state
    from gridhash.scenario.resolve import resolve

    base = resolve(znpp)
    rp = sample_paths(base, ids, seed=seed, scenario=znpp)  # inputs_for: DR on its prices
    own = without_line_cuts(znpp)  # the sampled cuts replace the scenario's own
    for row, i in enumerate(ids):
        inputs = rp.inputs_for(base, row)
        state = resolve_state(own, inputs)
        rules = build_ruleset(znpp.scenario.safety, lines=inputs.line_names,
                              provided=set(state.provided))
        env = compute_envelope(inputs, state, rules)
        yield i, run_problem(own, inputs, env, solver="lp"), run_problem(own, inputs, env)


@pytest.mark.parametrize("which", ["znpp", "znpp_dr"])
def test_each_path_equals_the_single_path_pipeline_in_every_account(which, request) -> None:
    """Path i through the batch (sampled arrays, vectorised envelope, fast dispatch,
    vectorised accounts) has the same accounts, line by line, as its own Inputs
    through ``gridhash run``'s pipeline (envelope for one path, its default fast path
    and the whole-year HiGHS LP, accounts of a batch of one) — also with a
    demand-response programme, whose rule each path runs on its own sampled prices
    (its own curtailed hours, site cap, payments)."""
    znpp = request.getfixturevalue(which)
    ids = [3, 11]
    df = run_paths(znpp, ids, seed=7)
    if which == "znpp_dr":
        from gridhash.scenario.resolve import resolve

        own = resolve(znpp)  # the scenario's own prices: what a path must NOT reuse
        runs = list(_single_path_runs(znpp, ids, seed=7))
        codes = [lp.inputs.site_dr_codes[0] for _, lp, _ in runs]
        assert all(c.any() for c in codes)
        assert not np.array_equal(codes[0], codes[1])
        assert not any(np.array_equal(c, own.site_dr_codes[0]) for c in codes)
        for (_, lp, _), c in zip(runs, codes, strict=True):
            # the path's own rule run: its prices alone, the planner's function
            from gridhash.demand_response import curtailment

            rule = lp.inputs.site_dr_programmes[0].rule
            alone, _ = curtailment(lp.inputs.offtake_price_usd_per_mwh[0], rule,
                                   lp.inputs.site_dr_called[0])
            assert np.array_equal(c, alone)
            hall = [k for k, s in enumerate(lp.inputs.class_site) if s == 0]
            assert lp.result.mining_mw[hall][:, c != 0].sum() == 0.0
        got = df.set_index("path")
        assert got.loc[3, "demand_response_energy_usd:north-hall"] == pytest.approx(
            4 * 200.0 * 80.0)
        assert (got["demand_response_availability_usd:north-hall"] > 0).all()
    else:
        runs = _single_path_runs(znpp, ids, seed=7)
    for i, lp, fast in runs:
        got = df.loc[df["path"] == i].iloc[0]
        lp_t = {k: v[0] for k, v in lp.accounts.totals().items()}
        fast_t = {k: v[0] for k, v in fast.accounts.totals().items()}
        shared = [k for k in df.columns if k in lp_t]
        if which == "znpp_dr":
            assert {"demand_response_availability_usd:north-hall",
                    "demand_response_energy_usd:north-hall",
                    "demand_response_revenue_usd", "mining_mwh:"
                    + lp.inputs.class_names[0]} <= set(shared)
        assert len(shared) > 50 and {"net_usd", "penalty_usd:unserved_firm",
                                     "penalty_usd:station_blackout", "btc_mined",
                                     "diesel_mwh", "hours_station_blackout",
                                     "capacity_factor", "objective_usd"} <= set(shared)
        # Units 4-6 are down all year: the sweep dispatches only the others.
        assert all(lp_t[k] == 0 for k in lp_t if k.startswith("generated_mwh:unit-")
                   and k not in df.columns)
        for k in shared:
            # The same problem through the same solver: every line.
            assert got[k] == pytest.approx(fast_t[k], rel=1e-9, abs=1e-6), k
            if ":unit-" in k:
                continue  # units of equal cost: the LP may split their output otherwise
            assert got[k] == pytest.approx(lp_t[k], rel=1e-6, abs=1e-3), k
        # Units of equal marginal cost: the same output between them.
        cost = lp.problem.unit_cost_usd_per_mwh[:, 0]
        for c in np.unique(cost):
            same = [u for u, x in zip(lp.inputs.unit_names, cost, strict=True)
                    if x == c and f"generated_mwh:{u}" in df.columns]
            assert sum(got[f"generated_mwh:{u}"] for u in same) == pytest.approx(
                sum(lp_t[f"generated_mwh:{u}"] for u in same), rel=1e-6)


def test_the_summary_has_the_demand_response_payments_where_a_site_has_a_programme(
        znpp, znpp_dr) -> None:
    dr = summarise(run_paths(znpp_dr, [0, 1, 2], seed=5))["distributions"]
    got = dr["demand_response_revenue_usd"]
    # availability on 200 MW all year, and the one 4-hour call (neither depends on the
    # path's prices: the curtailed hours do)
    assert got["bad"] == "low"
    assert got["min"] == got["max"] == pytest.approx(1.5 * 200 * 8760 + 4 * 200 * 80.0)
    assert "demand_response_revenue_usd" not in summarise(
        run_paths(znpp, [0, 1], seed=5))["distributions"]


def test_sampled_line_cuts_replace_the_scenarios_own_unless_asked(znpp) -> None:
    """znpp's own line cuts are one illustrative year of the record its line-cut model
    is calibrated on: by default the paths have the sampled cuts only."""
    from gridhash.risk.sweep import context_for, without_line_cuts

    events = znpp.scenario.safety.events
    assert any(e.kind == "line_cut" for e in events)
    own = without_line_cuts(znpp)
    assert not any(e.kind == "line_cut" for e in own.scenario.safety.events)
    assert len(own.scenario.safety.events) == len(events) - sum(e.kind == "line_cut"
                                                               for e in events)
    assert without_line_cuts(own) is own
    replaced = context_for(znpp, None)
    both = context_for(znpp, None, scenario_line_cuts=True)
    # The scenario's cuts are gone; its planned line maintenance (not a safety event,
    # not in the line-cut model) stays.
    out_replaced, out_both = ~replaced.state.line_in_service, ~both.state.line_in_service
    assert not (out_replaced & ~out_both).any() and out_replaced.sum() < out_both.sum()
    feb10 = 40 * 24 + 1  # 2027-02-10T01:00Z: the scenario's complete loss of off-site power
    assert out_both[:2, feb10].all() and not out_replaced[:2, feb10].any()
    assert replaced.risk_model.line_cuts is not None
    # More cuts never relieve the plant: at least as many restricted hours per path.
    # That holds without responsive fuel resupply (safety.diesel.resupply_days = 0).
    # With it, a long loss of off-site power brings deliveries that can outlast the
    # loss: with seed 2 the scenario's 30-day loss leaves paths 0, 1 and 3 with more
    # fuel after it (path 1: 16.0 against 15.2 days on 2027-10-27), so their units
    # come back from the fuel-low shutdown sooner and the paths have 14-15 restricted
    # hours fewer with the scenario's cuts than without them.
    from gridhash.scenario.load import LoadedScenario

    sc = znpp.scenario
    diesel = sc.safety.diesel.model_copy(update={"resupply_days": 0.0})
    fixed_fuel = LoadedScenario(
        sc.model_copy(update={"safety": sc.safety.model_copy(update={"diesel": diesel})}),
        znpp.source, znpp.base_dir, "")
    a = run_paths(fixed_fuel, range(4), seed=2)
    b = run_paths(fixed_fuel, range(4), seed=2, scenario_line_cuts=True)
    assert (b["hours_restricted"] >= a["hours_restricted"]).all()
    assert b["hours_restricted"].sum() > a["hours_restricted"].sum()


def test_results_do_not_depend_on_the_split(znpp) -> None:
    a = sweep(znpp, 6, seed=5, chunk_size=6)
    b = sweep(znpp, 6, seed=5, chunk_size=2)
    pd.testing.assert_frame_equal(a, b)
    c = run_paths(znpp, [4, 5], seed=5)
    pd.testing.assert_frame_equal(a.iloc[4:6].reset_index(drop=True), c)
    assert not sweep(znpp, 2, seed=6, chunk_size=2).equals(a.iloc[:2])
    with pytest.raises(ValueError, match="n_paths must be at least 1"):
        sweep(znpp, 0)


def test_blocks_inside_a_task_do_not_change_a_path(znpp, monkeypatch) -> None:
    from gridhash.risk import sweep as sweep_module
    from gridhash.risk.sweep import context_for, path_columns

    ctx = context_for(znpp, None)
    whole = pd.DataFrame(path_columns(ctx, range(10, 15), seed=3))
    monkeypatch.setattr(sweep_module, "BLOCK_PATHS", 2)  # blocks of 2, 2 and 1 paths
    pd.testing.assert_frame_equal(pd.DataFrame(path_columns(ctx, range(10, 15), seed=3)), whole)


@pytest.mark.parametrize(("n", "slots"), [(10_000, 2), (1_000, 2), (130, 2), (7, 4), (0, 1)])
def test_tasks_cover_every_path_once_with_small_tasks_last(n: int, slots: int) -> None:
    from gridhash.risk.sweep import BLOCK_PATHS, TASK_PATHS, task_chunks, task_size

    size = task_size(n, slots)
    assert 1 <= size <= TASK_PATHS
    assert size >= min(BLOCK_PATHS, TASK_PATHS)
    tasks = task_chunks(n, size, slots)
    assert [p for r in tasks for p in r] == list(range(n))
    if n >= 4 * slots * TASK_PATHS:
        assert size == TASK_PATHS  # big sweeps: the largest tasks
        tail = tasks[-2 * slots * size // BLOCK_PATHS:]
        assert all(len(r) == BLOCK_PATHS for r in tail) and len(tasks[0]) == TASK_PATHS
    if n:
        assert len(tasks) >= min(n // BLOCK_PATHS, 4 * slots)  # every worker gets work


@pytest.mark.slow
def test_dask_cluster_over_tcp_gives_identical_results(znpp) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, scheduler_port=0) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        remote = sweep(znpp, 4, seed=9, chunk_size=1, scheduler=address)
    local = sweep(znpp, 4, seed=9, chunk_size=4)
    pd.testing.assert_frame_equal(remote, local)


@pytest.mark.slow
def test_local_workers_give_identical_results_and_get_the_allocator_settings(znpp) -> None:
    import os

    import dask
    from dask.distributed import Client

    from gridhash.risk.allocator import ALLOCATOR_ENV
    from gridhash.risk.cluster import local_cluster

    os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"  # as an earlier Dask nanny leaves it
    try:
        with local_cluster(1) as cluster, Client(cluster) as client:
            seen = client.run(lambda: {k: os.environ.get(k) for k in ALLOCATOR_ENV})
            profiling = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
            # The preload imported what a task needs before any task ran.
            preloaded = client.run(lambda: "gridhash.dispatch.fast" in __import__("sys").modules)
        assert list(seen.values()) == [ALLOCATOR_ENV]
        assert list(profiling.values()) == [False]
        assert list(preloaded.values()) == [True]
        assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # restored afterwards
    finally:
        del os.environ["MALLOC_TRIM_THRESHOLD_"]
    assert "MALLOC_MMAP_THRESHOLD_" not in os.environ
    pd.testing.assert_frame_equal(sweep(znpp, 3, seed=4, chunk_size=1, workers=2),
                                  sweep(znpp, 3, seed=4, chunk_size=3))


def test_tune_allocator_on_glibc() -> None:
    import platform

    from gridhash.risk.allocator import tune_allocator

    assert tune_allocator() is (platform.libc_ver()[0] == "glibc")


def test_summary_var_cvar_on_net_money_blackouts_and_bad_tails_by_hand() -> None:
    from gridhash.risk.sweep import RISK_METRICS

    x = np.arange(-10.0, 10.0)  # 20 paths: -10 .. 9
    df = pd.DataFrame({k: x for k in RISK_METRICS})
    df["objective_usd"] = -1e12  # the optimizer's figure: nowhere in the summary
    df["hours_station_blackout"] = np.r_[np.zeros(15), [1, 2, 3, 4, 10]]
    df["unserved_firm_mwh"] = np.r_[np.zeros(18), [5.0, 7.0]]
    df["certified"] = True
    df["lp_hours"] = 0
    s = summarise(df)
    q5 = float(np.quantile(x, 0.05))  # -9.05
    assert s["net_usd"]["var"] == pytest.approx(q5)
    assert s["net_usd"]["cvar"] == pytest.approx(-10.0)  # the one path at or below
    assert "objective_usd" not in s and "objective_usd" not in s["distributions"]
    assert s["probability_mining_loses_money"] == pytest.approx(0.5)
    assert s["distributions"]["btc_mined"]["median"] == pytest.approx(-0.5)
    sb = s["station_blackout"]
    assert sb["probability"] == pytest.approx(0.25) and sb["paths"] == 5
    assert sb["mean_hours_when_any"] == pytest.approx(4.0) and sb["max_hours"] == 10
    assert sb["mean_hours"] == pytest.approx(1.0)
    assert s["unserved_firm"]["probability"] == pytest.approx(0.1)
    assert s["unserved_firm"]["mean_mwh"] == pytest.approx(0.6)
    d = s["distributions"]
    for key in ("penalty_usd:unserved_firm", "penalty_usd:station_blackout",
                "unserved_firm_mwh", "hours_station_blackout", "cost_usd"):
        assert d[key]["bad"] == "high", key
    for key in ("net_usd", "btc_mined", "mining_net_usd", "grid_mwh"):
        assert d[key]["bad"] == "low", key


def test_histograms_mark_the_bad_tail_of_their_metric() -> None:
    from gridhash.report.risk import _hist

    df = pd.DataFrame({"net_usd": np.arange(100.0) * 1e6,
                       "penalty_usd:station_blackout": np.arange(100.0) * 1e6})
    low = _hist(df, "net_usd").layout
    high = _hist(df, "penalty_usd:station_blackout").layout
    assert low.shapes[1].x0 == pytest.approx(np.quantile(np.arange(100.0), 0.05))
    assert low.shapes[0].x1 == pytest.approx(low.shapes[1].x0)  # shaded below p5
    assert "p5" in low.annotations[0].text
    assert high.shapes[1].x0 == pytest.approx(np.quantile(np.arange(100.0), 0.95))
    assert high.shapes[0].x0 == pytest.approx(high.shapes[1].x0)  # shaded above p95
    assert "p95" in high.annotations[0].text


def test_cli_risk_writes_parquet_html_and_json(tmp_path: Path) -> None:
    res = run_cli("risk", "znpp", "--paths", "4", "--seed", "1", "--chunk", "2",
                  "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(tmp_path / "risk.parquet")
    assert list(df["path"]) == [0, 1, 2, 3]
    for col in ("btc_mined", "mining_revenue_usd", "grid_mwh", "unserved_firm_mwh",
                "hours_restricted", "mining_net_usd", "net_usd", "penalty_usd:unserved_firm",
                "penalty_usd:station_blackout", "hours_station_blackout", "objective_usd"):
        assert col in df.columns
    summary = json.loads((tmp_path / "risk.json").read_text())
    assert summary["paths"] == 4 and 0.0 <= summary["probability_mining_loses_money"] <= 1.0
    page = (tmp_path / "risk.html").read_text()
    assert "fan over paths" in page and "<script src=\"http" not in page
    assert "probability that mining loses money" in res.stdout
    assert "probability of any station blackout" in res.stdout
    assert "net money (revenue − costs): VaR 5 %" in res.stdout
    assert set(summary["station_blackout"]) >= {"probability", "mean_hours_when_any"}
    assert "net_usd" in summary and "objective_usd" not in summary
    assert "penalty_usd:station_blackout" in summary["distributions"]
    assert "p95: worst 5 % above" in page and "net money (revenue − costs)" in page
    bad = run_cli("risk", "znpp", "--paths", "2", "--agreement", "nope", "--out", str(tmp_path))
    assert bad.exit_code == 2 and "unknown agreement" in bad.stderr
