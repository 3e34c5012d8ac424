"""The LP against optima worked out by hand, infeasibility explanations, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridhash.dispatch import DispatchProblem, solve_lp
from gridhash.errors import InfeasibleError

INF = np.inf


def problem(
    T: int = 1,
    *,
    avail=((100.0,),),
    unit_min=None,
    ramp_up=(INF,),
    ramp_down=(INF,),
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
) -> DispatchProblem:
    def arr(x, shape=None):
        a = np.array(x, dtype=float)
        return a if shape is None else np.broadcast_to(a, shape).copy()

    avail = arr(avail)
    U = avail.shape[0]
    return DispatchProblem(
        unit_names=tuple(f"u{i}" for i in range(U)),
        unit_available_mw=avail,
        unit_min_mw=np.zeros_like(avail) if unit_min is None else arr(unit_min),
        unit_ramp_up_mw_per_h=arr(ramp_up),
        unit_ramp_down_mw_per_h=arr(ramp_down),
        unit_cost_usd_per_mwh=arr(cost, avail.shape),
        house_load_mw=arr(house, (T,)),
        import_price_usd_per_mwh=arr(import_price_usd_per_mwh, (T,)),
        import_cap_mw=arr(import_cap, (T,)),
        offtake_names=tuple(f"o{i}" for i in range(np.array(price).shape[0])),
        offtake_price_usd_per_mwh=arr(price),
        offtake_cap_mw=arr(cap),
        offtake_firm_mw=arr(firm),
        unserved_penalty=penalty,
        site_names=tuple(f"s{i}" for i in range(np.array(site_cap).shape[0])),
        site_cap_mw=arr(site_cap),
        class_names=tuple(f"k{i}" for i in range(np.array(class_cap).shape[0])),
        class_site=np.array(class_site, dtype=np.int64),
        class_cap_mw=arr(class_cap),
        class_value_usd_per_mwh=arr(value),
    )


def test_merit_order_by_hand() -> None:
    # 100 MW at 10 $/MWh: house 10, grid takes 60 at 50 $, mining the last 30 at 30 $.
    r = solve_lp(problem(house=(10.0,)))
    assert r.unit_mw[0, 0] == pytest.approx(100.0)
    assert r.delivered_mw[0, 0] == pytest.approx(60.0)
    assert r.mining_mw[0, 0] == pytest.approx(30.0)
    assert r.objective_usd == pytest.approx(60 * 50 + 30 * 30 - 100 * 10)
    # one more MW at the plant would be mined: worth the mining value
    assert r.marginal_value_usd_per_mwh[0] == pytest.approx(30.0)


def test_uneconomic_energy_is_curtailed() -> None:
    # mining worth 5 $/MWh < unit cost 10: the unit stops at what the grid takes
    r = solve_lp(problem(value=((5.0,),)))
    assert r.unit_mw[0, 0] == pytest.approx(60.0)
    assert r.mining_mw[0, 0] == pytest.approx(0.0)
    # the unit's marginal cost sets it
    assert r.marginal_value_usd_per_mwh[0] == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("avail", "delivered", "mined", "unserved", "objective"),
    [
        # enough energy: the firm 40 MW is served although mining pays 100 $ vs 20 $
        (50.0, 40.0, 10.0, 0.0, 40 * 20 + 10 * 100),
        # a shortfall is unserved firm energy, and nothing is mined
        (30.0, 30.0, 0.0, 10.0, 30 * 20 - 10 * 4000),
    ],
)
def test_firm_obligation_before_mining(
    avail: float, delivered: float, mined: float, unserved: float, objective: float
) -> None:
    p = problem(
        avail=((avail,),),
        cost=((0.0,),),
        price=((20.0,),),
        cap=((40.0,),),
        firm=((40.0,),),
        value=((100.0,),),
    )
    r = solve_lp(p)
    assert r.delivered_mw[0, 0] == pytest.approx(delivered)
    assert r.mining_mw[0, 0] == pytest.approx(mined)
    assert r.unserved_mw[0, 0] == pytest.approx(unserved)
    assert r.objective_usd == pytest.approx(objective)


def test_binding_ramp_by_hand() -> None:
    # hour 0 sells at 1 $ (below the 5 $ cost), hour 1 at 100 $; ramp-up 30 MW/h:
    # g1 ≤ g0 + 30, so the optimum runs g0 = 70 at a loss to reach g1 = 100.
    p = problem(
        T=2,
        avail=((100.0, 100.0),),
        cost=((5.0, 5.0),),
        ramp_up=(30.0,),
        price=((1.0, 100.0),),
        cap=((100.0, 100.0),),
        firm=((0.0, 0.0),),
        site_cap=((0.0, 0.0),),
        class_cap=((0.0, 0.0),),
        value=((0.0, 0.0),),
    )
    r = solve_lp(p)
    np.testing.assert_allclose(r.unit_mw[0], [70.0, 100.0], atol=1e-6)
    assert r.objective_usd == pytest.approx(70 * (1 - 5) + 100 * (100 - 5))


def test_ramps_do_not_bind_across_an_outage() -> None:
    p = problem(
        T=3,
        avail=((100.0, 0.0, 100.0),),
        cost=((5.0,) * 3,),
        ramp_up=(10.0,),
        ramp_down=(10.0,),
        price=((50.0,) * 3,),
        cap=((100.0,) * 3,),
        firm=((0.0,) * 3,),
        site_cap=((0.0,) * 3,),
        class_cap=((0.0,) * 3,),
        value=((0.0,) * 3,),
    )
    r = solve_lp(p)
    np.testing.assert_allclose(r.unit_mw[0], [100.0, 0.0, 100.0], atol=1e-6)


def test_shared_site_capacity() -> None:
    # two classes at one 40 MW site: the better one (value 50) fills it first
    p = problem(
        avail=((200.0,),),
        cost=((0.0,),),
        cap=((0.0,),),
        site_cap=((40.0,),),
        class_site=(0, 0),
        class_cap=((30.0,), (30.0,)),
        value=((50.0,), (20.0,)),
    )
    r = solve_lp(p)
    np.testing.assert_allclose(r.mining_mw[:, 0], [30.0, 10.0], atol=1e-6)


def test_imports_cover_house_load_when_units_are_out() -> None:
    p = problem(avail=((0.0,),), house=(15.0,), import_cap=(15.0,),
                import_price_usd_per_mwh=(80.0,))
    r = solve_lp(p)
    assert r.imported_mw[0] == pytest.approx(15.0)
    assert r.objective_usd == pytest.approx(-15 * 80)


def test_infeasible_forced_output_is_explained() -> None:
    p = problem(
        avail=((100.0,),),
        unit_min=((80.0,),),
        cap=((50.0,),),
        class_cap=((0.0,),),
        site_cap=((0.0,),),
    )
    with pytest.raises(InfeasibleError) as info:
        solve_lp(p)
    text = str(info.value)
    assert "energy balance" in text and "hour 0" in text
    assert "at least 80.0 MW" in text and "at most 50.0 MW" in text


def test_infeasible_house_load_is_explained() -> None:
    p = problem(avail=((0.0,),), house=(20.0,), import_cap=(5.0,))
    with pytest.raises(InfeasibleError) as info:
        solve_lp(p)
    text = str(info.value)
    assert "house load of 20.0 MW cannot be supplied" in text and "at most 5.0 MW" in text


def test_infeasible_ramp_is_explained() -> None:
    # must run ≥ 80 MW both hours... but the line drops to 20 MW in hour 2 and the unit
    # may fall only 10 MW/h: either the balance or the ramp must break from hour 2.
    T = 3
    p = problem(
        T=T,
        avail=((100.0,) * T,),
        unit_min=((0.0,) * T,),
        ramp_down=(10.0,),
        cost=((0.0,) * T,),
        price=((50.0,) * T,),
        cap=((100.0, 100.0, 20.0),),
        firm=((0.0,) * T,),
        site_cap=((0.0,) * T,),
        class_cap=((0.0,) * T,),
        value=((0.0,) * T,),
    )
    r = solve_lp(p)  # feasible: the optimiser anticipates and ramps down early
    assert r.unit_mw[0, 2] <= 20.0 + 1e-6 and r.unit_mw[0, 1] <= 30.0 + 1e-6
    forced = problem(
        T=T,
        avail=((100.0,) * T,),
        unit_min=((90.0, 0.0, 0.0),),
        ramp_down=(10.0,),
        cost=((0.0,) * T,),
        price=((50.0,) * T,),
        cap=((100.0, 100.0, 20.0),),
        firm=((0.0,) * T,),
        site_cap=((0.0,) * T,),
        class_cap=((0.0,) * T,),
        value=((0.0,) * T,),
    )
    with pytest.raises(InfeasibleError) as info:
        solve_lp(forced)
    text = str(info.value)
    assert "hour 1" in text or "hour 2" in text
    assert "ramp-down limit of unit 'u0'" in text or "energy balance" in text


@st.composite
def random_problem(draw) -> DispatchProblem:
    T = draw(st.integers(1, 12))
    U = draw(st.integers(1, 3))
    O = draw(st.integers(1, 2))
    K = draw(st.integers(0, 3))
    S = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    avail = rng.uniform(0, 100, (U, T)) * (rng.random((U, T)) > 0.1)
    unit_min = avail * rng.uniform(0, 0.5, (U, 1)) * (rng.random((U, 1)) > 0.5)
    ramp = np.where(rng.random(U) > 0.5, rng.uniform(5, 60, U), INF)
    # a ramp-limited unit keeps its limits over time, so the problem stays feasible
    steady = np.isfinite(ramp)
    avail[steady] = avail[steady, :1]
    unit_min[steady] = unit_min[steady, :1]
    cap = rng.uniform(0, 150, (O, T))
    firm = np.minimum(cap, rng.uniform(0, 60, (O, T))) * (rng.random((O, 1)) > 0.5)
    return DispatchProblem(
        unit_names=tuple(f"u{i}" for i in range(U)),
        unit_available_mw=avail,
        unit_min_mw=unit_min,
        unit_ramp_up_mw_per_h=ramp,
        unit_ramp_down_mw_per_h=ramp,
        unit_cost_usd_per_mwh=rng.uniform(0, 40, (U, T)),
        house_load_mw=rng.uniform(0, 10, T),
        import_price_usd_per_mwh=rng.uniform(50, 300, T),
        import_cap_mw=np.full(T, 10.0),
        offtake_names=tuple(f"o{i}" for i in range(O)),
        offtake_price_usd_per_mwh=rng.uniform(-5, 120, (O, T)),
        offtake_cap_mw=cap + 200.0,  # enough room that forced output always fits
        offtake_firm_mw=firm,
        unserved_penalty=5000.0,
        site_names=tuple(f"s{i}" for i in range(S)),
        site_cap_mw=rng.uniform(0, 80, (S, T)),
        class_names=tuple(f"k{i}" for i in range(K)),
        class_site=rng.integers(0, S, K),
        class_cap_mw=rng.uniform(0, 50, (K, T)),
        class_value_usd_per_mwh=rng.uniform(-10, 150, (K, T)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_problem())
def test_properties_of_any_optimum(p: DispatchProblem) -> None:
    r = solve_lp(p)
    tol = 1e-6 * (1 + p.unit_available_mw.sum())
    # energy balance every hour
    supply = r.unit_mw.sum(0) + r.imported_mw
    use = p.house_load_mw + r.delivered_mw.sum(0) + r.mining_mw.sum(0)
    np.testing.assert_allclose(supply, use, atol=tol)
    # limits
    assert (r.unit_mw <= p.unit_available_mw + 1e-7).all()
    assert (r.unit_mw >= p.unit_min_mw - 1e-7).all()
    assert (r.delivered_mw <= p.offtake_cap_mw + 1e-7).all()
    for s in range(p.site_cap_mw.shape[0]):
        assert (r.mining_mw[p.class_site == s].sum(0) <= p.site_cap_mw[s] + 1e-6).all()
    steps = np.diff(r.unit_mw, axis=1)
    mask = p.ramp_mask[:, 1:]
    assert (np.where(mask, steps, 0) <= p.unit_ramp_up_mw_per_h[:, None] + 1e-6).all()
    assert (np.where(mask, -steps, 0) <= p.unit_ramp_down_mw_per_h[:, None] + 1e-6).all()
    # firm obligations are served before any mining: in an hour with unserved firm
    # energy, nothing is mined unless no more could reach that offtake
    short = r.unserved_mw > 1e-6
    mined = r.mining_mw.sum(0) > 1e-6
    line_full = r.delivered_mw >= p.offtake_cap_mw - 1e-6
    assert not (short & mined[None, :] & ~line_full).any()
    # the reported objective is the value of the reported decisions
    value = (
        (p.offtake_price_usd_per_mwh * r.delivered_mw).sum()
        + (p.class_value_usd_per_mwh * r.mining_mw).sum()
        - (p.unit_cost_usd_per_mwh * r.unit_mw).sum()
        - (p.import_price_usd_per_mwh * r.imported_mw).sum()
        - p.unserved_penalty * r.unserved_mw.sum()
    )
    assert value == pytest.approx(r.objective_usd, rel=1e-6, abs=1e-4)
