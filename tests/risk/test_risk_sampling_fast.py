"""The fast sampling machinery: exact seeding, redraws, interval masks, epoch fills, float32 exp."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.bitcoin.subsidy import block_subsidy_btc
from gridhash.errors import InputError
from gridhash.risk.models import (
    DifficultyModel,
    EmpiricalDuration,
    FeeModel,
    GbmPrice,
    GridPriceAR1,
    LineCutModel,
    UnitOutageModel,
)
from gridhash.risk.models import _base as base_module
from gridhash.risk.models import difficulty as difficulty_module
from gridhash.risk.models import outages as outages_module
from gridhash.risk.models._base import (
    ar1_filter,
    ar1_from_normals,
    ar1_inplace,
    exp_into,
    mask_outside_intervals,
    one_block,
)
from gridhash.risk.models.difficulty import _Epochs, mean_subsidy_between
from gridhash.risk.models.seeding import PathStreams, Stream, generators, normal_rows, pcg64_states

D0 = 1.4e14


@pytest.mark.parametrize(
    ("seed", "stream", "key"),
    [
        (0, Stream.BTC_PRICE, 0),
        (7, Stream.FEES, 3),
        (2**32 - 1, Stream.LINE_CUTS, 2**32 + 5),  # key of two words
        (2**64 + 7, Stream.DIFFICULTY, 1),
        (2**130 + 3, Stream.GRID_PRICE, 0),  # more entropy words than the pool
        (12345678901234567890123, Stream.UNIT_OUTAGES, 2),
    ],
)
def test_path_states_are_exactly_seedsequence_and_pcg64(
    seed: int, stream: Stream, key: int
) -> None:
    ids = np.array([0, 1, 2, 999, 2**31, 2**32 - 1, 2**32, 2**40 + 3, 2**62], dtype=np.int64)
    states, incs = pcg64_states(seed, stream, key, ids)
    streams = PathStreams(seed, stream, key, ids)
    for i, (p, g) in enumerate(zip(ids, generators(seed, stream, key, ids), strict=True)):
        ref = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(stream), key, int(p))))
        assert (states[i], incs[i]) == (ref.state["state"]["state"], ref.state["state"]["inc"])
        assert np.array_equal(streams[i].standard_normal(7), g.standard_normal(7))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**96),
    key=st.integers(min_value=0, max_value=2**40),
    path=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_path_states_match_numpy_for_any_seed_key_and_path(seed: int, key: int, path: int) -> None:
    states, incs = pcg64_states(seed, Stream.FEES, key, np.array([path], dtype=np.int64))
    ref = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(int(Stream.FEES), key, path)))
    assert (states[0], incs[0]) == (ref.state["state"]["state"], ref.state["state"]["inc"])


def test_normal_rows_are_each_paths_stream() -> None:
    ids = np.array([5, 0, 17])
    z = normal_rows(3, Stream.FEES, 0, ids, 10)
    for row, g in zip(z, generators(3, Stream.FEES, 0, ids), strict=True):
        assert np.array_equal(row, g.standard_normal(10))


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.986, 0.9999])
def test_stationary_ar1_from_normals_equals_the_recursion(phi: float) -> None:
    z = np.random.default_rng(0).standard_normal((3, 2000))
    sd = 0.7
    x = np.empty_like(z)
    x[:, 0] = sd * z[:, 0]
    for t in range(1, z.shape[1]):
        x[:, t] = phi * x[:, t - 1] + sd * math.sqrt(1 - phi * phi) * z[:, t]
    np.testing.assert_allclose(ar1_from_normals(z, phi, sd), x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ar1_from_normals(z[0], phi, sd), x[0], rtol=0, atol=1e-10)


def test_ar1_rounded_to_float32_equals_the_float64_scan() -> None:
    e = np.random.default_rng(1).standard_normal((4, 5000))
    for phi in (0.0, 0.3, 0.986, 0.99):
        x32 = np.empty(e.shape, dtype=np.float32)
        ar1_inplace(e.copy(), phi, out32=x32)
        assert np.array_equal(x32, ar1_filter(e, phi).astype(np.float32))


def test_float32_exp_is_accurate_and_rows_beyond_its_range_are_done_in_float64() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 2.0, (3, 1000))
    x[1, 10] = 150.0  # overflows float32
    x[2, 20] = -95.0  # below float32's normal range
    factor = rng.uniform(1.0, 2.0, 1000)
    got = exp_into(x, factor)
    np.testing.assert_allclose(got, factor * np.exp(x), rtol=1e-6, atol=0)
    assert got[1, 10] == factor[10] * math.exp(150.0)
    # A row's values do not depend on its neighbours.
    for r in range(3):
        assert np.array_equal(exp_into(x[r : r + 1], factor)[0], got[r])
    assert np.array_equal(exp_into(np.zeros((1, 3)), 5.0), [[5.0, 5.0, 5.0]])


def test_gbm_prices_equal_the_float64_formula_to_one_part_in_a_million() -> None:
    model = GbmPrice(85_123.45, drift_per_year=0.1, volatility_per_year=0.8)
    r = model.log_returns(20, 8760, seed=4)
    exact = 85_123.45 * np.exp(np.concatenate((np.zeros((20, 1)), np.cumsum(r, axis=1)), axis=1))
    p = model.sample(20, 8760, seed=4)
    assert p.dtype == np.float64 and np.all(p[:, 0] == 85_123.45)
    np.testing.assert_allclose(p, exact, rtol=1e-6, atol=0)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 12)), max_size=12
    ),
    hours=st.integers(1, 30),
)
def test_interval_masks_equal_setting_each_interval(
    data: list[tuple[int, int, int]], hours: int
) -> None:
    rows = np.array([d[0] for d in data], dtype=np.int64)
    first = np.array([min(d[1], hours) for d in data], dtype=np.int64)
    last = np.array([min(d[1] + d[2], hours) for d in data], dtype=np.int64)
    expected = np.ones((4, hours), dtype=bool)
    for r, a, b in zip(rows, first, last, strict=True):
        expected[r, a:b] = False
    assert np.array_equal(mask_outside_intervals(rows, first, last, 4, hours), expected)


def test_outage_paths_that_need_more_spells_draw_them_from_their_own_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One spell pair per draw: almost every path redraws, and nothing changes in kind."""
    monkeypatch.setattr(outages_module, "_pairs_per_draw", lambda T, cycle: 1)
    model = UnitOutageModel.uniform(3, mttf_h=200.0, mttr_h=50.0)
    N, T = 200, 3000
    up = model.sample(N, T, seed=6)
    assert np.array_equal(up[50:120], model.sample(range(50, 120), T, seed=6))
    assert np.array_equal(up[[7, 3]], model.sample([7, 3], T, seed=6))
    A, rho = 0.8, 1 - 1 / 200 - 1 / 50
    se = math.sqrt(A * (1 - A) * (1 + rho) / (1 - rho) / T / (N * 3))
    assert abs(up.mean() - A) < 5 * se
    assert abs(up[:, :, 0].mean() - A) < 5 * math.sqrt(A * (1 - A) / (N * 3))


def test_difficulty_noise_redrawn_as_a_longer_prefix_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = DifficultyModel(D0, 982_500, 40.0, 0.3, volatility_per_sqrt_year=0.6)
    price = GbmPrice(85_000.0, 0.0, 0.8).sample(6, 2000, 1)
    first = model.sample(6, 2000, 1, btc_price_usd=price, fees_btc_per_block=0.03)
    monkeypatch.setattr(difficulty_module, "_noise_per_draw", lambda T: 1)
    again = model.sample(6, 2000, 1, btc_price_usd=price, fees_btc_per_block=0.03)
    for name in ("difficulty", "blocks_per_hour", "epoch_hashrate_ehs", "epoch_start_h"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name), err_msg=name)


def _brute_force_hourly(S: np.ndarray, g: np.ndarray, T: int) -> np.ndarray:
    """Σ_k g_k · |[S_k, S_{k+1}] ∩ [t, t+1]| for every hour, one row."""
    ends = np.r_[S[1:], T]
    out = np.zeros(T)
    for t in range(T):
        overlap = np.clip(np.minimum(ends, t + 1) - np.maximum(S, t), 0, None)
        out[t] = (g * overlap).sum()
    return out


def test_epoch_fills_equal_the_time_averages_even_with_several_retargets_an_hour() -> None:
    T = 12
    S = np.array(
        [
            [0.0, 2.5, 2.75, 2.9, 7.0, 11.2],  # three retargets in hour 2, one on the hour
            [0.0, 0.5, 12.0, 12.0, 12.0, 12.0],  # epochs beyond T, clipped
        ]
    )
    D = np.array([[1.0, 2.0, 4.0, 3.0, 5.0, 6.0], [7.0, 8.0, 9.0, 9.0, 9.0, 9.0]]) * 1e12
    H = D * 2**32 / 600.0 * np.array([[1.0, 1.5, 0.5, 2.0, 1.0, 1.2], [1.0, 0.8, 1, 1, 1, 1]])
    ep = _Epochs(T, 1_049_990.0, S, D, H)
    for i in range(2):
        rate = ep.rate[i]
        np.testing.assert_allclose(
            ep.hourly_mean(ep.rate)[i], _brute_force_hourly(S[i], rate, T), rtol=1e-12
        )
        np.testing.assert_allclose(
            ep.hourly_mean(D, harmonic=True)[i],
            1.0 / _brute_force_hourly(S[i], 1.0 / D[i], T),
            rtol=1e-12,
        )
        blocks = np.r_[0.0, np.cumsum(_brute_force_hourly(S[i], rate, T))]
        np.testing.assert_allclose(ep.height()[i], 1_049_990.0 + blocks[:T], rtol=1e-14)
        h = 1_049_990.0 + blocks
        # The halving at 1,050,000 falls inside the horizon.
        np.testing.assert_allclose(ep.subsidy()[i], mean_subsidy_between(h[:-1], h[1:]), rtol=1e-9)


def test_constant_subsidy_is_a_read_only_broadcast() -> None:
    model = DifficultyModel(D0, 982_500, 40.0)
    d = model.sample(3, 100, 0, btc_price_usd=85_000.0, fees_btc_per_block=0.03)
    assert not d.subsidy_btc_per_block.flags.writeable
    assert np.all(d.subsidy_btc_per_block == block_subsidy_btc(982_500))
    assert d.height.shape == d.hashrate_ehs.shape == (3, 100)


def test_grid_prices_can_be_written_into_a_given_array() -> None:
    model = GridPriceAR1(np.full(50, 100.0), floor_usd_per_mwh=60.0, cap_usd_per_mwh=150.0)
    out = np.zeros((4, 2, 50))
    got = model.sample(4, 50, 3, key=1, out=out[:, 1])
    assert np.shares_memory(got, out)
    assert np.array_equal(out[:, 1], model.sample(4, 50, 3, key=1))
    assert np.all(out[:, 0] == 0.0)
    with pytest.raises(InputError) as err:
        model.sample(4, 50, 3, out=np.zeros((4, 49)))
    assert err.value.field == "out"


def test_empirical_durations_pick_every_observation_equally() -> None:
    d = EmpiricalDuration([1.0, 2.0, 5.0])
    u = (np.arange(3000) + 0.5) / 3000
    counts = np.unique(d.quantile(u), return_counts=True)
    assert counts[0].tolist() == [1.0, 2.0, 5.0] and counts[1].tolist() == [1000] * 3
    assert d.quantile(np.array([0.0, np.nextafter(1.0, 0.0)])).tolist() == [1.0, 5.0]


def test_one_block_carves_aligned_disjoint_arrays_and_splits_large_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    specs = [((3, 5), np.float64), ((2, 4, 5), bool), ((7,), np.float32), ((0, 5), np.float64)]
    arrays = one_block(*specs)
    for a, (shape, dtype) in zip(arrays, specs, strict=True):
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert a.flags.writeable and (a.size == 0 or a.ctypes.data % 64 == 0)
    arrays[0][...] = 1.5
    arrays[1][...] = True
    arrays[2][...] = -2.0
    assert np.all(arrays[0] == 1.5) and arrays[1].all() and np.all(arrays[2] == -2.0)
    assert arrays[0].base is arrays[1].base  # one allocation
    monkeypatch.setattr(base_module, "_BLOCK_BYTES", 300)
    small = one_block(((10,), np.float64), ((10,), np.float64), ((30,), np.float64))
    assert small[0].base is small[1].base  # 128 + 128 bytes (aligned) fit in 300
    assert small[2].base is not small[0].base  # 256 more do not: a block of its own


def test_written_into_given_arrays_equals_allocated() -> None:
    ids, T = np.array([4, 0, 9]), 500
    for model in (GbmPrice(85_000.0, 0.1, 0.6), FeeModel(0.03)):
        out = np.full((3, T), np.nan)
        assert model.sample(ids, T, 2, out=out) is out
        assert np.array_equal(out, model.sample(ids, T, 2))
        with pytest.raises(InputError) as err:
            model.sample(ids, T, 2, out=np.empty((3, T), dtype=np.float32))
        assert err.value.field == "out"
    price = GbmPrice(85_000.0, 0.1, 0.6).sample(ids, T, 2)
    diff = DifficultyModel(D0, 982_500, 40.0, volatility_per_sqrt_year=0.5)
    pair = (np.empty((3, T)), np.empty((3, T)))
    d = diff.sample(ids, T, 2, btc_price_usd=price, fees_btc_per_block=0.03, out=pair)
    ref = diff.sample(ids, T, 2, btc_price_usd=price, fees_btc_per_block=0.03)
    assert d.difficulty is pair[0] and d.blocks_per_hour is pair[1]
    assert np.array_equal(d.difficulty, ref.difficulty)
    assert np.array_equal(d.blocks_per_hour, ref.blocks_per_hour)
    units = UnitOutageModel.uniform(2, mttf_h=50.0, mttr_h=10.0)
    lines = LineCutModel.uniform(
        2,
        line_rate_per_year=300.0,
        common_rate_per_year=100.0,
        line_duration=EmpiricalDuration([3.0, 40.0]),
        common_duration=EmpiricalDuration([9.0]),
    )
    for model in (units, lines):
        out = np.zeros((3, 2, T), dtype=bool)
        assert model.sample(ids, T, 2, out=out) is out
        assert np.array_equal(out, model.sample(ids, T, 2))
        with pytest.raises(InputError) as err:
            model.sample(ids, T, 2, out=np.zeros((3, 2, T)))
        assert err.value.field == "out"


def test_line_event_counts_are_each_paths_poisson_draws() -> None:
    model = LineCutModel.uniform(
        3,
        line_rate_per_year=5.0,
        common_rate_per_year=2.0,
        line_duration=EmpiricalDuration([3.0]),
        common_duration=EmpiricalDuration([9.0]),
    )
    ids, T = np.array([3, 11]), 8760
    events = model.sample_events(ids, T, seed=4)
    span = T + model.warmup_h
    lam = np.array([2.0, 5.0, 5.0, 5.0]) / 8760.0 * span
    for i, g in enumerate(generators(4, Stream.LINE_CUTS, 0, ids)):
        counts = g.poisson(lam)
        got = [int(np.sum((events.path == i) & (events.line == line))) for line in (-1, 0, 1, 2)]
        assert got == counts.tolist()


@pytest.mark.parametrize("T", [240, 250, 1])
def test_reward_integral_equals_the_brute_force_integral(T: int) -> None:
    rng = np.random.default_rng(3)
    P = rng.uniform(50_000.0, 90_000.0, (3, T))
    F = rng.uniform(0.0, 0.1, (3, T))
    integral = difficulty_module._RewardIntegral(P, F, 3.125)
    G = P * (3.125 + F)
    cum = np.concatenate((np.zeros((3, 1)), np.cumsum(G, axis=1)), axis=1)
    for x in (np.array([0.0, T, T / 3]), np.array([0.5, T - 0.25, float(T // 2)])):
        x = np.minimum(x, T)
        i = np.minimum(np.floor(x).astype(int), T - 1)
        rows = np.arange(3)
        exact = cum[rows, i] + (x - i) * G[rows, i]
        np.testing.assert_allclose(integral.at(x), exact, rtol=1e-12)


def test_profile_baselines_are_remembered_per_spec_and_index() -> None:
    import pandas as pd

    from gridhash.scenario.models import ProfileSeries
    from gridhash.scenario.series import profile

    spec = ProfileSeries(generator="profile", mean=100.0, daily_amplitude=0.3, noise=0.1, max=120.0)
    index = pd.date_range("2027-01-01", periods=48, freq="h", tz="UTC")
    a = GridPriceAR1.from_profile(spec, index)
    b = GridPriceAR1.from_profile(spec, index)
    clean = profile(spec.model_copy(update={"noise": 0.0, "max": None}), index)
    assert np.array_equal(a.baseline_usd_per_mwh, clean)
    assert np.array_equal(b.baseline_usd_per_mwh, clean)
    other = pd.date_range("2027-06-01", periods=48, freq="h", tz="UTC")
    shifted = GridPriceAR1.from_profile(spec, other)
    assert np.array_equal(
        shifted.baseline_usd_per_mwh,
        profile(spec.model_copy(update={"noise": 0.0, "max": None}), other),
    )
    lower = spec.model_copy(update={"mean": 50.0})
    assert np.allclose(GridPriceAR1.from_profile(lower, index).baseline_usd_per_mwh, clean / 2)
