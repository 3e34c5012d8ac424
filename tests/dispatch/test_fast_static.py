"""Static values: a value given as one number for the horizon stays one number (a
broadcast view) from resolution to the fast path, which reads its layout instead of
scanning its hours; the results are bit for bit those of the same values held hour by hour."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from test_merit_spec import SETTINGS, _bits, batches

from gridhash.dispatch import build_problem
from gridhash.dispatch.fast import OUTPUTS, BatchProblem, solve_fast_batch
from gridhash.dispatch.fast.merit import _merit_order
from gridhash.safety import envelope_for
from gridhash.scenario import load_scenario
from gridhash.scenario.arrays import is_static
from gridhash.scenario.resolve import resolve, stack_rows, static_series


def _materialised(b: BatchProblem) -> BatchProblem:
    """The same batch with every array a plain contiguous copy (nothing static)."""
    import dataclasses

    return dataclasses.replace(b, arrays={k: np.array(a) for k, a in b.arrays.items()})


def test_layout_says_what_is_static() -> None:
    s = static_series(9.0, 24)
    assert is_static(s) and s.shape == (24,) and not s.flags.writeable
    assert not is_static(np.full(24, 9.0))  # constant values, but not declared so
    rows = stack_rows([static_series(1.0, 5), static_series(2.0, 5)], 5)
    assert is_static(rows) and rows.tolist() == [[1.0] * 5, [2.0] * 5]
    mixed = stack_rows([static_series(1.0, 5), np.arange(5.0)], 5)
    assert not is_static(mixed) and mixed.flags.writeable


def test_resolution_keeps_one_number_static() -> None:
    inputs = resolve(load_scenario("znpp"))
    # znpp: 9 USD/MWh for every unit, 100 MW house load, imports at 341 USD/MWh
    for name in ("unit_cost_usd_per_mwh", "house_load_mw", "import_price_usd_per_mwh"):
        assert is_static(getattr(inputs, name)), name
    # a generated profile is a series
    assert not is_static(inputs.offtake_price_usd_per_mwh)
    problem = build_problem(inputs, envelope_for(load_scenario("znpp"), inputs))
    static = BatchProblem.from_problem(problem).static
    assert {"unit_cost_usd_per_mwh", "house_load_mw", "import_price_usd_per_mwh"} <= static
    assert "offtake_price_usd_per_mwh" not in static


def test_a_static_year_dispatches_as_its_hourly_copy() -> None:
    loaded = load_scenario("znpp")
    inputs = resolve(loaded)
    b = BatchProblem.from_problem(build_problem(inputs, envelope_for(loaded, inputs)))
    assert b.static
    fast, plain = solve_fast_batch(b), solve_fast_batch(_materialised(b))
    assert not _materialised(b).static
    for name in OUTPUTS:
        np.testing.assert_array_equal(_bits(getattr(fast, name)), _bits(getattr(plain, name)),
                                      name)
    assert fast.objective_usd.tobytes() == plain.objective_usd.tobytes()


@SETTINGS
@given(batches())
def test_per_path_values_without_hours_are_static(batch: BatchProblem) -> None:
    # One value per path for the whole horizon ((N, K, 1), broadcast): static; the kernel
    # gives the bits of the same values held hour by hour.
    N, K = batch.n_paths, batch.base.class_cap_mw.shape[0]
    value = np.linspace(-5.0, 60.0, N * K).reshape(N, K, 1)
    cost = np.round(np.linspace(1.0, 30.0, batch.base.unit_available_mw.shape[0]))[:, None]
    given_ = {k: batch.arrays[k] for k in batch.varies}
    given_ |= {"class_value_usd_per_mwh": value, "unit_cost_usd_per_mwh": cost}
    b = BatchProblem.from_problem(batch.base, N, **given_)
    if batch.hours > 1:
        assert {"class_value_usd_per_mwh", "unit_cost_usd_per_mwh"} <= b.static
    for duals in (True, False):
        got = _merit_order(b, 0, N, duals=duals)
        ref = _merit_order(_materialised(b), 0, N, duals=duals)
        np.testing.assert_array_equal(got.ok, ref.ok)
        for name in OUTPUTS:  # (hours out of the domain go to the LP: not compared)
            if duals or name != "marginal_value_usd_per_mwh":
                x, y = getattr(got, name), getattr(ref, name)
                ok = ref.ok[:, None] if y.ndim == 3 else ref.ok
                np.testing.assert_array_equal(_bits(np.where(ok, x, 0.0)),
                                              _bits(np.where(ok, y, 0.0)), name)
