"""Difficulty: retargets every 2,016 blocks, the 4× clamp, and the hashrate response."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gridhash.bitcoin.economics import HASHES_PER_DIFFICULTY, hashprice_usd_per_ph_day
from gridhash.bitcoin.subsidy import block_subsidy_btc
from gridhash.errors import InputError
from gridhash.risk.models import (
    MAX_ADJUSTMENT,
    RETARGET_INTERVAL_BLOCKS,
    TARGET_TIMESPAN_S,
    DifficultyModel,
    GbmPrice,
)
from gridhash.risk.models.difficulty import mean_subsidy_between

D0 = 1.4e14
ON_SCHEDULE_EHS = D0 * 2**32 / 600 / 1e18
START = 982_500  # 708 blocks into its epoch: 1,308 blocks to the first retarget


def _hp(price: float, height: int = START, fees: float = 0.0) -> float:
    return float(hashprice_usd_per_ph_day(D0, block_subsidy_btc(height), fees, price))


def test_consensus_constants() -> None:
    assert RETARGET_INTERVAL_BLOCKS == 2016
    assert TARGET_TIMESPAN_S == 14 * 24 * 3600
    assert MAX_ADJUSTMENT == 4.0


def test_on_schedule_without_noise_retargets_every_336_hours() -> None:
    model = DifficultyModel(D0, START, _hp(85_000.0), volatility_per_sqrt_year=0.0)
    d = model.sample(2, 2000, seed=0, btc_price_usd=85_000.0, fees_btc_per_block=0.0)
    first = (RETARGET_INTERVAL_BLOCKS - START % RETARGET_INTERVAL_BLOCKS) / 6
    starts = d.epoch_start_h[0][~np.isnan(d.epoch_start_h[0])]
    np.testing.assert_allclose(starts, np.r_[0.0, first + 336.0 * np.arange(len(starts) - 1)])
    np.testing.assert_allclose(d.difficulty, D0, rtol=1e-12)
    np.testing.assert_allclose(d.blocks_per_hour, 6.0, rtol=1e-12)
    np.testing.assert_allclose(d.height[0], START + 6.0 * np.arange(2000))
    np.testing.assert_allclose(d.hashrate_ehs, ON_SCHEDULE_EHS)


def _noisy(n: int = 60, T: int = 24 * 120, seed: int = 4) -> tuple[DifficultyModel, Any]:
    model = DifficultyModel(
        D0,
        START,
        _hp(85_000.0),
        trend_per_year=0.3,
        elasticity_per_year=3.0,
        volatility_per_sqrt_year=0.8,
        start_hashrate_ehs=1.3 * ON_SCHEDULE_EHS,
    )
    price = GbmPrice(85_000.0, 0.0, 0.8).sample(n, T, seed)
    return model, model.sample(n, T, seed, btc_price_usd=price, fees_btc_per_block=0.03)


def test_retargets_fall_exactly_every_2016_blocks() -> None:
    _, d = _noisy()
    N, T = d.difficulty.shape
    cum = np.concatenate((np.zeros((N, 1)), np.cumsum(d.blocks_per_hour, axis=1)), axis=1)
    first = RETARGET_INTERVAL_BLOCKS - START % RETARGET_INTERVAL_BLOCKS
    for i in range(N):
        s = d.epoch_start_h[i][~np.isnan(d.epoch_start_h[i])]
        assert len(s) >= 3
        j = np.minimum(np.floor(s).astype(int), T - 1)
        # Inside the hour holding a retarget, blocks come at the ending epoch's rate.
        rate = d.epoch_hashrate_ehs[i] * 1e18 * 3600 / (d.epoch_difficulty[i] * 2**32)
        before = np.r_[rate[0], rate[: len(s) - 1]]
        blocks_at_retarget = cum[i, j] + (s - j) * before
        expected = np.r_[0, first + RETARGET_INTERVAL_BLOCKS * np.arange(len(s) - 1)]
        np.testing.assert_allclose(blocks_at_retarget, expected, rtol=0, atol=1e-6)
        heights = d.epoch_start_height[i][: len(s)]
        np.testing.assert_array_equal(heights, START + expected)
        assert np.all(heights[1:] % RETARGET_INTERVAL_BLOCKS == 0)


def test_difficulty_is_constant_between_retargets() -> None:
    _, d = _noisy()
    N, T = d.difficulty.shape
    for i in range(N):
        s = d.epoch_start_h[i][~np.isnan(d.epoch_start_h[i])]
        edges = np.r_[s, T]
        for k in range(len(s)):
            whole = np.arange(math.ceil(edges[k]), math.floor(edges[k + 1]))
            np.testing.assert_allclose(d.difficulty[i, whole], d.epoch_difficulty[i, k], rtol=1e-12)
        # An hour holding a retarget gets the harmonic mean of the two difficulties.
        t = int(s[1])
        f = s[1] - t
        harmonic = 1 / (f / d.epoch_difficulty[i, 0] + (1 - f) / d.epoch_difficulty[i, 1])
        assert d.difficulty[i, t] == pytest.approx(harmonic, rel=1e-9)


def test_each_retarget_is_epoch_hashrate_times_600s_clamped_to_4x() -> None:
    _, d = _noisy()
    D, H = d.epoch_difficulty, d.epoch_hashrate_ehs * 1e18
    ok = ~np.isnan(D[:, 2:])
    # From the second retarget on, an epoch lies wholly inside the simulation.
    implied = H[:, 1:-1] * 600.0 / HASHES_PER_DIFFICULTY
    clamped = np.clip(implied, D[:, 1:-1] / 4, D[:, 1:-1] * 4)
    np.testing.assert_allclose(D[:, 2:][ok], clamped[ok], rtol=1e-12)
    ratio = D[:, 1:] / D[:, :-1]
    ratio = ratio[~np.isnan(ratio)]
    assert np.all((ratio >= 0.25 * (1 - 1e-12)) & (ratio <= 4 * (1 + 1e-12)))


@pytest.mark.parametrize(("speed", "factor"), [(10.0, 4.0), (0.1, 0.25), (2.0, 2.0)])
def test_the_clamp_binds_on_a_hashrate_shock(speed: float, factor: float) -> None:
    start = 2016 * 490  # at a retarget boundary: the whole first epoch is simulated
    model = DifficultyModel(
        D0,
        start,
        1.0,
        elasticity_per_year=0.0,
        volatility_per_sqrt_year=0.0,
        start_hashrate_ehs=speed * ON_SCHEDULE_EHS,
    )
    T = int(2 * 336 / speed) + 400
    d = model.sample(1, T, 0, btc_price_usd=85_000.0, fees_btc_per_block=0.0)
    assert d.epoch_start_h[0, 1] == pytest.approx(336.0 / speed)
    assert d.epoch_difficulty[0, 1] == pytest.approx(factor * D0, rel=1e-12)
    # The next retarget closes the gap to the true hashrate: D = H·600/2³².
    assert d.epoch_difficulty[0, 2] == pytest.approx(speed * D0, rel=1e-12)
    assert d.blocks_per_hour[0, 0] == pytest.approx(6.0 * speed)


def test_hashrate_responds_to_lagged_hashprice_exactly() -> None:
    start = 2016 * 490
    beta, g = 2.0, 0.1
    ref = _hp(50_000.0, start)
    model = DifficultyModel(
        D0, start, ref, trend_per_year=g, elasticity_per_year=beta, volatility_per_sqrt_year=0.0
    )
    d = model.sample(1, 800, 0, btc_price_usd=100_000.0, fees_btc_per_block=0.0)
    years = 336.0 / 8760  # epoch 0 on schedule
    H = d.epoch_hashrate_ehs[0]
    assert H[1] / H[0] == pytest.approx(math.exp((g + beta * math.log(2.0)) * years), rel=1e-10)


def test_hashrate_noise_has_the_stated_volatility() -> None:
    sigma = 0.6
    model = DifficultyModel(
        D0, 2016 * 490, 1.0, elasticity_per_year=0.0, volatility_per_sqrt_year=sigma
    )
    T = 24 * 150
    d = model.sample(400, T, 1, btc_price_usd=85_000.0, fees_btc_per_block=0.0)
    start = np.nan_to_num(d.epoch_start_h, nan=np.inf)
    H = d.epoch_hashrate_ehs
    z = []
    for i in range(H.shape[0]):
        s = start[i][np.isfinite(start[i])]
        years = np.diff(s) / 8760  # length of the epoch before each change
        z.append(np.diff(np.log(H[i, : len(s)])) / (sigma * np.sqrt(years)))
    zz = np.concatenate(z)
    n = zz.size
    assert abs(zz.mean()) < 5 / math.sqrt(n)
    assert abs(zz.var() - 1) < 5 * math.sqrt(2 / n)


def test_mean_subsidy_between_weights_a_halving() -> None:
    got = mean_subsidy_between([1_049_997.0, 1_000_000.0], [1_050_003.0, 1_000_006.0])
    np.testing.assert_allclose(got, [(3 * 3.125 + 3 * 1.5625) / 6, 3.125])


def test_subsidy_halves_at_the_halving_hour() -> None:
    model = DifficultyModel(
        D0, 1_049_400, 1.0, volatility_per_sqrt_year=0.0, elasticity_per_year=0.0
    )
    d = model.sample(1, 200, 0, btc_price_usd=85_000.0, fees_btc_per_block=0.0)
    assert d.subsidy_btc_per_block[0, 99] == 3.125
    assert d.subsidy_btc_per_block[0, 100] == 1.5625  # 600 blocks at 6 per hour


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_difficulty": 0.0}, "DifficultyModel.start_difficulty"),
        ({"start_height": -1}, "DifficultyModel.start_height"),
        (
            {"reference_hashprice_usd_per_ph_day": -1.0},
            "DifficultyModel.reference_hashprice_usd_per_ph_day",
        ),
        ({"elasticity_per_year": -0.5}, "DifficultyModel.elasticity_per_year"),
        ({"volatility_per_sqrt_year": float("inf")}, "DifficultyModel.volatility_per_sqrt_year"),
        ({"lag_epochs": 0}, "DifficultyModel.lag_epochs"),
        ({"start_hashrate_ehs": 0.0}, "DifficultyModel.start_hashrate_ehs"),
    ],
)
def test_bad_difficulty_parameters_raise_input_errors(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "start_difficulty": D0,
        "start_height": START,
        "reference_hashprice_usd_per_ph_day": 40.0,
    }
    with pytest.raises(InputError) as err:
        DifficultyModel(**{**args, **kwargs})
    assert err.value.field == field
    assert err.value.expected


def test_price_paths_of_the_wrong_shape_are_refused() -> None:
    model = DifficultyModel(D0, START, 40.0)
    with pytest.raises(InputError) as err:
        model.sample(3, 10, 0, btc_price_usd=np.ones((2, 10)), fees_btc_per_block=0.0)
    assert err.value.field == "btc_price_usd"


def test_negative_fees_are_refused_with_path_and_hour() -> None:
    model = DifficultyModel(D0, START, 40.0)
    fees = np.zeros((2, 10))
    fees[1, 7] = -1.0
    with pytest.raises(InputError) as err:
        model.sample(2, 10, 0, btc_price_usd=85_000.0, fees_btc_per_block=fees)
    assert err.value.field == "fees_btc_per_block"
    assert err.value.value == -1.0
    assert "path 1, hour 7" in str(err.value)
