"""Fees and grid prices: AR(1) statistics, caps, profile shapes, calendar bootstrap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridhash.errors import InputError
from gridhash.risk.models import (
    FeeModel,
    GridPriceAR1,
    GridPriceBootstrap,
    ukraine_dam_cap_usd_per_mwh,
)
from gridhash.risk.models.grid_price import NEURC_DAM_MAX_UAH_PER_MWH_FROM_2026_03_31
from gridhash.scenario.models import ProfileSeries
from gridhash.scenario.series import profile


def _check_ar1(x: np.ndarray, phi: float, sd: float) -> None:
    """Lag-1 autocorrelation and variance of stationary AR(1) paths (known mean 0)."""
    n = x.size
    r1 = float((x[:, 1:] * x[:, :-1]).sum() / (x[:, :-1] ** 2).sum())
    assert abs(r1 - phi) < 5 * math.sqrt((1 - phi**2) / n)
    n_eff = n * (1 - phi) / (1 + phi)
    assert abs(x.var() / sd**2 - 1) < 5 * math.sqrt(2 / n_eff)
    assert abs(x.mean()) < 5 * sd / math.sqrt(n_eff)


def test_fees_are_lognormal_ar1_with_the_stated_mean() -> None:
    model = FeeModel(mean_btc_per_block=0.03, log_sd=0.6, half_life_h=24.0)
    assert model.phi == pytest.approx(0.5 ** (1 / 24))
    f = model.sample(200, 3000, seed=8)
    assert np.all(f > 0)
    x = np.log(f / 0.03) + 0.5 * 0.6**2
    _check_ar1(x, model.phi, 0.6)
    # Half-life: the autocorrelation at lag 24 is one half.
    r24 = float((x[:, 24:] * x[:, :-24]).sum() / (x[:, :-24] ** 2).sum())
    n_eff = x.size * (1 - model.phi) / (1 + model.phi)
    assert abs(r24 - 0.5) < 5 / math.sqrt(n_eff)
    sd_f = 0.03 * math.sqrt(math.exp(0.36) - 1)
    assert abs(f.mean() - 0.03) < 5 * sd_f / math.sqrt(n_eff)


def test_grid_ar1_follows_the_baseline_with_persistent_noise() -> None:
    T = 2000
    base = 100.0 + 30.0 * np.sin(np.arange(T) * 2 * np.pi / 24)
    model = GridPriceAR1(base, log_sd=0.25, half_life_h=12.0)
    p = model.sample(150, T, seed=3)
    x = np.log(p / base) + 0.5 * 0.25**2
    _check_ar1(x, model.phi, 0.25)


def test_grid_ar1_respects_floor_and_hourly_cap() -> None:
    T = 500
    cap = np.where(np.arange(T) % 24 >= 17, 340.0, 127.0)
    model = GridPriceAR1(np.full(T, 120.0), log_sd=0.5, floor_usd_per_mwh=60.0, cap_usd_per_mwh=cap)
    p = model.sample(50, T, seed=1)
    assert p.min() >= 60.0 and np.all(p <= cap)
    assert (p == cap).any() and (p == 60.0).any()


def test_from_profile_uses_the_noise_free_shape_and_its_clip() -> None:
    index = pd.date_range("2027-01-01", periods=24 * 14, freq="h", tz="UTC")
    spec = ProfileSeries(
        generator="profile",
        mean=120.0,
        seasonal_amplitude=0.25,
        daily_amplitude=0.3,
        peak_hour=19,
        weekend_factor=0.92,
        noise=0.08,
        seed=2027,
        utc_offset_hours=2,
        min=0.23,
        max=341.0,
    )
    model = GridPriceAR1.from_profile(spec, index, log_sd=0.0)
    clean = profile(spec.model_copy(update={"noise": 0.0}), index)
    np.testing.assert_allclose(model.baseline_usd_per_mwh, clean)
    assert model.floor_usd_per_mwh == 0.23 and model.cap_usd_per_mwh == 341.0
    np.testing.assert_allclose(model.sample(2, index, 0), np.broadcast_to(clean, (2, len(index))))


def test_ukraine_dam_caps_by_kyiv_hour() -> None:
    caps = NEURC_DAM_MAX_UAH_PER_MWH_FROM_2026_03_31
    assert len(caps) == 24
    assert caps[0] == caps[6] == caps[11] == caps[16] == 5600.0
    assert caps[7] == caps[10] == caps[23] == 6900.0
    assert caps[17] == caps[22] == 15000.0
    index = pd.date_range("2027-01-01", periods=24, freq="h", tz="UTC")
    usd = ukraine_dam_cap_usd_per_mwh(index, uah_per_usd=44.0, utc_offset_hours=2.0)
    assert usd[15] == pytest.approx(15000.0 / 44.0)  # 15:00 UTC = 17:00 Kyiv
    assert usd[22] == pytest.approx(5600.0 / 44.0)  # 00:00 Kyiv


def _position_history(days: int) -> pd.Series:
    """A history whose value is its own position, to see where blocks came from."""
    index = pd.date_range("2024-01-01", periods=24 * days, freq="h", tz="UTC")
    return pd.Series(np.arange(index.size, dtype=float), index=index)


def test_grid_bootstrap_aligns_blocks_to_the_hour_of_week() -> None:
    hist = _position_history(400)
    model = GridPriceBootstrap(hist, block_h=168, align_h=168)
    target = pd.date_range("2027-03-03 05:00", periods=1000, freq="h", tz="UTC")
    p = model.sample(30, target, seed=2)
    pos = p.astype(np.int64)
    hist_how = (hist.index.day_of_week * 24 + hist.index.hour).to_numpy()
    target_how = (target.day_of_week * 24 + target.hour).to_numpy()
    assert np.array_equal(hist_how[pos], np.broadcast_to(target_how, pos.shape))
    blocks = pos[:, : 5 * 168].reshape(30, 5, 168)
    assert np.all(np.diff(blocks, axis=2) == 1)  # consecutive hours within a block


def test_grid_bootstrap_season_window() -> None:
    hist = _position_history(3 * 365)
    model = GridPriceBootstrap(hist, block_h=24, align_h=24, season_window_days=10)
    target = pd.date_range("2027-07-01", periods=24 * 20, freq="h", tz="UTC")
    pos = model.sample(20, target, seed=4).astype(np.int64)
    doy = hist.index.day_of_year.to_numpy()[pos]
    want = np.broadcast_to(target.day_of_year.to_numpy(), pos.shape)
    assert np.all(np.abs(doy - want) <= 11)


def test_grid_bootstrap_reproduces_the_history_mean() -> None:
    rng = np.random.default_rng(0)
    values = 80.0 * np.exp(0.3 * rng.standard_normal(24 * 200))
    hist = pd.Series(values, index=pd.date_range("2025-01-01", periods=values.size, freq="h"))
    model = GridPriceBootstrap(hist, block_h=24, align_h=24)
    T = 24 * 30
    p = model.sample(300, pd.date_range("2027-01-01", periods=T, freq="h", tz="UTC"), seed=1)
    # Every day of the history is an equally likely block, so E[p] is the history's
    # mean; with an i.i.d. history the N·T values are independent draws.
    se = values.std() / math.sqrt(p.size)
    assert abs(p.mean() - values.mean()) < 5 * se


def test_grid_bootstrap_averages_finer_history_to_hours() -> None:
    idx = pd.date_range("2025-01-01", periods=4 * 24 * 10, freq="15min", tz="UTC")
    hist = pd.Series(np.arange(idx.size, dtype=float), index=idx)
    model = GridPriceBootstrap(hist, block_h=24, align_h=24)
    target = pd.date_range("2027-01-01", periods=24, freq="h", tz="UTC")
    p = model.sample(1, target, seed=0)
    assert np.all((p - 1.5) % 4 == 0)  # mean of 4k, 4k+1, 4k+2, 4k+3


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: FeeModel(0.0), "FeeModel.mean_btc_per_block"),
        (lambda: FeeModel(0.03, log_sd=-1.0), "FeeModel.log_sd"),
        (lambda: FeeModel(0.03, half_life_h=0.0), "FeeModel.half_life_h"),
        (lambda: GridPriceAR1(np.array([1.0, -2.0])), "GridPriceAR1.baseline_usd_per_mwh"),
        (lambda: GridPriceAR1(np.ones(3), half_life_h=-1.0), "GridPriceAR1.half_life_h"),
        (
            lambda: GridPriceAR1(np.ones(3), floor_usd_per_mwh=5.0, cap_usd_per_mwh=4.0),
            "GridPriceAR1.cap_usd_per_mwh",
        ),
        (
            lambda: GridPriceAR1(np.ones(3), cap_usd_per_mwh=np.ones(4)),
            "GridPriceAR1.cap_usd_per_mwh",
        ),
        (lambda: GridPriceAR1(np.ones(3)).sample(2, 4, 0), "hours"),
        (lambda: GridPriceBootstrap(np.ones(5)), "GridPriceBootstrap.history"),  # type: ignore[arg-type]
        (
            lambda: GridPriceBootstrap(_position_history(30), block_h=100),
            "GridPriceBootstrap.block_h",
        ),
        (lambda: GridPriceBootstrap(_position_history(3)), "GridPriceBootstrap.history"),
        (
            lambda: GridPriceBootstrap(
                pd.Series([1.0, 2.0], index=pd.date_range("2025-01-01", periods=2, freq="2h"))
            ),
            "GridPriceBootstrap.history",
        ),
        (
            lambda: GridPriceBootstrap(_position_history(30), block_h=24, align_h=24).sample(
                2, 24, 0
            ),
            "index",
        ),
        (lambda: ukraine_dam_cap_usd_per_mwh(pd.DatetimeIndex([]), uah_per_usd=0.0), "uah_per_usd"),
    ],
)
def test_bad_fee_and_grid_parameters_raise_input_errors(make: Any, field: str) -> None:
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field
    assert err.value.expected
