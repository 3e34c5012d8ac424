"""The fast path's shortcuts change no number.

What is left out of the merit order when only some outputs are asked for (empty
firm segments, the duals, sources unused in every hour), the chunking, the ramp
test on the large steps only, the row sums and the repair's views of a path: each
must give the numbers the full computation gives, bit for bit where it can.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridhash.dispatch import DispatchProblem
from gridhash.dispatch.fast import (
    OUTPUTS,
    PATH_FIELDS,
    RAMP_TOL,
    BatchProblem,
    certificate,
    merit,
    solve_fast_batch,
)
from gridhash.errors import InfeasibleError

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SWEEP_OUTPUTS = ("delivered_mw", "unserved_mw", "mining_mw", "diesel_mw")


@st.composite
def sweep_like(draw) -> BatchProblem:
    """Paths shaped like the risk sweep's: equal-cost units sharing load, an offtake
    with a firm obligation next to ones without, classes at their own sites or at a
    shared one, an envelope; prices, values, availability and caps vary by path."""
    T = draw(st.sampled_from([2, 7, 24, 60, 110]))
    N = draw(st.integers(1, 5))
    U = draw(st.integers(1, 4))
    O = draw(st.integers(0, 3))
    K = draw(st.integers(0, 3))
    S = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    coarse = draw(st.booleans())

    def num(lo: float, hi: float, shape) -> np.ndarray:
        if coarse:  # ties between prices, values and costs
            return rng.choice(np.linspace(lo, hi, 4), shape)
        return rng.uniform(lo, hi, shape)

    avail = num(50, 300, (U, 1)) * np.ones((1, T))
    ramp = np.where(rng.random(U) < 0.7, num(20, 120, U), np.inf)
    cost = num(5, 30, (U, 1)) if rng.random() < 0.5 else np.full((U, 1), 9.0)
    firm = num(0, 200, (O, T)) * (rng.random((O, 1)) < 0.5)  # some offtakes without
    house = np.full(T, float(num(0, 40, ())))
    envelope = rng.random() < 0.7
    base = DispatchProblem(
        unit_names=tuple(f"u{i}" for i in range(U)),
        unit_available_mw=avail,
        unit_min_mw=avail * num(0, 0.5, (U, 1)),
        unit_ramp_up_mw_per_h=ramp,
        unit_ramp_down_mw_per_h=ramp if rng.random() < 0.7 else ramp * 1.5,
        unit_cost_usd_per_mwh=np.broadcast_to(cost, (U, T)).copy(),
        house_load_mw=house,
        import_price_usd_per_mwh=np.full(T, 341.0),
        import_cap_mw=num(0, 40, T),
        offtake_names=tuple(f"o{i}" for i in range(O)),
        offtake_price_usd_per_mwh=num(-5, 300, (O, T)),
        offtake_cap_mw=num(0, 400, (O, T)) + np.where(np.arange(O) == 0, 900.0, 100.0)[:, None],
        offtake_firm_mw=firm,
        unserved_penalty=float(rng.choice([4400.0, 0.0, -5.0])) if coarse else 4400.0,
        site_names=tuple(f"s{i}" for i in range(S)),
        site_cap_mw=num(0, 250, (S, T)),
        class_names=tuple(f"k{i}" for i in range(K)),
        class_site=rng.integers(0, S, K),
        class_cap_mw=num(0, 230, (K, T)),
        class_value_usd_per_mwh=num(-10, 220, (K, T)),
        diesel_cap_mw=num(0, 40, T) * (rng.random(T) < 0.3) if envelope else None,
        diesel_cost=300.0 if envelope else 0.0,
        blackout_cap_mw=house.copy() if envelope else None,
        blackout_penalty=1e5 if envelope else 0.0,
        mining_cap_mw=(num(0, 400, T) if rng.random() < 0.7 else np.full(T, np.inf))
        if envelope
        else None,
        ramp_allowed=(rng.random((U, T)) < 0.6) if envelope else None,
    )
    on = rng.random((N, U, T)) > 0.1  # outages
    overrides = {
        "unit_available_mw": avail[None] * on,
        "unit_min_mw": base.unit_min_mw[None] * on,
        "offtake_price_usd_per_mwh": base.offtake_price_usd_per_mwh[None] + num(-40, 40, (N, O, T)),
        "offtake_cap_mw": base.offtake_cap_mw[None] * (rng.random((N, O, T)) > 0.02),
        "class_value_usd_per_mwh":
            base.class_value_usd_per_mwh[None] * rng.lognormal(0, 0.3, (N, K, 1)),
    }
    if rng.random() < 0.3:  # a firm obligation given by path: zero in some of them
        overrides["offtake_firm_mw"] = firm[None] * (rng.random((N, O, 1)) < 0.5)
    return BatchProblem.from_problem(base, n_paths=N, **overrides)


def solve(batch: BatchProblem, **kw):
    try:
        return solve_fast_batch(batch, workers=1, **kw)
    except InfeasibleError as exc:  # a path whose forced output has nowhere to go
        return exc.reasons


@pytest.mark.slow
@SETTINGS
@given(sweep_like())
def test_outputs_and_chunks_change_no_number(batch: BatchProblem) -> None:
    full = solve(batch, chunk_size=batch.n_paths)
    for kw in (
        {"outputs": SWEEP_OUTPUTS},  # no duals: empty firm segments and unused sources skipped
        {"outputs": SWEEP_OUTPUTS, "chunk_size": 1},
        {"outputs": (), "chunk_size": 2},
        {"outputs": ("unit_mw", "objective_hourly_usd", "imported_mw", "blackout_mw")},
        {"chunk_size": 1},
    ):
        other = solve(batch, **kw)
        if isinstance(full, list):
            assert other == full  # the same path is found infeasible, for the same reasons
            continue
        np.testing.assert_array_equal(other.objective_usd, full.objective_usd)
        np.testing.assert_array_equal(other.certified, full.certified)
        np.testing.assert_array_equal(other.lp_hours, full.lp_hours)
        assert other.lp_solves == full.lp_solves
        for name in OUTPUTS:
            kept = getattr(other, name)
            if kept is not None:
                np.testing.assert_array_equal(kept, getattr(full, name), err_msg=name)


def dense_ramp_violations(batch: BatchProblem, unit_mw: np.ndarray) -> np.ndarray:
    """The ramp test hour by hour on every unit (what the repair must be told)."""
    base = batch.base
    up, down = base.unit_ramp_up_mw_per_h, base.unit_ramp_down_mw_per_h
    viol = np.zeros(unit_mw.shape[::2], dtype=bool)
    avail = np.broadcast_to(batch.arrays["unit_available_mw"], unit_mw.shape)
    allowed = np.broadcast_to(batch.arrays["ramp_allowed"], unit_mw.shape)
    for u in range(unit_mw.shape[1]):
        if not (np.isfinite(up[u]) or np.isfinite(down[u])):
            continue
        on = avail[:, u] > 0
        mask = on[:, 1:] & on[:, :-1] & allowed[:, u, 1:]
        step = unit_mw[:, u, 1:] - unit_mw[:, u, :-1]
        viol[:, 1:] |= mask & ((step > up[u] + RAMP_TOL) | (step < -down[u] - RAMP_TOL))
    return viol


@SETTINGS
@given(sweep_like(), st.integers(0, 2**32 - 1))
def test_ramp_test_on_large_steps_is_the_dense_test(batch: BatchProblem, seed: int) -> None:
    rng = np.random.default_rng(seed)
    N, T, U = batch.n_paths, batch.hours, batch.base.unit_available_mw.shape[0]
    up = batch.base.unit_ramp_up_mw_per_h
    ramp = np.where(np.isfinite(up), up, 100.0)
    # steps around the limits, on both sides of the tolerance, and exactly at it
    steps = (
        rng.choice([-1.0, 1.0], (N, U, T))
        * ramp[None, :, None]
        * rng.choice([0.5, 1.0, 1.0 + 0.5e-9, 1.0 + 1e-6, 2.0], (N, U, T))
    )
    unit_mw = np.cumsum(steps, axis=2) + 1000.0
    np.testing.assert_array_equal(
        certificate._ramp_violations(batch, 0, N, unit_mw), dense_ramp_violations(batch, unit_mw)
    )


@SETTINGS
@given(st.integers(1, 3), st.integers(0, 5), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_row_sums_are_numpys(n: int, rows: int, T: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, rows, T)) * 10.0 ** rng.integers(-8, 8, (n, rows, T))
    np.testing.assert_array_equal(merit._sum_rows(a).view(np.int64), a.sum(axis=1).view(np.int64))


@SETTINGS
@given(sweep_like())
def test_the_repairs_view_of_a_path_is_the_path(batch: BatchProblem) -> None:
    for i in range(batch.n_paths):
        copy, view = batch.path(i), batch._view(i)
        for name in PATH_FIELDS:
            a, b = getattr(copy, name), getattr(view, name)
            assert (a is None) == (b is None), name
            if a is not None:
                np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(copy.ramp_mask, view.ramp_mask)
