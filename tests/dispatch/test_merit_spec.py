"""The plain merit-order spec: the fast kernel equals it bit for bit; it equals the LP."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridhash.dispatch import DispatchProblem, solve_lp
from gridhash.dispatch.fast import OUTPUTS, BatchProblem
from gridhash.dispatch.fast.merit import _merit_order
from gridhash.dispatch.merit_spec import merit_order_hour
from gridhash.dispatch.problem import with_dispatch_rules
from gridhash.errors import InfeasibleError

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def batches(draw) -> BatchProblem:
    """Random paths: ties in prices, values and costs, equal-cost units, firm obligations,
    shared sites, negative and zero penalties, an envelope or none, varying by path."""
    T, N = draw(st.integers(1, 30)), draw(st.integers(1, 4))
    U, O, K, S = (draw(st.integers(lo, hi)) for lo, hi in ((0, 4), (0, 3), (0, 4), (1, 3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    coarse = draw(st.booleans())

    def num(lo: float, hi: float, shape) -> np.ndarray:
        if coarse:  # ties
            return rng.choice(np.linspace(lo, hi, 3), shape)
        return rng.uniform(lo, hi, shape)

    avail = num(0, 300, (U, T))
    envelope = draw(st.booleans())
    house = num(0, 40, T)
    base = DispatchProblem(
        unit_names=tuple(f"u{i}" for i in range(U)),
        unit_available_mw=avail,
        unit_min_mw=avail * num(0, 0.6, (U, 1)),
        unit_ramp_up_mw_per_h=np.where(rng.random(U) < 0.6, num(10, 100, U), np.inf),
        unit_ramp_down_mw_per_h=np.where(rng.random(U) < 0.6, num(10, 100, U), np.inf),
        unit_cost_usd_per_mwh=num(-5, 40, (U, T)),
        house_load_mw=house,
        import_price_usd_per_mwh=num(20, 400, T),
        import_cap_mw=num(0, 50, T),
        offtake_names=tuple(f"o{i}" for i in range(O)),
        offtake_price_usd_per_mwh=num(-20, 300, (O, T)),
        offtake_cap_mw=num(0, 500, (O, T)),
        offtake_firm_mw=num(0, 300, (O, T)) * (rng.random((O, 1)) < 0.6),
        unserved_penalty=float(rng.choice([4400.0, 0.0, -5.0])),
        site_names=tuple(f"s{i}" for i in range(S)),
        site_cap_mw=num(0, 250, (S, T)),
        class_names=tuple(f"k{i}" for i in range(K)),
        class_site=rng.integers(0, S, K),
        class_cap_mw=num(0, 200, (K, T)),
        class_value_usd_per_mwh=num(-10, 250, (K, T)),
        diesel_cap_mw=num(0, 40, T) if envelope else None,
        diesel_cost=300.0 if envelope else 0.0,
        blackout_cap_mw=house.copy() if envelope else None,
        blackout_penalty=1e5 if envelope else 0.0,
        mining_cap_mw=num(0, 400, T) if envelope and rng.random() < 0.7 else None,
    )
    overrides = {
        "offtake_price_usd_per_mwh": base.offtake_price_usd_per_mwh[None] + num(-30, 30, (N, O, T)),
        "class_value_usd_per_mwh": base.class_value_usd_per_mwh[None] * num(0.5, 1.5, (N, K, 1)),
        "unit_available_mw": avail[None] * (rng.random((N, U, T)) > 0.1),
    }
    overrides["unit_min_mw"] = np.minimum(base.unit_min_mw[None], overrides["unit_available_mw"])
    return BatchProblem.from_problem(base, n_paths=N, **overrides)


def _bits(x) -> np.ndarray:
    """The bits of a float array (+0.0 for −0.0: the sign of a zero is no result)."""
    return (np.asarray(x, dtype=float) + 0.0).view(np.int64)


@SETTINGS
@given(batches(), st.booleans())
def test_the_kernel_is_the_spec_bit_for_bit(batch: BatchProblem, duals: bool) -> None:
    h = _merit_order(batch, 0, batch.n_paths, duals=duals)
    names = [n for n in OUTPUTS if duals or n != "marginal_value_usd_per_mwh"]
    for i in range(batch.n_paths):
        p = batch.path(i)
        for t in range(batch.hours):
            spec = merit_order_hour(p, t)
            assert (spec is not None) == bool(h.ok[i, t]), (i, t)
            if spec is None:
                continue
            for name in names:
                got = getattr(h, name)[i, ..., t]
                np.testing.assert_array_equal(_bits(got), _bits(spec[name]), f"{name} {i} {t}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_the_spec_is_the_lp_optimum(batch: BatchProblem) -> None:
    # Without ramp rows the hours are independent: the spec's hourly optimum is the LP's.
    # The spec reads the problem as the solvers see it: solve_lp applies the dispatch
    # rules (imports only for the house load the units cannot make) on entry.
    for i in range(batch.n_paths):
        free = np.full(batch.base.unit_ramp_up_mw_per_h.shape, np.inf)
        p = with_dispatch_rules(dataclasses.replace(
            batch.path(i), unit_ramp_up_mw_per_h=free, unit_ramp_down_mw_per_h=free))
        hours = [merit_order_hour(p, t) for t in range(p.hours)]
        try:
            lp = solve_lp(p, explain=False)
        except InfeasibleError:
            assert any(h is None for h in hours)
            continue
        assert all(h is not None for h in hours)
        total = sum(float(h["objective_hourly_usd"]) for h in hours)
        scale = 1.0 + sum(abs(float(h["objective_hourly_usd"])) for h in hours)
        assert abs(total - lp.objective_usd) <= 1e-6 * scale, (total, lp.objective_usd)
        for t, h in enumerate(hours):  # and the spec's decisions meet the hour's balance
            supply = h["unit_mw"].sum() + h["imported_mw"] + h["diesel_mw"] + h["blackout_mw"]
            use = p.house_load_mw[t] + h["delivered_mw"].sum() + h["mining_mw"].sum()
            assert abs(supply - use) <= 1e-6 * (1.0 + abs(use))


def test_the_spec_by_hand() -> None:
    # 100 MW at 10 USD/MWh; a city buying 60 MW at 50 (30 MW firm), miners worth 40 up to
    # 80 MW: the city takes 60, the miners the other 40 − house load 5 = 35.
    p = DispatchProblem(
        unit_names=("u",), unit_available_mw=np.array([[100.0]]), unit_min_mw=np.array([[0.0]]),
        unit_ramp_up_mw_per_h=np.array([np.inf]), unit_ramp_down_mw_per_h=np.array([np.inf]),
        unit_cost_usd_per_mwh=np.array([[10.0]]), house_load_mw=np.array([5.0]),
        import_price_usd_per_mwh=np.array([500.0]), import_cap_mw=np.array([5.0]),
        offtake_names=("city",), offtake_price_usd_per_mwh=np.array([[50.0]]),
        offtake_cap_mw=np.array([[60.0]]), offtake_firm_mw=np.array([[30.0]]),
        unserved_penalty=4400.0, site_names=("s",), site_cap_mw=np.array([[80.0]]),
        class_names=("k",), class_site=np.array([0]), class_cap_mw=np.array([[80.0]]),
        class_value_usd_per_mwh=np.array([[40.0]]),
    )
    h = merit_order_hour(p, 0)
    assert h is not None
    assert h["unit_mw"].tolist() == [100.0] and h["delivered_mw"].tolist() == [60.0]
    assert h["mining_mw"].tolist() == [35.0] and h["unserved_mw"].tolist() == [0.0]
    assert h["objective_hourly_usd"] == -1000.0 + 3000.0 + 1400.0
    assert h["marginal_value_usd_per_mwh"] == 40.0  # one more MW would be mined


def _at(x, shape: tuple[int, int], i: int, t: int) -> float:
    """Element (i, t) of a key's hours or a capacity (a float when constant)."""
    return x if isinstance(x, float) else float(np.broadcast_to(x, shape)[i, t])


@SETTINGS
@given(batches())
def test_the_kernels_segments_are_the_specs(batch: BatchProblem) -> None:
    # Steps 1–3 on their own: the kernel's use and source segments (value or cost, and
    # capacity) are the spec's, bit for bit, in every hour whose data are in the domain.
    from gridhash.dispatch.fast.merit import _Chunk, _source_segments, _use_segments
    from gridhash.dispatch.merit_spec import sources, uses

    h = _merit_order(batch, 0, batch.n_paths)
    chunk = _Chunk(batch, 0, batch.n_paths, {}, {})
    use, src = _use_segments(chunk, duals=True), _source_segments(chunk)
    for i in range(batch.n_paths):
        p = batch.path(i)
        for t in range(batch.hours):
            if not h.ok[i, t]:
                continue
            for kind, segs, spec in (("use", use, uses(p, t)), ("source", src, sources(p, t))):
                assert len(segs.key) == len(spec), kind
                for j, s in enumerate(spec):
                    got = (_at(segs.key[j].v, chunk.shape, i, t),
                           _at(segs.cap[j], chunk.shape, i, t))
                    np.testing.assert_array_equal(_bits(got), _bits((s.key, s.cap)),
                                                  f"{kind} segment {j} of path {i}, hour {t}")
                if kind == "source":
                    assert segs.rank == [s.rank for s in spec]
