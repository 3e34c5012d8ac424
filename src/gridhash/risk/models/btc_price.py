r"""Bitcoin price paths: geometric Brownian motion, or a block bootstrap of history.

Both models return prices of shape ``(N, T)`` in USD/BTC with
``price[:, 0] = start_price_usd`` and ``price[:, t] = start · exp(r_1 + … + r_t)``,
where ``r_t`` is the log return over hour ``t``.

GBM (:class:`GbmPrice`)
-----------------------
``dS = μ S dt + σ S dW`` with ``μ`` the drift and ``σ`` the volatility per year.
Hourly log returns are i.i.d. with

.. math:: r_t = (μ - σ^2/2)\,Δ + σ \sqrt{Δ}\, ε_t,\qquad Δ = 1/8760 \text{ yr},

``ε_t ~ N(0, 1)``, or Student-t with ν > 2 degrees of freedom scaled to unit
variance (``t_ν · sqrt((ν-2)/ν)``) for fat tails.  With normal innovations
``E[S_t] = S_0 e^{μ t}`` exactly; the mean and standard deviation of the log
return are the same for both innovation laws.

Block bootstrap (:class:`BootstrapPrice`)
-----------------------------------------
A price history at any regular step (a :class:`pandas.Series` with a
:class:`~pandas.DatetimeIndex`, or an array and ``step_h``) is turned into log
returns per step.  Finer than hourly data is sampled on the hour first.  Paths
are built by the circular moving-block bootstrap of those returns (blocks of
``block_h`` hours, start drawn uniformly), which keeps volatility clustering and
autocorrelation within a block.  When a step covers ``k > 1`` hours (daily data:
``k = 24``), each resampled step return ``R`` is spread over its ``k`` hours as
a Brownian bridge: ``r_j = R/k + s(ε_j − ε̄)`` with ``s² = Var(R)/k``; the hours
add up to ``R`` exactly and every hourly return has variance ``Var(R)/k``, so
the volatility is right at every horizon of one hour or more.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridhash.risk.models._base import (
    HOURS_PER_YEAR,
    PathsLike,
    as_hours,
    as_path_ids,
    check_number,
    check_out,
    exp_into,
    fail,
    readonly,
)
from gridhash.risk.models.seeding import PathStreams, Stream

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BootstrapPrice", "GbmPrice", "prices_from_log_returns"]


def prices_from_log_returns(
    start: float, r: NDArray[np.float64], out: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """``(N, T)`` prices from ``(N, T-1)`` hourly log returns, column 0 = ``start``.

    The log price is summed in float64; its exponential is taken in float32
    (:func:`~gridhash.risk.models._base.exp_into`: relative error < 1e-6).
    ``out``: a float64 ``(N, T)`` array to write the prices into.
    """
    if out is None:
        out = np.empty((r.shape[0], r.shape[1] + 1))
    out[:, 0] = 0.0
    np.cumsum(r, axis=1, out=out[:, 1:])
    return exp_into(out, start, out=out)


@dataclass(frozen=True)
class GbmPrice:
    """Geometric Brownian motion of the BTC price, hourly steps.

    Parameters
    ----------
    start_price_usd : float
        Price at hour 0. [USD/BTC]
    drift_per_year : float, default 0.0
        ``μ``: expected continuously compounded growth of the *mean* price,
        ``E[S_t] = S_0 e^{μt}``. [1/yr]
    volatility_per_year : float, default 0.5
        ``σ``: standard deviation of the log return over one year.  0.5 is
        Bitcoin's average one-month realised volatility (about 50 %, Glassnode
        via CoinDesk, 2025-03; see ``docs/risk.md``). [1/sqrt(yr)]
    student_t_dof : float or None, default None
        Degrees of freedom ν > 2 of Student-t innovations (scaled to unit
        variance); ``None`` for normal innovations. [-]
    """

    start_price_usd: float
    drift_per_year: float = 0.0
    volatility_per_year: float = 0.5
    student_t_dof: float | None = None

    def __post_init__(self) -> None:
        check_number(self.start_price_usd, "GbmPrice.start_price_usd", gt=0, unit="USD/BTC")
        check_number(self.drift_per_year, "GbmPrice.drift_per_year", gt=-10, lt=10, unit="1/yr")
        check_number(self.volatility_per_year, "GbmPrice.volatility_per_year", ge=0, lt=20)
        if self.student_t_dof is not None:
            check_number(self.student_t_dof, "GbmPrice.student_t_dof", gt=2)

    @property
    def hourly_log_return_mean(self) -> float:
        """``(μ − σ²/2)/8760``. [1/h]"""
        return (self.drift_per_year - 0.5 * self.volatility_per_year**2) / HOURS_PER_YEAR

    @property
    def hourly_log_return_sd(self) -> float:
        """``σ/sqrt(8760)``. [1/sqrt(h)]"""
        return self.volatility_per_year / math.sqrt(HOURS_PER_YEAR)

    def _innovations(
        self, ids: NDArray[np.int64], seed: int, key: int, out: NDArray[np.float64]
    ) -> float:
        """Fill ``out`` (N, n) with each path's innovations; return the scale to unit variance."""
        streams = PathStreams(seed, Stream.BTC_PRICE, key, ids)
        if self.student_t_dof is None:
            for row, g in zip(out, streams, strict=True):
                g.standard_normal(out=row)
            return 1.0
        nu = float(self.student_t_dof)
        for row, g in zip(out, streams, strict=True):
            row[:] = g.standard_t(nu, row.size)
        return math.sqrt((nu - 2.0) / nu)

    def log_returns(
        self, paths: PathsLike, hours: Any, seed: int, *, key: int = 0
    ) -> NDArray[np.float64]:
        """Hourly log returns ``r_1..r_{T-1}``, shape ``(N, T-1)``; see :meth:`sample`."""
        ids = as_path_ids(paths)
        T = as_hours(hours)
        eps = np.empty((len(ids), T - 1))
        unit = self._innovations(ids, seed, key, eps)
        eps *= self.hourly_log_return_sd * unit
        eps += self.hourly_log_return_mean
        return eps

    def sample(
        self,
        paths: PathsLike,
        hours: Any,
        seed: int,
        *,
        key: int = 0,
        out: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Price paths.

        Parameters
        ----------
        paths : int or array_like of int
            ``n`` for paths ``0..n-1``, or the path ids to generate.
        hours : int or pandas.DatetimeIndex
            Number of hours T (or the horizon's index).
        seed : int
            Master seed; path ``p`` depends only on ``(seed, key, p)``.
        key : int, default 0
            Sub-stream, for independent copies under one seed.
        out : numpy.ndarray, shape (N, T), optional
            Float64 array (rows contiguous) to write the prices into; returned.

        Returns
        -------
        numpy.ndarray, shape (N, T)
            Prices; column 0 is ``start_price_usd``. [USD/BTC]
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        if check_out(out, (len(ids), T)) is None:
            out = np.empty((len(ids), T))
        # log S_t / S_0 = mean·t + sd·(ε_1 + … + ε_t): the innovations are
        # summed where they are drawn, and the drift is added with the scale.
        out[:, 0] = 0.0
        unit = self._innovations(ids, seed, key, out[:, 1:])
        np.cumsum(out[:, 1:], axis=1, out=out[:, 1:])
        sd = self.hourly_log_return_sd * unit
        arg = np.multiply(out, sd, dtype=np.float32)
        arg += _drift32(self.hourly_log_return_mean, T)
        return exp_into(arg, self.start_price_usd, out=out, overwrite_x=True)


@functools.lru_cache(maxsize=8)
def _drift32(mean: float, T: int) -> NDArray[np.float32]:
    """``mean·t`` for ``t = 0..T-1`` in float32 (the same for every path)."""
    return readonly((mean * np.arange(T)).astype(np.float32))


def _step_hours(prices: Any, step_h: float | None) -> tuple[NDArray[np.float64], float]:
    """Prices as a float array and the regular step between them in hours."""
    import pandas as pd

    if isinstance(prices, pd.Series) and isinstance(prices.index, pd.DatetimeIndex):
        if step_h is not None:
            raise fail(
                "give either a Series with a DatetimeIndex or step_h, not both",
                "BootstrapPrice.step_h",
                step_h,
                "None when the prices carry timestamps",
            )
        idx = prices.index
        if len(idx) < 3:
            raise fail("too short a history", "BootstrapPrice.prices", len(idx), "≥ 3 prices")
        steps = np.diff(idx.to_numpy()) / np.timedelta64(1, "h")
        if np.any(steps != steps[0]) or steps[0] <= 0:
            raise fail(
                "the price history is not at a regular frequency",
                "BootstrapPrice.prices",
                f"steps from {steps.min():g} h to {steps.max():g} h",
                "increasing timestamps one fixed step apart (resample it first)",
            )
        step = float(steps[0])
        values = prices.to_numpy(dtype=float)
    else:
        if step_h is None:
            raise fail(
                "the step between prices is unknown",
                "BootstrapPrice.step_h",
                None,
                "step_h in hours when prices is not a Series with a DatetimeIndex",
            )
        step = check_number(step_h, "BootstrapPrice.step_h", gt=0, unit="h")
        values = np.asarray(prices, dtype=float)
        if values.ndim != 1 or values.size < 3:
            raise fail(
                "too short a history", "BootstrapPrice.prices", values.shape, "≥ 3 prices, 1-D"
            )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        bad = int(np.argmax(~np.isfinite(values) | (values <= 0)))
        raise fail(
            f"price {bad} is not a positive finite number",
            "BootstrapPrice.prices",
            float(values[bad]),
            "positive prices without gaps",
        )
    return values, step


@dataclass(frozen=True, eq=False)
class BootstrapPrice:
    """Circular moving-block bootstrap of historical log returns, hourly output.

    Build it with :meth:`from_prices`.  Parameters are the already-processed
    history:

    Parameters
    ----------
    start_price_usd : float
        Price at hour 0. [USD/BTC]
    step_returns : array_like
        Log returns of the history, one per step of ``step_h`` hours. [-]
    step_h : int
        Hours per step (1 for hourly or finer histories, 24 for daily). [h]
    block_h : float, default 168
        Block length; rounded to whole steps (at least one). [h]
    log_drift_per_year : float or None, default None
        If given, the returns are shifted so their mean log return is this
        rate, keeping their volatility (e.g. 0 to remove a bull market's
        trend). ``None`` keeps the history's own mean. [1/yr]
    """

    start_price_usd: float
    step_returns: NDArray[np.float64]
    step_h: int
    block_h: float = 168.0
    log_drift_per_year: float | None = None
    _returns: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_number(self.start_price_usd, "BootstrapPrice.start_price_usd", gt=0, unit="USD/BTC")
        if isinstance(self.step_h, bool) or not isinstance(self.step_h, int | np.integer):
            raise fail("not whole hours", "BootstrapPrice.step_h", self.step_h, "an integer ≥ 1")
        if self.step_h < 1:
            raise fail("out of range", "BootstrapPrice.step_h", self.step_h, "an integer ≥ 1")
        check_number(self.block_h, "BootstrapPrice.block_h", ge=1, unit="h")
        r = np.array(self.step_returns, dtype=float)
        if r.ndim != 1 or r.size < 2 or not np.all(np.isfinite(r)):
            raise fail(
                "the history's returns are too few or not finite",
                "BootstrapPrice.step_returns",
                r.shape,
                "≥ 2 finite log returns",
            )
        if self.log_drift_per_year is not None:
            mu = check_number(self.log_drift_per_year, "BootstrapPrice.log_drift_per_year")
            r = r - r.mean() + mu * self.step_h / HOURS_PER_YEAR
        object.__setattr__(self, "step_returns", readonly(np.array(self.step_returns, dtype=float)))
        object.__setattr__(self, "_returns", readonly(r))

    @classmethod
    def from_prices(
        cls,
        prices: pd.Series | ArrayLike,
        *,
        start_price_usd: float,
        step_h: float | None = None,
        block_h: float = 168.0,
        log_drift_per_year: float | None = None,
    ) -> BootstrapPrice:
        """Bootstrap model from a price history at any regular frequency.

        Parameters
        ----------
        prices : pandas.Series or array_like
            Positive prices in time order; a Series with a DatetimeIndex gives
            its own step, otherwise pass ``step_h``. [USD/BTC]
        start_price_usd : float
            Price at hour 0 of the generated paths. [USD/BTC]
        step_h : float, optional
            Hours between prices when ``prices`` has no timestamps.  A whole
            number of hours (1, 24, 168, ...) or an exact fraction of an hour
            (0.25 for 15-minute data, which is then sampled on the hour). [h]
        block_h : float, default 168
            Block length of the bootstrap. [h]
        log_drift_per_year : float or None, default None
            See the class.

        Returns
        -------
        BootstrapPrice
        """
        values, step = _step_hours(prices, step_h)
        if step < 1.0:
            per_hour = round(1.0 / step)
            if abs(per_hour * step - 1.0) > 1e-9:
                raise fail(
                    "a step shorter than an hour must divide the hour",
                    "BootstrapPrice.step_h",
                    step,
                    "1/2, 1/4, 1/12, 1/60 ... hours",
                )
            values, k = values[::per_hour], 1
        else:
            k = round(step)
            if abs(k - step) > 1e-9:
                raise fail(
                    "a step of an hour or more must be whole hours",
                    "BootstrapPrice.step_h",
                    step,
                    "1, 24, 168 ... hours",
                )
        if values.size < 3:
            raise fail(
                "too short a history once sampled on the hour",
                "BootstrapPrice.prices",
                values.size,
                "≥ 3 hourly prices",
            )
        return cls(
            start_price_usd=start_price_usd,
            step_returns=np.diff(np.log(values)),
            step_h=int(k),
            block_h=block_h,
            log_drift_per_year=log_drift_per_year,
        )

    @property
    def block_steps(self) -> int:
        """Block length in steps of the history. [-]"""
        return max(1, round(self.block_h / self.step_h))

    @property
    def hourly_log_return_mean(self) -> float:
        """Expected hourly log return: the history's mean step return / ``step_h``. [1/h]"""
        return float(self._returns.mean()) / self.step_h

    @property
    def hourly_log_return_sd(self) -> float:
        """Standard deviation of an hourly log return: ``sqrt(Var(R)/step_h)``. [1/sqrt(h)]"""
        return math.sqrt(float(self._returns.var()) / self.step_h)

    def log_returns(
        self, paths: PathsLike, hours: Any, seed: int, *, key: int = 0
    ) -> NDArray[np.float64]:
        """Hourly log returns, shape ``(N, T-1)``; see :meth:`sample`."""
        ids = as_path_ids(paths)
        T = as_hours(hours)
        n, k, L = self._returns.size, self.step_h, self.block_steps
        steps = -(-(T - 1) // k)  # whole steps covering T-1 hours
        blocks = -(-steps // L)
        streams = PathStreams(seed, Stream.BTC_PRICE, key, ids)
        starts = np.empty((len(ids), blocks), dtype=np.int64)
        bridge = np.empty((len(ids), steps, k)) if k > 1 else None
        for i, g in enumerate(streams):
            starts[i] = g.integers(0, n, blocks)
            if bridge is not None:
                g.standard_normal(out=bridge[i].reshape(-1))
        idx = (starts[:, :, None] + np.arange(L)).reshape(len(ids), -1)[:, :steps] % n
        R = self._returns[idx]  # (N, steps)
        if bridge is None:
            return R[:, : T - 1]
        s = math.sqrt(float(self._returns.var()) / k)
        hourly = R[:, :, None] / k + s * (bridge - bridge.mean(axis=2, keepdims=True))
        return hourly.reshape(len(ids), -1)[:, : T - 1]

    def sample(
        self,
        paths: PathsLike,
        hours: Any,
        seed: int,
        *,
        key: int = 0,
        out: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Price paths.

        Parameters
        ----------
        paths : int or array_like of int
            ``n`` for paths ``0..n-1``, or the path ids to generate.
        hours : int or pandas.DatetimeIndex
            Number of hours T (or the horizon's index).
        seed : int
            Master seed; path ``p`` depends only on ``(seed, key, p)``.
        key : int, default 0
            Sub-stream, for independent copies under one seed.
        out : numpy.ndarray, shape (N, T), optional
            Float64 array (rows contiguous) to write the prices into; returned.

        Returns
        -------
        numpy.ndarray, shape (N, T)
            Prices; column 0 is ``start_price_usd``. [USD/BTC]
        """
        ids = as_path_ids(paths)
        check_out(out, (len(ids), as_hours(hours)))
        return prices_from_log_returns(
            self.start_price_usd, self.log_returns(ids, hours, seed, key=key), out
        )
