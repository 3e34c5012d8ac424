"""BTC price models: simulated statistics match the parameters within sampling error."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridhash.errors import InputError
from gridhash.risk.models import BootstrapPrice, GbmPrice


def _z(estimate: float, expected: float, se: float) -> float:
    return abs(estimate - expected) / se


def test_gbm_log_return_mean_and_volatility() -> None:
    model = GbmPrice(85_000.0, drift_per_year=0.3, volatility_per_year=0.6)
    r = model.log_returns(300, 3001, seed=11)
    n, sd = r.size, model.hourly_log_return_sd
    assert sd == pytest.approx(0.6 / math.sqrt(8760))
    assert model.hourly_log_return_mean == pytest.approx((0.3 - 0.18) / 8760)
    assert _z(r.mean(), model.hourly_log_return_mean, sd / math.sqrt(n)) < 5
    # sd of a normal sample's sd is sd / sqrt(2n).
    assert _z(r.std(), sd, sd / math.sqrt(2 * n)) < 5


def test_gbm_mean_price_grows_at_the_drift() -> None:
    model = GbmPrice(100.0, drift_per_year=0.5, volatility_per_year=0.5)
    T = 4381  # half a year
    final = model.sample(2000, T, seed=3)[:, -1]
    t = (T - 1) / 8760
    expected = 100.0 * math.exp(0.5 * t)
    se = expected * math.sqrt(math.exp(0.25 * t) - 1) / math.sqrt(final.size)
    assert _z(final.mean(), expected, se) < 5


def test_gbm_starts_at_the_start_price() -> None:
    p = GbmPrice(85_000.0).sample(5, 10, seed=0)
    assert p.shape == (5, 10)
    assert np.all(p[:, 0] == 85_000.0)


def test_gbm_student_t_keeps_moments_and_fattens_tails() -> None:
    nu = 5.0
    model = GbmPrice(1.0, 0.0, 0.8, student_t_dof=nu)
    r = model.log_returns(300, 3001, seed=5)
    n, sd = r.size, model.hourly_log_return_sd
    assert _z(r.mean(), model.hourly_log_return_mean, sd / math.sqrt(n)) < 5
    # Var(s²) = σ⁴ (2 + κ)/n with excess kurtosis κ = 6/(ν − 4) for Student-t.
    kappa = 6.0 / (nu - 4.0)
    se_var = sd**2 * math.sqrt((2 + kappa) / n)
    assert _z(r.var(), sd**2, se_var) < 5
    z = (r - r.mean()) / r.std()
    assert (z**4).mean() - 3 > 1.5  # normal innovations would give ≈ 0


def _daily_history(days: int = 1500, seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    r = 0.002 + 0.03 * rng.standard_normal(days - 1)
    prices = 20_000.0 * np.exp(np.concatenate(([0.0], np.cumsum(r))))
    return pd.Series(prices, index=pd.date_range("2021-01-01", periods=days, freq="D"))


@pytest.mark.slow
def test_bootstrap_of_daily_history_reproduces_mean_and_volatility() -> None:
    hist = _daily_history()
    daily = np.diff(np.log(hist.to_numpy()))
    model = BootstrapPrice.from_prices(hist, start_price_usd=85_000.0, block_h=24 * 7)
    assert model.step_h == 24 and model.block_steps == 7
    days = 120
    r = model.log_returns(300, 24 * days + 1, seed=9)
    assert r.shape == (300, 24 * days)
    # Hourly: mean = daily mean / 24, variance = daily variance / 24.
    assert model.hourly_log_return_mean == pytest.approx(daily.mean() / 24)
    assert model.hourly_log_return_sd == pytest.approx(math.sqrt(daily.var() / 24))
    n_days = r.shape[0] * days
    se_mean = math.sqrt(daily.var() / n_days) / 24
    assert _z(r.mean(), daily.mean() / 24, se_mean) < 5
    agg = r.reshape(r.shape[0], days, 24).sum(axis=2)  # the resampled daily returns
    assert _z(agg.var(), daily.var(), daily.var() * math.sqrt(2 / n_days)) < 5
    assert _z(r.var(), daily.var() / 24, daily.var() / 24 * math.sqrt(2 / r.size)) < 5
    # The Brownian bridge adds to the day's return exactly: every day is a historical day.
    matched = np.isclose(agg.ravel()[:, None], daily[None, :], rtol=0, atol=1e-12).any(axis=1)
    assert matched.all()


def test_bootstrap_keeps_blocks_of_consecutive_history() -> None:
    prices = np.exp(np.arange(1.0, 201.0) ** 0.5)  # distinct returns, in order
    model = BootstrapPrice.from_prices(prices, start_price_usd=1.0, step_h=1.0, block_h=10)
    r = model.log_returns(4, 101, seed=2)
    pos = np.searchsorted(np.sort(model.step_returns), r)  # decreasing returns: rank = position
    order = model.step_returns.size - 1 - pos
    steps = np.diff(order.reshape(4, 10, 10), axis=2)
    assert np.all((steps == 1) | (steps == -(model.step_returns.size - 1)))  # circular wrap


def test_bootstrap_of_15_minute_history_is_sampled_on_the_hour() -> None:
    idx = pd.date_range("2025-01-01", periods=4 * 100 + 1, freq="15min")
    prices = pd.Series(np.linspace(100.0, 200.0, idx.size), index=idx)
    model = BootstrapPrice.from_prices(prices, start_price_usd=1.0)
    assert model.step_h == 1
    expected = np.diff(np.log(prices.to_numpy()[::4]))
    np.testing.assert_allclose(model.step_returns, expected)


def test_bootstrap_drift_override_moves_the_mean_only() -> None:
    hist = _daily_history()
    plain = BootstrapPrice.from_prices(hist, start_price_usd=1.0)
    flat = BootstrapPrice.from_prices(hist, start_price_usd=1.0, log_drift_per_year=0.0)
    assert flat.hourly_log_return_mean == pytest.approx(0.0, abs=1e-15)
    assert flat.hourly_log_return_sd == pytest.approx(plain.hourly_log_return_sd)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GbmPrice(0.0), "GbmPrice.start_price_usd"),
        (lambda: GbmPrice(1.0, volatility_per_year=-0.1), "GbmPrice.volatility_per_year"),
        (lambda: GbmPrice(1.0, drift_per_year=float("nan")), "GbmPrice.drift_per_year"),
        (lambda: GbmPrice(1.0, student_t_dof=2.0), "GbmPrice.student_t_dof"),
        (lambda: GbmPrice("1"), "GbmPrice.start_price_usd"),  # type: ignore[arg-type]
        (
            lambda: BootstrapPrice.from_prices([1.0, 2.0, 3.0], start_price_usd=1.0),
            "BootstrapPrice.step_h",
        ),
        (
            lambda: BootstrapPrice.from_prices([1.0, -2.0, 3.0], start_price_usd=1.0, step_h=1),
            "BootstrapPrice.prices",
        ),
        (
            lambda: BootstrapPrice.from_prices([1.0, 2.0, 3.0], start_price_usd=1.0, step_h=1.5),
            "BootstrapPrice.step_h",
        ),
        (
            lambda: BootstrapPrice.from_prices(
                pd.Series(
                    [1.0, 2.0, 3.0, 4.0],
                    index=pd.DatetimeIndex(
                        ["2025-01-01", "2025-01-02", "2025-01-04", "2025-01-05"]
                    ),
                ),
                start_price_usd=1.0,
            ),
            "BootstrapPrice.prices",
        ),
        (
            lambda: BootstrapPrice.from_prices(
                [1.0, 2.0, 3.0], start_price_usd=1.0, step_h=1, block_h=0
            ),
            "BootstrapPrice.block_h",
        ),
    ],
)
def test_bad_price_parameters_raise_input_errors(make: Any, field: str) -> None:
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field
    assert err.value.expected
