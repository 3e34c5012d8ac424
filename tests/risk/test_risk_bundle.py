"""RiskModel defaults from a scenario, the per-path overlay, and the ZNPP calibration."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import numpy as np
import pytest

from gridhash.errors import InputError
from gridhash.risk.models import (
    ZNPP_LOOPS,
    GridPriceAR1,
    LineCutModel,
    RiskModel,
    RiskPaths,
    UnitOutageModel,
    sample_paths,
    znpp_line_cut_model,
    znpp_loop_duration,
    znpp_loop_rate_per_year,
    znpp_single_line_rate_per_year,
)
from gridhash.risk.models.calibration import offsite_calibration
from gridhash.scenario.load import load_scenario
from gridhash.scenario.resolve import Inputs, resolve

from conftest import tiny_scenario
from helpers import loaded


@pytest.fixture(scope="module")
def znpp() -> tuple[object, Inputs]:
    ld = load_scenario("znpp")
    return ld, resolve(ld)


@pytest.fixture(scope="module")
def tiny_inputs() -> Inputs:
    return resolve(loaded(tiny_scenario(hours=72)))


def test_defaults_for_znpp_start_from_the_scenario(znpp: tuple[object, Inputs]) -> None:
    ld, inputs = znpp
    model = RiskModel.default_for(inputs, scenario=ld)  # type: ignore[arg-type]
    assert model.btc_price is not None and model.difficulty is not None
    assert model.btc_price.start_price_usd == inputs.btc_price_usd[0]
    assert model.btc_price.drift_per_year == pytest.approx(math.log(1.10))  # growth 10 %/yr
    assert model.btc_price.volatility_per_year == 0.5
    assert model.difficulty.start_difficulty == inputs.difficulty[0]
    assert model.difficulty.start_height == inputs.start_height
    assert model.difficulty.trend_per_year == pytest.approx(math.log(1.20))
    assert model.fees is not None and model.fees.mean_btc_per_block == pytest.approx(0.03)
    grid = model.grid_prices[0]
    assert isinstance(grid, GridPriceAR1)
    assert grid.cap_usd_per_mwh == 341.0 and grid.floor_usd_per_mwh == 0.23
    assert model.unit_outages is not None and model.unit_outages.n_units == 6
    assert model.line_cuts is not None and model.line_cuts.n_lines == len(inputs.line_names)
    assert model.line_cuts.common_rate_per_year == pytest.approx(
        offsite_calibration().common_rate_per_year
    )


def test_sample_paths_shapes_and_chunks(znpp: tuple[object, Inputs]) -> None:
    ld, inputs = znpp
    model = RiskModel.default_for(inputs, scenario=ld)  # type: ignore[arg-type]
    T, O, U, L = inputs.hours, len(inputs.offtake_names), 6, len(inputs.line_names)
    rp = sample_paths(inputs, 6, seed=11, model=model)
    assert isinstance(rp, RiskPaths) and rp.n_paths == 6 and rp.hours == T
    assert rp.btc_price_usd.shape == rp.difficulty.shape == rp.fees_btc_per_block.shape == (6, T)
    assert rp.offtake_price_usd_per_mwh.shape == (6, O, T)
    assert rp.unit_availability.shape == (6, U, T) and rp.unit_availability.dtype == bool
    assert rp.line_in_service.shape == (6, L, T) and rp.line_in_service.dtype == bool
    assert np.all(rp.btc_price_usd[:, 0] == inputs.btc_price_usd[0])
    assert np.all(rp.difficulty[:, 0] == inputs.difficulty[0])
    assert np.all(rp.offtake_price_usd_per_mwh[:, 0] <= 341.0)
    part = sample_paths(inputs, [4, 5], seed=11, model=model)
    for f in dataclasses.fields(RiskPaths):
        if f.name not in ("paths", "seed"):
            assert np.array_equal(getattr(part, f.name), getattr(rp, f.name)[4:]), f.name
    assert np.array_equal(part.paths, [4, 5])


def test_unmodelled_inputs_stay_deterministic(tiny_inputs: Inputs) -> None:
    rp = RiskModel().sample(tiny_inputs, 3, seed=0)
    np.testing.assert_array_equal(
        rp.btc_price_usd, np.broadcast_to(tiny_inputs.btc_price_usd, (3, 72))
    )
    np.testing.assert_array_equal(rp.offtake_price_usd_per_mwh[1],
                                  tiny_inputs.offtake_price_usd_per_mwh)
    assert rp.unit_availability.all() and rp.line_in_service.all()
    np.testing.assert_array_equal(rp.blocks_per_hour, tiny_inputs.blocks_per_hour)
    # Not the ZNPP scenario: no line-cut calibration by default.
    assert RiskModel.default_for(tiny_inputs).line_cuts is None
    assert RiskModel.default_for(tiny_inputs, line_calibration="znpp").line_cuts is not None


def test_inputs_for_one_path_dispatches(tiny_inputs: Inputs) -> None:
    from gridhash.dispatch import build_problem, solve_lp

    model = dataclasses.replace(
        RiskModel.default_for(tiny_inputs),
        unit_outages=UnitOutageModel.uniform(2, mttf_h=20.0, mttr_h=10.0),
        line_cuts=znpp_line_cut_model(2),
    )
    rp = sample_paths(tiny_inputs, 2, seed=5, model=model)
    one = rp.inputs_for(tiny_inputs, 1)
    assert isinstance(one, Inputs) and one is not tiny_inputs
    np.testing.assert_array_equal(one.btc_price_usd, rp.btc_price_usd[1])
    down = ~rp.unit_availability[1]
    assert down.any()
    assert np.all(one.unit_available_mw[down] == 0) and np.all(one.unit_min_mw[down] == 0)
    np.testing.assert_array_equal(rp.unit_available_mw(tiny_inputs)[1], one.unit_available_mw)
    np.testing.assert_array_equal(rp.line_capacity_mw(tiny_inputs)[1], one.line_capacity_mw)
    assert tiny_inputs.unit_available_mw.min() > 0  # the scenario's own Inputs is untouched
    result = solve_lp(build_problem(one))
    assert result is not None
    with pytest.raises(InputError):
        rp.inputs_for(tiny_inputs, 2)


def test_model_must_match_the_scenario(tiny_inputs: Inputs) -> None:
    for model, field in (
        (RiskModel(grid_prices=(None, None)), "RiskModel.grid_prices"),
        (RiskModel(unit_outages=UnitOutageModel.uniform(3)), "RiskModel.unit_outages"),
        (RiskModel(line_cuts=LineCutModel.uniform(1)), "RiskModel.line_cuts"),
    ):
        with pytest.raises(InputError) as err:
            model.sample(tiny_inputs, 2, seed=0)
        assert err.value.field == field
    with pytest.raises(InputError) as err:
        RiskModel.default_for(tiny_inputs, line_calibration="war")  # type: ignore[arg-type]
    assert err.value.field == "line_calibration"


def test_znpp_calibration_arithmetic() -> None:
    """The numbers docs/risk.md derives from the public record (the history since 2022)."""
    assert len(ZNPP_LOOPS) == 12
    assert sum(r.year == 2022 for r in ZNPP_LOOPS) == 5
    assert sum(r.year == 2025 for r in ZNPP_LOOPS) == 4
    assert all(r.start is not None for r in ZNPP_LOOPS)
    known = [r.duration_h for r in ZNPP_LOOPS if r.duration_h is not None]
    # 2022-09-05 (island mode, ≈5.5 days) and 2022-10-08 (≈41 h, not 24 h): the review
    # of issue 15.
    assert sorted(known) == [0.5, 3.5, 4.5, 11.0, 24.0, 41.0, 48.0, 132.0, 720.0]
    years = (date(2026, 2, 20) - date(2022, 3, 4)).days / 365.25
    assert znpp_loop_rate_per_year() == pytest.approx(12 / years) == pytest.approx(3.025, abs=1e-3)
    d = znpp_loop_duration()
    logs = np.log(known)
    assert d.median_h == pytest.approx(math.exp(logs.mean())) == pytest.approx(19.40, abs=0.01)
    assert d.log_sd == pytest.approx(logs.std(ddof=1)) == pytest.approx(2.149, abs=1e-3)
    assert d.max_h == 2160.0
    assert znpp_single_line_rate_per_year() == pytest.approx(
        (42 - 10) / ((date(2025, 10, 23) - date(2022, 2, 24)).days / 365.25) / 2
    )
    assert znpp_single_line_rate_per_year() == pytest.approx(4.37, abs=0.01)
