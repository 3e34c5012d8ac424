"""Fit the risk models' parameters from history (``gridhash calibrate``).

Pure functions of arrays; the fitting libraries (``arch``, ``statsmodels``, the
``calibrate`` extra) are imported when called.

* :func:`fit_btc_price`: hourly log returns → GBM drift and volatility
  (:class:`~gridhash.risk.models.btc_price.GbmPrice`'s ``μ`` and ``σ``) and the
  block length of a block bootstrap (Politis & White 2004, with Patton, Politis &
  White 2009's correction, as ``arch.bootstrap.optimal_block_length``);
* :func:`fit_fees`: log fees per block → a lognormal AR(1)
  (:class:`~gridhash.risk.models.fees.FeeModel`);
* :func:`fit_grid_price`: log power prices → the ``profile`` generator's seasonal,
  daily and weekend shape (OLS on harmonics) and an AR(1) of what is left
  (:class:`~gridhash.risk.models.grid_price.GridPriceAR1`).

References
----------
.. [1] D. N. Politis and H. White, "Automatic block-length selection for the
   dependent bootstrap", Econometric Reviews 23(1), 53-70, 2004.
.. [2] A. Patton, D. N. Politis and H. White, "Correction to 'Automatic
   block-length selection for the dependent bootstrap'", Econometric Reviews
   28(4), 372-375, 2009.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridhash.risk.models._base import HOURS_PER_YEAR, fail

#: Shortest histories worth a fit. [h]
MIN_HOURS = 24 * 14
#: Shortest history for an annual cycle in the grid price fit. [days]
MIN_DAYS_FOR_SEASON = 300.0
#: Largest amplitude kept in a profile (1 would reach zero). [-]
MAX_AMPLITUDE = 0.95


def _need(fitting: str) -> Any:
    try:
        if fitting == "arch":
            import arch.bootstrap as mod
        else:
            import statsmodels.api as mod
    except ImportError:
        raise fail(f"{fitting} is not installed", "calibrate", fitting,
                   'pip install "gridhash[calibrate]"') from None
    return mod


def half_life_from_phi(phi: float) -> float:
    """Hours for an AR(1) deviation to halve: ``ln ½ / ln φ`` (φ floored at 0.01,
    capped below 1). [h]"""
    phi = min(max(float(phi), 0.01), 0.9999)
    return math.log(0.5) / math.log(phi)


def ar1(x: NDArray[np.float64]) -> dict[str, float]:
    """AR(1) with a constant by conditional least squares (statsmodels ``AutoReg``).

    Returns
    -------
    dict
        ``phi`` [-], ``half_life_h`` [h], ``sd`` (stationary, the sample SD) [unit of x]
        and ``innovation_sd`` [unit of x].
    """
    sm = _need("statsmodels")
    res = sm.tsa.AutoReg(np.asarray(x, dtype=float), lags=1, trend="c").fit()
    phi = float(res.params[1])
    return {"phi": phi, "half_life_h": half_life_from_phi(phi), "sd": float(np.std(x, ddof=1)),
            "innovation_sd": float(np.sqrt(res.sigma2))}


def _check(x: NDArray[np.float64], what: str) -> NDArray[np.float64]:
    x = np.asarray(x, dtype=float)
    if x.size < MIN_HOURS:
        raise fail("too little history to fit", what, f"{x.size} hours",
                   f"at least {MIN_HOURS} hours")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        i = int(np.argmax(~np.isfinite(x) | (x <= 0)))
        raise fail("not a positive number", what, f"{x[i]} at row {i}", "> 0 every hour")
    return x


def fit_btc_price(prices_usd: NDArray[np.float64]) -> dict[str, float]:
    """GBM parameters and a bootstrap block length from hourly BTC prices.

    Parameters
    ----------
    prices_usd : array_like
        Hourly prices, oldest first. [USD/BTC]

    Returns
    -------
    dict
        ``drift_per_year`` ``μ = 8760·mean(r) + σ²/2`` [1/yr],
        ``volatility_per_year`` ``σ = sqrt(8760)·sd(r)`` [1/sqrt(yr)],
        ``block_h`` (circular bootstrap, at least 1) [h], ``hours`` [h].
    """
    p = _check(prices_usd, "price_usd")
    r = np.diff(np.log(p))
    sigma = float(np.std(r, ddof=1) * math.sqrt(HOURS_PER_YEAR))
    mu = float(np.mean(r) * HOURS_PER_YEAR + 0.5 * sigma**2)
    blocks = _need("arch").optimal_block_length(r)
    block = float(blocks["circular"].iloc[0])
    return {"drift_per_year": mu, "volatility_per_year": sigma,
            "block_h": max(1.0, round(block, 1)), "hours": int(p.size)}


def fit_fees(fees_btc: NDArray[np.float64],
             carried: NDArray[np.bool_] | None = None) -> dict[str, float]:
    """Lognormal AR(1) of fees per block (hours without a block left out).

    Returns
    -------
    dict
        ``mean_btc_per_block`` [BTC/block], ``log_sd`` [-], ``half_life_h`` [h],
        ``hours`` [h].
    """
    f = np.asarray(fees_btc, dtype=float)
    if carried is not None:
        f = f[~np.asarray(carried, dtype=bool)]
    f = _check(f, "fees_btc_per_block")
    fit = ar1(np.log(f))
    return {"mean_btc_per_block": float(f.mean()), "log_sd": fit["sd"],
            "half_life_h": fit["half_life_h"], "hours": int(f.size)}


def fit_grid_price(prices_usd_per_mwh: NDArray[np.float64], index: Any, *,
                   utc_offset_hours: float = 2.0) -> dict[str, Any]:
    """A ``profile`` shape and a lognormal AR(1) around it, from hourly prices.

    ``log p = c + a₁cos θ_y + b₁sin θ_y + a₂cos θ_d + b₂sin θ_d + w·weekend + ε``
    by OLS, with ``θ_y`` the day of the year and ``θ_d`` the local hour as angles
    (the annual terms only with ≥ 300 days of history).  To first order
    ``log(1 + A cos(θ − φ)) ≈ A cos(θ − φ)``, so the amplitudes are
    ``sqrt(a² + b²)`` and the peaks ``atan2(b, a)``; ``mean = e^(c + s²/2)`` with ``s``
    the residual's SD (the AR(1) multiplier has mean one); the weekend
    factor ``e^w``.  ``ε`` gives the AR(1)'s ``log_sd`` and half-life.  Prices
    ≤ 0 are raised to 1 % of the median first (``clipped_hours``).

    Parameters
    ----------
    prices_usd_per_mwh : array_like
        Hourly prices. [USD/MWh]
    index : pandas.DatetimeIndex
        Their UTC hours.
    utc_offset_hours : float, default 2
        Local time of the market (Kyiv in winter). [h]

    Returns
    -------
    dict
        The profile's ``mean_usd_per_mwh``, ``seasonal_amplitude``, ``peak_day``,
        ``daily_amplitude``, ``peak_hour``, ``weekend_factor``, ``utc_offset_hours``;
        ``log_sd`` [-], ``half_life_h`` [h], ``r_squared``, ``hours``,
        ``clipped_hours``.
    """
    sm = _need("statsmodels")
    p = np.asarray(prices_usd_per_mwh, dtype=float)
    if p.size < MIN_HOURS or not np.all(np.isfinite(p)):
        raise fail("too little or non-finite history to fit", "price_usd_per_mwh",
                   f"{p.size} hours", f"at least {MIN_HOURS} finite hourly prices")
    floor = 0.01 * float(np.median(p[p > 0])) if np.any(p > 0) else 1.0
    clipped = int((p <= 0).sum())
    y = np.log(np.maximum(p, floor))
    local = index + np.timedelta64(round(utc_offset_hours * 60), "m")
    day = np.asarray(local.day_of_year, dtype=float) - 1.0 + np.asarray(local.hour) / 24.0
    hour = np.asarray(local.hour, dtype=float)
    weekend = (np.asarray(local.day_of_week) >= 5).astype(float)
    span_days = (index[-1] - index[0]).total_seconds() / 86400.0
    seasonal = span_days >= MIN_DAYS_FOR_SEASON
    cols = [np.ones_like(y)]
    if seasonal:
        ty = 2 * np.pi * day / 365.25
        cols += [np.cos(ty), np.sin(ty)]
    td = 2 * np.pi * hour / 24.0
    cols += [np.cos(td), np.sin(td), weekend]
    res = sm.OLS(y, np.column_stack(cols)).fit()
    b = list(res.params)
    c = b.pop(0)
    a_s = b_s = 0.0
    if seasonal:
        a_s, b_s = b.pop(0), b.pop(0)
    a_d, b_d, w = b
    fit = ar1(np.asarray(res.resid))
    return {
        # GridPriceAR1 multiplies the shape by a mean-one lognormal: the shape is the
        # mean, e^(c + s²/2), not the median e^c.
        "mean_usd_per_mwh": float(math.exp(c + 0.5 * fit["sd"] ** 2)),
        "seasonal_amplitude": float(min(math.hypot(a_s, b_s), MAX_AMPLITUDE)),
        "peak_day": float(math.atan2(b_s, a_s) * 365.25 / (2 * math.pi) % 365.25),
        "daily_amplitude": float(min(math.hypot(a_d, b_d), MAX_AMPLITUDE)),
        "peak_hour": float(math.atan2(b_d, a_d) * 24 / (2 * math.pi) % 24),
        "weekend_factor": float(math.exp(w)),
        "utc_offset_hours": float(utc_offset_hours),
        "log_sd": fit["sd"],
        "half_life_h": fit["half_life_h"],
        "r_squared": float(res.rsquared),
        "hours": int(p.size),
        "clipped_hours": clipped,
        "seasonal_fitted": seasonal,
    }
