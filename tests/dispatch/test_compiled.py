"""The compiled merit order (numba) against the numpy kernel and the spec: bit for bit,
on random batches and on sampled years of the default scenario; and the fast path's
results do not depend on the kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_merit_spec import SETTINGS, _bits, batches

from gridhash.dispatch.fast import OUTPUTS, BatchProblem, solve_fast_batch
from gridhash.dispatch.fast.driver import KERNEL_ENV, kernel_for
from gridhash.dispatch.fast.merit import _merit_order, _merit_order_compiled
from gridhash.dispatch.merit_spec import merit_order_hour

pytest.importorskip("numba")


def _same_hours(got, ref, duals: bool) -> None:
    """Equal ``ok``, and every output equal bit for bit in the hours that are ok (the
    others send their path to the LP, which rewrites them)."""
    np.testing.assert_array_equal(got.ok, ref.ok)
    for name in OUTPUTS:
        if not duals and name == "marginal_value_usd_per_mwh":
            assert got.marginal_value_usd_per_mwh is None
            continue
        x, y = getattr(got, name), getattr(ref, name)
        ok = ref.ok[:, None] if y.ndim == 3 else ref.ok
        np.testing.assert_array_equal(_bits(np.where(ok, x, 0.0)), _bits(np.where(ok, y, 0.0)),
                                      name)


@pytest.mark.slow  # compiles the kernel on a cold numba cache (~12 s)
@SETTINGS
@given(batches(), st.booleans())
def test_the_compiled_kernel_is_the_numpy_kernel(batch: BatchProblem, duals: bool) -> None:
    _same_hours(_merit_order_compiled(batch, 0, batch.n_paths, duals=duals),
                _merit_order(batch, 0, batch.n_paths, duals=duals), duals)


@pytest.mark.slow  # compiles the kernel on a cold numba cache (~12 s)
@SETTINGS
@given(batches())
def test_the_compiled_kernel_is_the_spec(batch: BatchProblem) -> None:
    h = _merit_order_compiled(batch, 0, batch.n_paths)
    for i in range(batch.n_paths):
        p = batch.path(i)
        for t in range(batch.hours):
            spec = merit_order_hour(p, t)
            assert (spec is not None) == bool(h.ok[i, t]), (i, t)
            if spec is not None:
                for name in OUTPUTS:
                    np.testing.assert_array_equal(_bits(getattr(h, name)[i, ..., t]),
                                                  _bits(spec[name]), f"{name} {i} {t}")


@pytest.mark.slow  # compiles the kernel on a cold numba cache (~12 s)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the numpy kernel on 0 / 0
def test_out_of_domain_hours_are_flagged_not_raised() -> None:
    # negative capacities (a tie group summing to 0 with a member that is not), NaN
    # prices, infinite availability: flagged not ok, as the numpy kernel flags them
    import dataclasses

    from test_fast import problem

    p = problem(T=4, avail=((100.0, 50.0, np.inf, 10.0), (100.0, -50.0, 10.0, 10.0)),
                ramp=(np.inf, np.inf), cost=((10.0,) * 4, (10.0,) * 4),
                price=((50.0, np.nan, 50.0, 50.0),))
    p = dataclasses.replace(p, unit_min_mw=np.zeros((2, 4)))
    b = BatchProblem.from_problem(p)
    _same_hours(_merit_order_compiled(b, 0, 1), _merit_order(b, 0, 1), True)
    assert not _merit_order_compiled(b, 0, 1).ok[0, 1:3].any()


@pytest.mark.slow  # compiles the kernel on a cold numba cache (~12 s)
def test_a_sweep_block_is_the_same_with_either_kernel(monkeypatch) -> None:
    # sampled years of the default scenario (outages, line cuts, envelopes, LP windows):
    # every column of the risk sweep equal bit for bit, whichever kernel ran
    from gridhash.risk.sweep import context_for, path_columns
    from gridhash.scenario import load_scenario

    ctx = context_for(load_scenario("znpp"), None)
    cols = {}
    for kernel in ("numpy", "numba"):
        monkeypatch.setenv(KERNEL_ENV, kernel)
        assert kernel_for() == kernel
        cols[kernel] = path_columns(ctx, range(0, 12), seed=7)
    assert not cols["numpy"]["certified"].all()  # some paths went through LP windows
    for name, a in cols["numpy"].items():
        assert np.asarray(a).tobytes() == np.asarray(cols["numba"][name]).tobytes(), name


def test_kernel_choice(monkeypatch) -> None:
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    assert kernel_for() == "numpy"  # the default, numba installed or not
    monkeypatch.setenv(KERNEL_ENV, "numba")
    assert kernel_for() == "numba" and kernel_for("numpy") == "numpy"
    with pytest.raises(ValueError, match="kernel must be"):
        kernel_for("fortran")  # type: ignore[arg-type]


@pytest.mark.slow  # compiles the kernel on a cold numba cache (~12 s)
def test_solve_fast_batch_is_the_same_with_either_kernel() -> None:
    from gridhash.dispatch import build_problem
    from gridhash.safety import envelope_for
    from gridhash.scenario import load_scenario
    from gridhash.scenario.resolve import resolve

    loaded = load_scenario("susquehanna")  # binding ramps: LP windows
    inputs = resolve(loaded)
    p = build_problem(inputs, envelope_for(loaded, inputs))
    rng = np.random.default_rng(5)
    b = BatchProblem.from_problem(p, 3, offtake_price_usd_per_mwh=p.offtake_price_usd_per_mwh[None]
                                  * rng.uniform(0.7, 1.3, (3, 1, p.hours)))
    a, c = solve_fast_batch(b, kernel="numpy"), solve_fast_batch(b, kernel="numba")
    assert a.lp_solves > 0
    for name in (*OUTPUTS, "objective_usd", "certified", "lp_hours"):
        assert getattr(a, name).tobytes() == getattr(c, name).tobytes(), name


def test_without_numba_the_numpy_kernel_runs(monkeypatch) -> None:
    # the base install (no `fast` extra): the environment's choice falls back to numpy,
    # and asking for numba says how to get it
    from gridhash.dispatch.fast import driver

    monkeypatch.setattr(driver, "_has_numba", lambda: False)
    monkeypatch.setenv(KERNEL_ENV, "numba")
    assert kernel_for() == "numpy"
    with pytest.raises(ValueError, match=r"gridhash\[fast\]"):
        kernel_for("numba")
    from test_fast import problem

    def no_numba(*args, **kwargs):
        raise AssertionError("the compiled kernel ran without numba")

    monkeypatch.setattr(driver, "_merit_order_compiled", no_numba)
    # 100 MW at 10 USD/MWh: 60 MW sold at 50, the other 40 MW mined at 30
    assert solve_fast_batch(problem()).objective_usd[0] == 60 * 50.0 + 40 * 30.0 - 100 * 10.0


@pytest.mark.slow
def test_dask_workers_with_the_compiled_kernel_give_the_numpy_results(monkeypatch) -> None:
    # the workers inherit the choice, preload the compiled kernel, and the sweep's rows
    # are those of the numpy kernel in process, bit for bit
    import sys

    import pandas as pd
    from dask.distributed import Client

    from gridhash.risk.cluster import local_cluster
    from gridhash.risk.sweep import sweep
    from gridhash.scenario import load_scenario

    znpp = load_scenario("znpp")
    monkeypatch.setenv(KERNEL_ENV, "numpy")
    local = sweep(znpp, 6, seed=7, chunk_size=6)
    monkeypatch.setenv(KERNEL_ENV, "numba")
    with local_cluster(1) as cluster, Client(cluster) as client:
        loaded = client.run(lambda: "gridhash.dispatch.fast.compiled" in sys.modules)
    assert list(loaded.values()) == [True]
    pd.testing.assert_frame_equal(sweep(znpp, 6, seed=7, chunk_size=2, workers=2), local,
                                  check_exact=True)
