"""The fast path against the LP: same optimum, the certificate, LP repair, batches and chunks."""

from __future__ import annotations

import dataclasses
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridhash.dispatch import DispatchProblem, fast, solve_lp
from gridhash.dispatch.fast import (
    OUTPUTS,
    RAMP_TOL,
    BatchProblem,
    FastResult,
    solve_fast,
    solve_fast_batch,
)
from gridhash.dispatch.problem import with_dispatch_rules
from gridhash.errors import InfeasibleError
from gridhash.scenario.grid import house_import_cap_mw

INF = np.inf
REL = 1e-6

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def agree(fast: float, lp: float) -> bool:
    """Objectives equal to 1e-6 relative (of at least 1 USD)."""
    return abs(fast - lp) <= REL * max(1.0, abs(lp))


def problem(
    T: int = 1,
    *,
    avail=((100.0,),),
    unit_min=None,
    ramp=(INF,),
    cost=((10.0,),),
    house=(0.0,),
    import_price_usd_per_mwh=(1000.0,),
    import_cap=(0.0,),
    price=((50.0,),),
    cap=((60.0,),),
    firm=((0.0,),),
    penalty=4000.0,
    site_cap=((1000.0,),),
    class_site=(0,),
    class_cap=((50.0,),),
    value=((30.0,),),
    **more,
) -> DispatchProblem:
    """A small problem built by hand (shapes broadcast to (X, T))."""

    def arr(x, shape=None):
        a = np.array(x, dtype=float)
        return a if shape is None else np.broadcast_to(a, shape).copy()

    avail = arr(avail, (np.array(avail).shape[0], T))
    U = avail.shape[0]
    O, S, K = (np.array(x).shape[0] for x in (price, site_cap, class_cap))
    return DispatchProblem(
        unit_names=tuple(f"u{i}" for i in range(U)),
        unit_available_mw=avail,
        unit_min_mw=np.zeros_like(avail) if unit_min is None else arr(unit_min, (U, T)),
        unit_ramp_up_mw_per_h=arr(ramp, (U,)),
        unit_ramp_down_mw_per_h=arr(ramp, (U,)),
        unit_cost_usd_per_mwh=arr(cost, (U, T)),
        house_load_mw=arr(house, (T,)),
        import_price_usd_per_mwh=arr(import_price_usd_per_mwh, (T,)),
        import_cap_mw=arr(import_cap, (T,)),
        offtake_names=tuple(f"o{i}" for i in range(O)),
        offtake_price_usd_per_mwh=arr(price, (O, T)),
        offtake_cap_mw=arr(cap, (O, T)),
        offtake_firm_mw=arr(firm, (O, T)),
        unserved_penalty=penalty,
        site_names=tuple(f"s{i}" for i in range(S)),
        site_cap_mw=arr(site_cap, (S, T)),
        class_names=tuple(f"k{i}" for i in range(K)),
        class_site=np.array(class_site, dtype=np.int64),
        class_cap_mw=arr(class_cap, (K, T)),
        class_value_usd_per_mwh=arr(value, (K, T)),
        **more,
    )


# --------------------------------------------------------------------------- #
# By hand
# --------------------------------------------------------------------------- #


def test_merit_order_by_hand() -> None:
    # 100 MW at 10 $/MWh: house 10, grid takes 60 at 50 $, mining the last 30 at 30 $.
    r = solve_fast(problem(house=(10.0,)))
    assert r.certified and r.lp_solves == 0
    assert r.unit_mw[0, 0] == pytest.approx(100.0)
    assert r.delivered_mw[0, 0] == pytest.approx(60.0)
    assert r.mining_mw[0, 0] == pytest.approx(30.0)
    assert r.objective_usd == pytest.approx(60 * 50 + 30 * 30 - 100 * 10)
    assert r.marginal_value_usd_per_mwh[0] == pytest.approx(30.0)  # one more MW would be mined


def test_firm_obligation_mining_caps_diesel_and_blackout_by_hand() -> None:
    # 50 MW of units at 0 $; house 20; firm 40 at 20 $ (penalty 4000); mining pays 100 $
    # in two classes sharing a 25 MW site, total mining capped at 15; diesel 10 MW at 300 $,
    # blackout at 1e5 $.  The firm 40 and the house 20 need 60 > 50: diesel covers 10.
    p = problem(
        avail=((50.0,),),
        cost=((0.0,),),
        house=(20.0,),
        price=((20.0,),),
        cap=((40.0,),),
        firm=((40.0,),),
        site_cap=((25.0,),),
        class_site=(0, 0),
        class_cap=((20.0,), (20.0,)),
        value=((100.0,), (90.0,)),
        diesel_cap_mw=np.array([10.0]),
        diesel_cost=300.0,
        blackout_cap_mw=np.array([20.0]),
        blackout_penalty=1e5,
        mining_cap_mw=np.array([15.0]),
    )
    r = solve_fast(p)
    lp = solve_lp(p)
    assert r.objective_usd == pytest.approx(lp.objective_usd, rel=1e-9)
    assert r.delivered_mw[0, 0] == pytest.approx(40.0)
    assert r.diesel_mw[0] == pytest.approx(10.0)
    assert r.mining_mw[:, 0] == pytest.approx([0.0, 0.0])  # 100 $ < 300 $ of diesel
    assert r.unserved_mw[0, 0] == pytest.approx(0.0)
    # with 200 MW of units the firm is served, mining fills the total cap, best class first
    r = solve_fast(dataclasses.replace(p, unit_available_mw=np.array([[200.0]])))
    assert r.mining_mw[:, 0] == pytest.approx([15.0, 0.0])
    assert r.diesel_mw[0] == pytest.approx(0.0)


def test_shared_site_capacity_by_hand() -> None:
    # two classes at one 40 MW site: the better one (value 50) fills it first
    p = problem(
        avail=((200.0,),),
        cost=((0.0,),),
        cap=((0.0,),),
        site_cap=((40.0,),),
        class_site=(0, 0),
        class_cap=((30.0,), (30.0,)),
        value=((20.0,), (50.0,)),
    )
    r = solve_fast(p)
    np.testing.assert_allclose(r.mining_mw[:, 0], [10.0, 30.0])


def test_equal_costs_share_load_pro_rata() -> None:
    # three units at the same cost and ramp; 90 MW wanted: each runs in proportion to its range
    p = problem(avail=((60.0,), (30.0,), (90.0,)), cost=((5.0,),), cap=((90.0,),), value=((0.0,),))
    r = solve_fast(p)
    np.testing.assert_allclose(r.unit_mw[:, 0], [30.0, 15.0, 45.0])


def test_binding_ramp_falls_back_to_lp_by_hand() -> None:
    # hour 0 sells at 1 $ (below the 5 $ cost), hour 1 at 100 $; ramp-up 30 MW/h: the
    # optimum runs g0 = 70 at a loss to reach g1 = 100, which no hour alone would choose.
    p = problem(
        T=2,
        avail=((100.0,),),
        cost=((5.0,),),
        ramp=(30.0,),
        price=((1.0, 100.0),),
        cap=((100.0,),),
        site_cap=((0.0,),),
        class_cap=((0.0,),),
        value=((0.0,),),
    )
    for fallback in ("window", "path"):
        r = solve_fast(p, fallback=fallback)
        assert not r.certified and r.lp_solves >= 1 and r.lp_hours == 2
        np.testing.assert_allclose(r.unit_mw[0], [70.0, 100.0], atol=1e-6)
        assert r.objective_usd == pytest.approx(70 * (1 - 5) + 100 * (100 - 5))


def test_windows_are_local_to_the_violations() -> None:
    # 400 hours at a good price, two hours at a price below cost: two windows are re-solved,
    # side by side in one LP
    T = 400
    price = np.full(T, 50.0)
    price[[60, 300]] = 1.0
    p = problem(
        T=T,
        avail=((100.0,),),
        cost=((5.0,),),
        ramp=(30.0,),
        price=(price,),
        cap=((100.0,),),
        site_cap=((0.0,),),
        class_cap=((0.0,),),
        value=((0.0,),),
    )
    r = solve_fast(p)
    lp = solve_lp(p)
    assert not r.certified and 0 < r.lp_hours < T // 4 and r.lp_solves <= 2
    assert agree(r.objective_usd, lp.objective_usd)
    np.testing.assert_allclose(r.unit_mw, lp.unit_mw, atol=1e-6)


def test_infeasible_hour_is_explained_by_the_lp() -> None:
    p = problem(
        avail=((100.0,),),
        unit_min=((80.0,),),
        cap=((50.0,),),
        class_cap=((0.0,),),
        site_cap=((0.0,),),
    )
    with pytest.raises(InfeasibleError) as info:
        solve_fast(p)
    assert "energy balance" in str(info.value)
    batch = BatchProblem.from_problem(p, unit_min_mw=np.array([[[0.0]], [[80.0]]]))
    with pytest.raises(InfeasibleError, match="path 1: energy balance"):
        solve_fast_batch(batch)


def test_grid_first_by_hand() -> None:
    # 100 MW at 10 $/MWh; the grid takes up to 60 at 20 $, mining pays 30 $ for up to 50.
    p = problem(price=((20.0,),), value=((30.0,),))
    r = solve_fast(p)  # by value: mining first, the grid gets the last 50
    assert r.mining_mw[0, 0] == pytest.approx(50.0)
    assert r.delivered_mw[0, 0] == pytest.approx(50.0)
    gf = dataclasses.replace(p, grid_first=True)
    for r in (solve_fast(gf), solve_lp(gf)):  # strict priority: the grid takes all 60
        assert r.delivered_mw[0, 0] == pytest.approx(60.0)
        assert r.mining_mw[0, 0] == pytest.approx(40.0)
    # the objective is reported at the prices paid: 60 × 20 + 40 × 30 − 100 × 10
    assert r.objective_usd == pytest.approx(60 * 20 + 40 * 30 - 100 * 10)
    # whatever the prices: at a negative grid price too, as long as mining would run
    neg = dataclasses.replace(gf, offtake_price_usd_per_mwh=np.array([[-5.0]]))
    assert solve_fast(neg).delivered_mw[0, 0] == pytest.approx(60.0)
    assert solve_lp(neg).delivered_mw[0, 0] == pytest.approx(60.0)
    # no mining use at all (a class that may not draw): the grid price decides alone
    off = dataclasses.replace(neg, class_cap_mw=np.array([[0.0]]))
    assert solve_fast(off).delivered_mw[0, 0] == pytest.approx(0.0)


def test_imports_are_not_passed_on_by_hand() -> None:
    # Units capped at 50 MW, house 10, a firm 50 MW at 20 $ (penalty 4000), imports up
    # to 10 MW at 300 $: importing for the house load would free 10 MW for the firm
    # obligation, i.e. pass imported power on to the grid.  The units make the house
    # load, 40 MW reach the grid, 10 MW are unserved.
    p = problem(avail=((50.0,),), house=(10.0,), price=((20.0,),), cap=((100.0,),),
                firm=((50.0,),), import_price_usd_per_mwh=(300.0,), import_cap=(10.0,),
                class_cap=((0.0,),))
    for r in (solve_fast(p), solve_lp(p)):
        assert r.imported_mw[0] == pytest.approx(0.0)
        assert r.delivered_mw[0, 0] == pytest.approx(40.0)
        assert r.unserved_mw[0, 0] == pytest.approx(10.0)
    # with the units out, imports serve the house load (and nothing else)
    out = dataclasses.replace(p, unit_available_mw=np.array([[4.0]]))
    for r in (solve_fast(out), solve_lp(out)):
        assert r.imported_mw[0] == pytest.approx(6.0)
        assert r.delivered_mw[0, 0] == pytest.approx(0.0)


def test_to_dispatch_result() -> None:
    p = problem(house=(10.0,))
    d = solve_fast(p).to_dispatch_result()
    lp = solve_lp(p)
    assert d.objective_usd == pytest.approx(lp.objective_usd)
    np.testing.assert_allclose(d.unit_mw, lp.unit_mw)
    np.testing.assert_allclose(d.marginal_value_usd_per_mwh, lp.marginal_value_usd_per_mwh)
    assert d.solver == "fast"


# --------------------------------------------------------------------------- #
# Random problems against the LP
# --------------------------------------------------------------------------- #


@st.composite
def random_problem(draw, ramps: str = "none") -> DispatchProblem:
    """A small random problem with every feature of the model.

    ``ramps``: "none" (no ramp limits), "some" (random ramp limits and lifted ramp
    hours; ramp-limited units keep steady limits so the problem stays feasible),
    "tight" (small ramps and prices swinging around the units' costs every hour),
    "sparse" (small ramps, longer horizons, a few hours with prices below cost).
    Values sit on coarse grids half the time, so that ties are common.
    """
    T = draw(
        st.integers(1, 10)
        if ramps == "none"
        else st.integers(30, 120)
        if ramps == "sparse"
        else st.integers(2, 10)
    )
    U = draw(st.integers(1, 3))
    O = draw(st.integers(0, 2))
    K = draw(st.integers(0, 3))
    S = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    coarse = draw(st.booleans())

    def num(lo: float, hi: float, shape) -> np.ndarray:
        if coarse:
            return rng.choice(np.linspace(lo, hi, 5), shape)
        return rng.uniform(lo, hi, shape)

    avail = num(0, 100, (U, T)) * (rng.random((U, T)) > 0.15)  # zero-capacity hours
    avail[rng.random(U) < 0.15] = 0.0  # a unit out all along
    unit_min = avail * num(0, 0.6, (U, 1)) * (rng.random((U, 1)) > 0.4)
    ramp = np.full(U, INF)
    if ramps == "some":
        ramp = np.where(rng.random(U) > 0.4, num(5, 60, U), INF)
    elif ramps in ("tight", "sparse"):
        ramp = num(1, 15, U)
    steady = np.isfinite(ramp)
    avail[steady] = avail[steady, :1]
    unit_min[steady] = 0.0
    cost = num(-5, 40, (U, 1)) if rng.random() < 0.5 else num(-5, 40, (U, T))
    price = num(-5, 120, (O, T))
    if ramps == "tight" and O:
        price = np.where(np.arange(T) % 2 == 0, -10.0, 150.0) * np.ones((O, 1))
    if ramps == "sparse" and O:  # a few spells below cost, and a few dear hours
        level = np.where(rng.random(T) > 0.9, 400.0, 150.0)
        for start in rng.integers(0, T, 1 + T // 30):
            level[start : start + rng.integers(1, 6)] = -10.0
        price = level * np.ones((O, 1))
    cap = num(0, 150, (O, T))
    if O:
        cap[0] += 300.0  # room for forced output, mostly
    firm = np.minimum(cap + num(0, 30, (O, T)), num(0, 80, (O, T))) * (rng.random((O, 1)) > 0.4)
    site_cap = num(0, 80, (S, T))
    class_cap = num(0, 50, (K, T))
    house = num(0, 20, T)
    value = num(-10, 150, (K, T))
    if ramps == "sparse":  # steady but for the prices: violations come in spells
        avail[:] = avail[:, :1]
        cap, firm, site_cap, class_cap = (
            x[:, :1].repeat(T, 1) for x in (cap, firm, site_cap, class_cap)
        )
        house, value = np.full(T, house[0]), value[:, :1].repeat(T, 1)
    envelope = rng.random() < 0.6
    return DispatchProblem(
        unit_names=tuple(f"u{i}" for i in range(U)),
        unit_available_mw=avail,
        unit_min_mw=unit_min,
        unit_ramp_up_mw_per_h=ramp,
        unit_ramp_down_mw_per_h=ramp * (rng.uniform(0.5, 2.0, U) if ramps == "some" else 1.0),
        unit_cost_usd_per_mwh=np.broadcast_to(cost, (U, T)).copy(),
        house_load_mw=house,
        import_price_usd_per_mwh=num(50, 300, T),
        import_cap_mw=num(0, 10, T),
        offtake_names=tuple(f"o{i}" for i in range(O)),
        offtake_price_usd_per_mwh=price,
        offtake_cap_mw=cap,
        offtake_firm_mw=firm,
        unserved_penalty=float(rng.choice([0.0, 5000.0])) if coarse else 5000.0,
        site_names=tuple(f"s{i}" for i in range(S)),
        site_cap_mw=site_cap,
        class_names=tuple(f"k{i}" for i in range(K)),
        class_site=rng.integers(0, S, K),
        class_cap_mw=class_cap,
        class_value_usd_per_mwh=value,
        diesel_cap_mw=num(0, 15, T) * (rng.random(T) > 0.5) if envelope else None,
        diesel_cost=float(num(20, 300, ())) if envelope else 0.0,
        blackout_cap_mw=house.copy() if envelope else None,
        blackout_penalty=1e5 if envelope else 0.0,
        mining_cap_mw=num(0, 60, T) if envelope else None,
        ramp_allowed=(rng.random((U, T)) > 0.2) if ramps == "some" else None,
        grid_first=draw(st.booleans()),
    )


def check_against_lp(p: DispatchProblem, fallback: str = "window") -> FastResult | None:
    """The fast path reaches the LP's optimum, or both find the problem infeasible."""
    try:
        lp = solve_lp(p, explain=False)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve_fast(p, fallback=fallback)
        return None
    r = solve_fast(p, fallback=fallback)
    assert agree(r.objective_usd, lp.objective_usd), (r.objective_usd, lp.objective_usd)
    # the fast dispatch is feasible: balance, bounds, ramps
    supply = r.unit_mw.sum(0) + r.imported_mw + r.diesel_mw + r.blackout_mw
    use = p.house_load_mw + r.delivered_mw.sum(0) + r.mining_mw.sum(0)
    np.testing.assert_allclose(supply, use, atol=1e-6)
    assert (r.unit_mw <= p.unit_available_mw + 1e-6).all()
    assert (r.unit_mw >= p.unit_min_mw - 1e-6).all()
    assert (r.delivered_mw + r.unserved_mw >= p.offtake_firm_mw - 1e-6).all()
    for s in range(p.site_cap_mw.shape[0]):
        assert (r.mining_mw[p.class_site == s].sum(0) <= p.site_cap_mw[s] + 1e-6).all()
    if p.mining_cap_mw is not None:
        assert (r.mining_mw.sum(0) <= p.mining_cap_mw + 1e-6).all()
    steps = np.diff(r.unit_mw, axis=1)
    mask = p.ramp_mask[:, 1:]
    assert (np.where(mask, steps, 0) <= p.unit_ramp_up_mw_per_h[:, None] + 1e-6).all()
    assert (np.where(mask, -steps, 0) <= p.unit_ramp_down_mw_per_h[:, None] + 1e-6).all()
    # the objective is the value of the decisions
    np.testing.assert_allclose(r.objective_hourly_usd.sum(), r.objective_usd, rtol=1e-6, atol=1e-3)
    check_rules(p, r)
    check_rules(p, lp)
    return r


def dispatch_objective(p: DispatchProblem, r: FastResult) -> np.ndarray:
    """(T,) the objective the dispatch maximises: the reported one (at the prices paid)
    plus, under grid first, the priority premium on what was delivered."""
    premium = with_dispatch_rules(p).offtake_price_usd_per_mwh - p.offtake_price_usd_per_mwh
    return r.objective_hourly_usd + (premium * r.delivered_mw).sum(axis=0)


def check_rules(p: DispatchProblem, r) -> None:
    """Imports serve only the house load the units cannot make; under grid first no MW
    is mined while an offtake could take more."""
    unmade = np.maximum(0.0, p.house_load_mw - p.unit_available_mw.sum(0))
    assert (r.imported_mw <= unmade + 1e-6).all()
    if p.grid_first and p.class_value_usd_per_mwh.size and p.offtake_price_usd_per_mwh.size:
        mined = r.mining_mw.sum(0) > 1e-6
        room = (r.delivered_mw < p.offtake_cap_mw - 1e-6).any(axis=0)
        assert not (mined & room).any(), np.flatnonzero(mined & room)


@SETTINGS
@given(random_problem("none"))
def test_no_ramps_certified_and_equal_to_lp(p: DispatchProblem) -> None:
    r = check_against_lp(p)
    if r is not None:
        assert r.certified and r.lp_solves == 0


@SETTINGS
@given(random_problem("some"), st.sampled_from(["window", "path"]))
def test_with_ramps_equal_to_lp(p: DispatchProblem, fallback: str) -> None:
    check_against_lp(p, fallback)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problem("tight"), st.sampled_from(["window", "path"]))
def test_binding_ramps_fall_back_and_agree(p: DispatchProblem, fallback: str) -> None:
    r = check_against_lp(p, fallback)
    if r is None:
        return
    # where the per-hour optimum breaks a ramp row, the certificate must fail
    relaxed = solve_fast(dataclasses.replace(p, ramp_allowed=np.zeros_like(p.ramp_mask)))
    steps = np.diff(relaxed.unit_mw, axis=1)
    mask = p.ramp_mask[:, 1:]
    breaks = (mask & (steps > p.unit_ramp_up_mw_per_h[:, None] + RAMP_TOL)).any() or (
        mask & (-steps > p.unit_ramp_down_mw_per_h[:, None] + RAMP_TOL)
    ).any()
    if breaks:
        assert not r.certified and r.lp_solves >= 1 and r.lp_hours > 0
    else:
        assert r.certified


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problem("sparse"), st.sampled_from([0, 2, 12]))
def test_sparse_violations_are_repaired_in_windows(p: DispatchProblem, pad: int) -> None:
    # narrow first windows make the repair pin, grow and merge windows
    with mock.patch.object(fast.windows, "WINDOW_PAD", pad):
        check_against_lp(p, "window")


@SETTINGS
@given(random_problem("none"))
def test_marginal_value_is_the_value_of_a_free_mw(p: DispatchProblem) -> None:
    # a free MW at the plant (house load ε lower) is worth the marginal value, hour by hour
    try:
        r = solve_fast(p)
    except InfeasibleError:
        return
    eps = 1e-3
    T = p.hours
    for t in range(T):
        if p.house_load_mw[t] < eps:
            continue
        house = p.house_load_mw.copy()
        house[t] -= eps
        q = dataclasses.replace(p, house_load_mw=house)
        before = house_import_cap_mw(p.import_cap_mw, p.house_load_mw, p.unit_available_mw)
        if house_import_cap_mw(q.import_cap_mw, house, q.unit_available_mw)[t] != before[t]:
            continue  # the imports bound moves with the house load: not a free MW alone
        try:
            rq = solve_fast(q)
        except InfeasibleError:
            continue
        # under grid first the duals price the dispatch's own objective (priority prices)
        gain = (dispatch_objective(q, rq)[t] - dispatch_objective(p, r)[t]) / eps
        assert gain == pytest.approx(r.marginal_value_usd_per_mwh[t], rel=1e-4, abs=1e-3)


# --------------------------------------------------------------------------- #
# Batches and chunks
# --------------------------------------------------------------------------- #


def random_batch(p: DispatchProblem, n: int, seed: int) -> BatchProblem:
    """n paths of ``p`` with perturbed prices, values, availability and caps."""
    rng = np.random.default_rng(seed)
    U, T = p.unit_available_mw.shape
    O, K = p.offtake_price_usd_per_mwh.shape[0], p.class_value_usd_per_mwh.shape[0]
    steady = np.isfinite(p.unit_ramp_up_mw_per_h)
    factor = np.where(steady[None, :, None], 1.0, rng.uniform(0.5, 1.2, (n, U, T)))
    return BatchProblem.from_problem(
        p,
        offtake_price_usd_per_mwh=p.offtake_price_usd_per_mwh[None] + rng.normal(0, 20, (n, O, T)),
        class_value_usd_per_mwh=p.class_value_usd_per_mwh[None] * rng.lognormal(0, 0.3, (n, K, 1)),
        unit_available_mw=p.unit_available_mw[None] * factor,
        unit_min_mw=np.minimum(p.unit_min_mw[None], p.unit_available_mw[None] * factor),
        house_load_mw=p.house_load_mw[None] * rng.uniform(0.5, 1.5, (n, 1)),
        class_cap_mw=p.class_cap_mw,  # shared, given again: an override without a path axis
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problem("some"), st.integers(0, 2**32 - 1))
def test_batch_equals_paths_and_chunking_does_not_matter(p: DispatchProblem, seed: int) -> None:
    batch = random_batch(p, 5, seed)
    try:
        whole = solve_fast_batch(batch, chunk_size=5, workers=1)
    except InfeasibleError:
        return
    for i in range(batch.n_paths):
        one = solve_fast(batch.path(i))
        path = whole.path(i)
        assert one.objective_usd == path.objective_usd
        assert one.certified == path.certified
        for name in OUTPUTS:
            np.testing.assert_array_equal(getattr(one, name), getattr(path, name), err_msg=name)
        lp = solve_lp(batch.path(i))
        assert agree(path.objective_usd, lp.objective_usd)
    for chunk, workers in ((1, 1), (2, 2), (3, 1)):
        other = solve_fast_batch(batch, chunk_size=chunk, workers=workers)
        np.testing.assert_array_equal(other.objective_usd, whole.objective_usd)
        np.testing.assert_array_equal(other.certified, whole.certified)
        for name in OUTPUTS:
            np.testing.assert_array_equal(getattr(other, name), getattr(whole, name))
    assert whole.lp_fallbacks == int((~whole.certified).sum())


def test_batch_from_overrides_and_outputs() -> None:
    p = problem(T=3, house=(10.0,))
    prices = np.array([[[50.0]], [[5.0]]])  # (N, O, 1): one price per path, every hour
    r = solve_fast_batch(p, offtake_price_usd_per_mwh=prices, outputs=("unit_mw",))
    assert r.n_paths == 2 and r.delivered_mw is None and r.unit_mw.shape == (2, 1, 3)
    # at 5 $/MWh the grid is not worth the 10 $ cost: only mining (30 $) and house load
    np.testing.assert_allclose(r.objective_usd, [3 * 2900.0, 3 * (50 * 30 - 60 * 10)])
    with pytest.raises(ValueError, match="needs every output"):
        r.path(0)
    with pytest.raises(ValueError, match="not a per-path field"):
        BatchProblem.from_problem(p, unit_ramp_up_mw_per_h=np.ones(1))
    with pytest.raises(ValueError, match="does not broadcast"):
        BatchProblem.from_problem(p, house_load_mw=np.ones((2, 4)))
    with pytest.raises(ValueError, match="paths on its leading axis"):
        BatchProblem.from_problem(
            p, house_load_mw=np.ones((2, 3)), offtake_price_usd_per_mwh=np.ones((3, 1, 3))
        )
    with pytest.raises(ValueError, match="unknown outputs"):
        solve_fast_batch(p, outputs=("nope",))
    batch = BatchProblem.from_problem(p, offtake_price_usd_per_mwh=prices)
    assert batch.select(1, 2).path(0).offtake_price_usd_per_mwh.tolist() == [[5.0, 5.0, 5.0]]
    assert batch.path(0).diesel_cap_mw is None  # what the base leaves out stays out


# --------------------------------------------------------------------------- #
# The built-in scenarios
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", ["znpp", "itaipu", "susquehanna"])
def test_builtin_scenarios_reach_the_lp_optimum(name: str) -> None:
    from gridhash.pipeline import run_scenario

    run = run_scenario(name)
    r = solve_fast(run.problem)
    assert agree(r.objective_usd, run.result.objective_usd)
