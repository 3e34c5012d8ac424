"""Reproducibility of every risk model: same seed, any chunking, same rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.errors import InputError
from gridhash.risk.models import (
    BootstrapPrice,
    DifficultyModel,
    EmpiricalDuration,
    FeeModel,
    GbmPrice,
    GridPriceAR1,
    GridPriceBootstrap,
    LineCutModel,
    LogNormalDuration,
    UnitOutageModel,
)
from gridhash.risk.models._base import ar1_filter, as_path_ids
from gridhash.risk.models.seeding import Stream, generators

T = 400
INDEX = pd.date_range("2027-01-01", periods=T, freq="h", tz="UTC")
HISTORY = pd.Series(
    50.0 + 10.0 * np.sin(np.arange(24 * 60) / 7.0),
    index=pd.date_range("2025-01-01", periods=24 * 60, freq="h", tz="UTC"),
)


def _difficulty(paths: Any, seed: int) -> np.ndarray:
    model = DifficultyModel(1.4e14, 982_500, 40.0, 0.2, -0.1, volatility_per_sqrt_year=0.5)
    ids = as_path_ids(paths)
    price = GbmPrice(85_000.0, 0.1).sample(ids, T, seed)
    d = model.sample(ids, T, seed, btc_price_usd=price, fees_btc_per_block=0.03)
    return np.stack([d.difficulty, d.blocks_per_hour, d.subsidy_btc_per_block], axis=1)


SAMPLERS: dict[str, Callable[[Any, int], np.ndarray]] = {
    "gbm": lambda p, s: GbmPrice(85_000.0, 0.1, 0.6).sample(p, T, s),
    "gbm-t": lambda p, s: GbmPrice(85_000.0, 0.1, 0.6, student_t_dof=4.0).sample(p, T, s),
    "bootstrap-daily": lambda p, s: BootstrapPrice.from_prices(
        np.exp(np.cumsum(np.sin(np.arange(100.0)))), start_price_usd=1.0, step_h=24.0
    ).sample(p, T, s),
    "difficulty": _difficulty,
    "fees": lambda p, s: FeeModel(0.03).sample(p, T, s),
    "grid-ar1": lambda p, s: GridPriceAR1(np.full(T, 100.0), cap_usd_per_mwh=150.0).sample(p, T, s),
    "grid-bootstrap": lambda p, s: GridPriceBootstrap(HISTORY, block_h=48, align_h=24).sample(
        p, INDEX, s
    ),
    "units": lambda p, s: UnitOutageModel.uniform(3, 60.0, 20.0).sample(p, T, s),
    "lines": lambda p, s: LineCutModel.uniform(
        2,
        line_rate_per_year=40.0,
        common_rate_per_year=20.0,
        line_duration=LogNormalDuration(10.0, 1.0, 300.0),
        common_duration=EmpiricalDuration([1.0, 30.0]),
    ).sample(p, T, s),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_paths_and_chunks_identical(name: str) -> None:
    sample = SAMPLERS[name]
    whole = sample(100, 7)
    assert np.array_equal(whole, sample(100, 7))
    halves = np.concatenate([sample(range(0, 50), 7), sample(range(50, 100), 7)])
    assert np.array_equal(whole, halves)
    # Any subset, in any order, gives the same rows.
    assert np.array_equal(sample([93, 4, 50], 7), whole[[93, 4, 50]])


@pytest.mark.parametrize("name", SAMPLERS)
def test_different_seeds_and_paths_differ(name: str) -> None:
    sample = SAMPLERS[name]
    a, b = sample(20, 1), sample(20, 2)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])


@settings(max_examples=15, deadline=None)
@given(
    split=st.integers(min_value=0, max_value=30),
    seed=st.integers(min_value=0, max_value=2**32),
    name=st.sampled_from(["gbm", "fees", "units", "lines", "difficulty"]),
)
def test_any_split_of_the_paths_gives_the_same_rows(split: int, seed: int, name: str) -> None:
    sample = SAMPLERS[name]
    whole = sample(30, seed)
    parts = [sample(range(0, split), seed), sample(range(split, 30), seed)]
    assert np.array_equal(whole, np.concatenate([p for p in parts if len(p)]))


def test_models_and_keys_use_independent_streams() -> None:
    ids = np.arange(3)
    a = generators(5, Stream.FEES, 0, ids)[0].standard_normal(4)
    b = generators(5, Stream.GRID_PRICE, 0, ids)[0].standard_normal(4)
    c = generators(5, Stream.FEES, 1, ids)[0].standard_normal(4)
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    # The stream is what SeedSequence(seed).spawn would give at that key.
    g = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(int(Stream.FEES), 0, 0)))
    assert np.array_equal(a, g.standard_normal(4))


@pytest.mark.parametrize("phi", [0.0, 0.05, 0.5, 0.97, 0.9999])
def test_ar1_filter_equals_the_recursion(phi: float) -> None:
    e = np.random.default_rng(0).standard_normal((3, 3000))
    x, c = np.empty_like(e), np.zeros(3)
    for t in range(e.shape[1]):
        c = phi * c + e[:, t]
        x[:, t] = c
    np.testing.assert_allclose(ar1_filter(e, phi), x, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("paths", "seed", "field"),
    [
        (-1, 0, "paths"),
        ([1, -2], 0, "paths"),
        ([[1, 2]], 0, "paths"),
        ([0.5], 0, "paths"),
        (True, 0, "paths"),
        (3, -1, "seed"),
        (3, 1.5, "seed"),
    ],
)
def test_bad_paths_or_seed_raise_input_errors(paths: Any, seed: Any, field: str) -> None:
    with pytest.raises(InputError) as err:
        FeeModel(0.03).sample(paths, 10, seed)
    assert err.value.field == field
    assert err.value.expected


def test_hours_must_be_positive() -> None:
    with pytest.raises(InputError) as err:
        FeeModel(0.03).sample(3, 0, 1)
    assert err.value.field == "hours"
    assert err.value.value == 0
