r"""Network difficulty: consensus retargets driven by a hashrate that chases hashprice.

Consensus rule
--------------
Difficulty ``D`` is constant for 2,016 blocks.  A block needs on average
``D·2³²`` hashes (:mod:`gridhash.bitcoin.economics`), so with network hashrate
``H`` [H/s] blocks arrive at ``H·3600/(D·2³²)`` per hour.  After the last block
of an epoch every node sets (Bitcoin Core ``CalculateNextWorkRequired``,
``src/pow.cpp``)

.. math::

    D' = D \cdot \frac{2016 \cdot 600\,\text{s}}{\operatorname{clamp}(τ,\ τ_0/4,\ 4τ_0)},
    \qquad τ_0 = 2016 \cdot 600\,\text{s} = 14\ \text{days},

where ``τ`` is how long the epoch took.  Without the clamp this is exactly
``D' = H̄·600/2³²``, the mean hashrate of the epoch times the target spacing in
difficulty units; the clamp limits one retarget to a factor of 4 either way.
(Core measures ``τ`` over 2,015 block intervals, an off-by-one worth 0.05 %;
it is ignored here.)  Epochs are counted in *blocks*, so retargets fall every
2,016 expected blocks, at times that depend on the hashrate: on schedule
(``H = D·2³²/600``) every 336 h.

Hashrate response
-----------------
Hashrate is constant within an epoch (an ASSUMPTION: a fleet is switched on or
off over weeks, not hours) and moves at each retarget:

.. math::

    \log H_{k} = \log H_{k-1} + (g + β x_{k-L}) Δ_{k-1} + σ \sqrt{Δ_{k-1}}\, z_k,

with ``Δ`` the previous epoch's length in years, ``z_k ~ N(0, 1)``, and
``x_j = log(HP_j / HP_ref(t_j))`` the log deviation of epoch ``j``'s mean
hashprice from a reference that drifts at ``reference_drift_per_year`` (the
hashprice at which miners keep adding hashrate at the trend ``g``; ASIC
efficiency gains let that breakeven fall over time).  Hashprice
(:func:`~gridhash.bitcoin.economics.hashprice_usd_per_ph_day`) uses the epoch's
difficulty, the subsidy at its first block, and the hourly BTC price and fees
averaged over the epoch.  ``L`` (``lag_epochs``) is the response lag.

Before hour 0 the current epoch is assumed on schedule: its
``start_height mod 2016`` blocks took 600 s each (ASSUMPTION).

Hourly output
-------------
A retarget can fall inside an hour; the hour's ``difficulty`` is then the one
that gives the right expected reward per hash, the time-weighted harmonic mean
``1 / ∫ 1/D dt``, and ``blocks_per_hour`` the expected blocks found in the
hour.  ``height`` is the expected height at the start of each hour and
``subsidy_btc_per_block`` the mean consensus subsidy of the blocks found in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridhash.bitcoin.economics import HASHES_PER_DIFFICULTY, hashprice_usd_per_ph_day
from gridhash.bitcoin.subsidy import HALVING_INTERVAL, block_subsidy_btc
from gridhash.risk.models._base import (
    HOURS_PER_YEAR,
    PathsLike,
    Stream,
    as_hours,
    as_path_ids,
    check_int,
    check_number,
    fail,
    generators,
)

__all__ = [
    "MAX_ADJUSTMENT",
    "RETARGET_INTERVAL_BLOCKS",
    "TARGET_SPACING_S",
    "TARGET_TIMESPAN_S",
    "DifficultyModel",
    "DifficultyPaths",
    "mean_subsidy_between",
]

#: Blocks between retargets (``DifficultyAdjustmentInterval()``). [blocks]
RETARGET_INTERVAL_BLOCKS: int = 2016
#: Target block spacing (``nPowTargetSpacing = 10 * 60``). [s]
TARGET_SPACING_S: float = 600.0
#: Target epoch length (``nPowTargetTimespan = 14 * 24 * 60 * 60``). [s]
TARGET_TIMESPAN_S: float = RETARGET_INTERVAL_BLOCKS * TARGET_SPACING_S
#: Largest factor of one retarget, either way (``nPowTargetTimespan/4 .. *4``). [-]
MAX_ADJUSTMENT: float = 4.0
_SECONDS_PER_HOUR = 3600.0
_H_PER_EH = 1e18


def mean_subsidy_between(h0: ArrayLike, h1: ArrayLike) -> NDArray[np.float64]:
    """Mean consensus subsidy of the blocks between expected heights ``h0`` and ``h1``.

    The subsidy is a step function of the (continuous, expected) height; an
    interval shorter than one halving era can hold at most one step.

    Parameters
    ----------
    h0, h1 : array_like
        Expected heights, ``0 ≤ h0 < h1``, ``h1 - h0 < 210,000``. [blocks]

    Returns
    -------
    numpy.ndarray
        Mean subsidy per block. [BTC/block]
    """
    a, b = np.asarray(h0, dtype=float), np.asarray(h1, dtype=float)
    era_a = np.floor(a / HALVING_INTERVAL).astype(np.int64)
    era_b = np.floor(b / HALVING_INTERVAL).astype(np.int64)
    if era_a.size == 0:
        return np.zeros(np.broadcast(a, b).shape)
    first, last = int(min(era_a.min(), era_b.min())), int(max(era_a.max(), era_b.max()))
    eras = np.arange(first, last + 1, dtype=np.int64)
    table = np.asarray(block_subsidy_btc(eras * HALVING_INTERVAL), dtype=float)
    s_a, s_b = table[era_a - first], table[era_b - first]
    boundary = era_b * float(HALVING_INTERVAL)
    width = np.where(b > a, b - a, 1.0)
    split = ((boundary - a) * s_a + (b - boundary) * s_b) / width
    return np.where(era_a == era_b, s_a, split)


def _as_paths_array(x: Any, N: int, T: int, field: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=float)
    try:
        arr = np.broadcast_to(arr, (N, T))
    except ValueError:
        raise fail(
            "wrong shape", field, arr.shape, f"shape ({N}, {T}), ({T},) or a number"
        ) from None
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i, t = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise fail(
            f"path {i}, hour {t}: not a finite number ≥ 0", field, float(arr[i, t]), "values ≥ 0"
        )
    return arr


def _integral(cum: NDArray[np.float64], rate: NDArray[np.float64], x: NDArray[np.float64]) -> Any:
    """``∫_0^x`` of an hourly step function per row, from its cumulative sums ``cum``."""
    T = rate.shape[1]
    i = np.minimum(np.floor(x).astype(np.int64), T - 1)
    rows = np.arange(len(x))
    return cum[rows, i] + (x - i) * rate[rows, i]


@dataclass(frozen=True, eq=False)
class DifficultyPaths:
    """Difficulty paths and what they imply, shapes (N, T) and (N, K) for epochs.

    The epoch tables have one column per retarget epoch simulated for any of
    the N paths; entries of epochs that start at or after hour T are NaN (the
    number of columns can therefore differ between chunks of paths; the
    hourly arrays never do).
    """

    difficulty: NDArray[np.float64]  # (N, T) [-], harmonic mean over the hour
    blocks_per_hour: NDArray[np.float64]  # (N, T) expected blocks found [blocks/h]
    height: NDArray[np.float64]  # (N, T) expected height at the start of the hour [blocks]
    subsidy_btc_per_block: NDArray[np.float64]  # (N, T) [BTC/block]
    hashrate_ehs: NDArray[np.float64]  # (N, T) network hashrate [EH/s]
    epoch_start_h: NDArray[np.float64]  # (N, K) hour the epoch starts (0 for the first)
    epoch_start_height: NDArray[np.float64]  # (N, K) height of its first block found from hour 0
    epoch_difficulty: NDArray[np.float64]  # (N, K)
    epoch_hashrate_ehs: NDArray[np.float64]  # (N, K)


@dataclass(frozen=True)
class DifficultyModel:
    """Retargeting difficulty driven by a hashrate that responds to hashprice.

    Parameters
    ----------
    start_difficulty : float
        Difficulty of the epoch in progress at hour 0. [-]
    start_height : int
        Height of the first block found in hour 0. [blocks]
    reference_hashprice_usd_per_ph_day : float
        ``HP_ref(0)``: hashprice at which hashrate grows at the trend. [USD/(PH/s)/day]
    trend_per_year : float, default 0.0
        ``g``: log growth of hashrate per year at the reference hashprice. [1/yr]
    reference_drift_per_year : float, default 0.0
        Log growth of the reference hashprice per year (negative: the
        breakeven falls as ASICs get more efficient). [1/yr]
    elasticity_per_year : float, default 2.0
        ``β``: extra log growth per year per unit of lagged log hashprice
        deviation.  ASSUMPTION (``docs/risk.md``): a 50 % hashprice drop
        slows hashrate growth by ≈5 % per two-week epoch. [1/yr]
    volatility_per_sqrt_year : float, default 0.2
        ``σ``: noise of log hashrate. ASSUMPTION: ≈4 % per epoch. [1/sqrt(yr)]
    lag_epochs : int, default 1
        ``L``: epochs between a hashprice and the hashrate response. [-]
    start_hashrate_ehs : float or None, default None
        Network hashrate in the epoch at hour 0; ``None`` for on schedule,
        ``start_difficulty·2³²/600 s``. [EH/s]
    """

    start_difficulty: float
    start_height: int
    reference_hashprice_usd_per_ph_day: float
    trend_per_year: float = 0.0
    reference_drift_per_year: float = 0.0
    elasticity_per_year: float = 2.0
    volatility_per_sqrt_year: float = 0.2
    lag_epochs: int = 1
    start_hashrate_ehs: float | None = None

    def __post_init__(self) -> None:
        name = "DifficultyModel."
        check_number(self.start_difficulty, name + "start_difficulty", gt=0)
        check_int(self.start_height, name + "start_height", ge=0)
        check_number(
            self.reference_hashprice_usd_per_ph_day,
            name + "reference_hashprice_usd_per_ph_day",
            gt=0,
            unit="USD/(PH/s)/day",
        )
        check_number(self.trend_per_year, name + "trend_per_year", gt=-5, lt=5, unit="1/yr")
        check_number(self.reference_drift_per_year, name + "reference_drift_per_year", gt=-5, lt=5)
        check_number(self.elasticity_per_year, name + "elasticity_per_year", ge=0, le=100)
        check_number(self.volatility_per_sqrt_year, name + "volatility_per_sqrt_year", ge=0, le=10)
        check_int(self.lag_epochs, name + "lag_epochs", ge=1)
        if self.start_hashrate_ehs is not None:
            check_number(self.start_hashrate_ehs, name + "start_hashrate_ehs", gt=0, unit="EH/s")

    @property
    def start_hashrate_hs(self) -> float:
        """Hashrate in the epoch at hour 0. [H/s]"""
        if self.start_hashrate_ehs is not None:
            return self.start_hashrate_ehs * _H_PER_EH
        return self.start_difficulty * HASHES_PER_DIFFICULTY / TARGET_SPACING_S

    def sample(
        self,
        paths: PathsLike,
        hours: Any,
        seed: int,
        *,
        btc_price_usd: ArrayLike,
        fees_btc_per_block: ArrayLike,
        key: int = 0,
    ) -> DifficultyPaths:
        """Difficulty paths given BTC price and fee paths.

        Parameters
        ----------
        paths : int or array_like of int
            ``n`` for paths ``0..n-1``, or the path ids to generate.
        hours : int or pandas.DatetimeIndex
            Number of hours T (or the horizon's index).
        seed : int
            Master seed; path ``p`` depends only on ``(seed, key, p)`` and its
            price and fee rows.
        btc_price_usd : array_like, shape (N, T), (T,) or scalar
            BTC price of each path and hour. [USD/BTC]
        fees_btc_per_block : array_like, shape (N, T), (T,) or scalar
            Fees per block of each path and hour. [BTC/block]
        key : int, default 0
            Sub-stream, for independent copies under one seed.

        Returns
        -------
        DifficultyPaths
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        N = len(ids)
        P = _as_paths_array(btc_price_usd, N, T, "btc_price_usd")
        FP = _as_paths_array(fees_btc_per_block, N, T, "fees_btc_per_block") * P
        zero = np.zeros((N, 1))
        cum_p = np.concatenate((zero, np.cumsum(P, axis=1)), axis=1)
        cum_fp = np.concatenate((zero, np.cumsum(FP, axis=1)), axis=1)
        hp_per_reward = float(hashprice_usd_per_ph_day(1.0, 1.0, 0.0, 1.0))

        gens = generators(seed, Stream.DIFFICULTY, key, ids)
        batch = math.ceil(3 * T / 336) + 16
        z = np.empty((N, 0))

        def more_noise() -> NDArray[np.float64]:
            extra = np.empty((N, batch))
            for i, g in enumerate(gens):
                g.standard_normal(out=extra[i])
            return np.concatenate((z, extra), axis=1)

        g_, beta, sigma = (
            self.trend_per_year,
            self.elasticity_per_year,
            self.volatility_per_sqrt_year,
        )
        pre_blocks = self.start_height % RETARGET_INTERVAL_BLOCKS
        s = np.zeros(N)
        D = np.full(N, float(self.start_difficulty))
        H = np.full(N, self.start_hashrate_hs)
        height = float(self.start_height)
        starts, diffs, rates, heights, devs = [s], [D], [H], [height], []
        k = 0
        while True:
            blocks = RETARGET_INTERVAL_BLOCKS - (pre_blocks if k == 0 else 0)
            seconds = blocks * D * HASHES_PER_DIFFICULTY / H
            e = s + seconds / _SECONDS_PER_HOUR
            a, b = np.minimum(s, T), np.minimum(e, T)
            inside = b > a
            width = np.where(inside, b - a, 1.0)
            mean_p = (_integral(cum_p, P, b) - _integral(cum_p, P, a)) / width
            mean_fp = (_integral(cum_fp, FP, b) - _integral(cum_fp, FP, a)) / width
            subsidy = float(block_subsidy_btc(int(height)))
            hp = hp_per_reward * (subsidy * mean_p + mean_fp) / D
            ref = self.reference_hashprice_usd_per_ph_day * np.exp(
                self.reference_drift_per_year * (a + b) / 2 / HOURS_PER_YEAR
            )
            with np.errstate(divide="ignore"):
                devs.append(np.where(inside & (hp > 0), np.log(np.maximum(hp, 1e-300) / ref), 0.0))
            if np.all(e >= T):
                break
            k += 1
            if k > 100 + T:
                raise fail(
                    "more than one retarget per hour: the hashrate parameters run away",
                    "DifficultyModel.trend_per_year",
                    self.trend_per_year,
                    "growth rates of a plausible size",
                )
            timespan = seconds + (pre_blocks * TARGET_SPACING_S if k == 1 else 0.0)
            D = D * np.clip(TARGET_TIMESPAN_S / timespan, 1 / MAX_ADJUSTMENT, MAX_ADJUSTMENT)
            years = timespan / _SECONDS_PER_HOUR / HOURS_PER_YEAR
            lagged = devs[k - self.lag_epochs] if k - self.lag_epochs >= 0 else 0.0
            if z.shape[1] < k:
                z = more_noise()
            H = H * np.exp((g_ + beta * lagged) * years + sigma * np.sqrt(years) * z[:, k - 1])
            s, height = e, height + blocks
            starts.append(s)
            diffs.append(D)
            rates.append(H)
            heights.append(height)
        return self._hourly(T, starts, diffs, rates, heights)

    def _hourly(
        self,
        T: int,
        starts: list[NDArray[np.float64]],
        diffs: list[NDArray[np.float64]],
        rates: list[NDArray[np.float64]],
        heights: list[float],
    ) -> DifficultyPaths:
        """Hourly arrays from the piecewise-constant epoch values."""
        S = np.minimum(np.stack(starts, axis=1), T)  # (N, K)
        Dk, Hk = np.stack(diffs, axis=1), np.stack(rates, axis=1)
        N, K = S.shape
        inv_d = 1.0 / Dk
        blocks_rate = Hk * _SECONDS_PER_HOUR / (Dk * HASHES_PER_DIFFICULTY)
        lengths = np.diff(S, axis=1)

        def cum(gk: NDArray[np.float64]) -> NDArray[np.float64]:
            pieces = np.where(lengths > 0, lengths * gk[:, :-1], 0.0)
            return np.concatenate((np.zeros((N, 1)), np.cumsum(pieces, axis=1)), axis=1)

        # Epoch holding each hour boundary x = 0..T: one searchsorted over all
        # rows at once, rows offset so they never interleave.
        x = np.arange(T + 1, dtype=float)
        offset = (T + 1.0) * np.arange(N)[:, None]
        j = np.searchsorted((S + offset).ravel(), (x + offset).ravel(), side="right") - 1
        j = j.reshape(N, T + 1) - K * np.arange(N)[:, None]
        rows = np.arange(N)[:, None]
        dx = x - S[rows, j]

        def at(gk: NDArray[np.float64]) -> NDArray[np.float64]:
            return cum(gk)[rows, j] + dx * gk[rows, j]

        # An hour wholly inside one epoch takes that epoch's value exactly.
        j_hour = j[:, :T]
        next_start = np.concatenate((S, np.full((N, 1), np.inf)), axis=1)[rows, j_hour + 1]
        whole = next_start >= x[1:]

        def hourly(gk: NDArray[np.float64], integral: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.where(whole, gk[rows, j_hour], np.diff(integral, axis=1))

        blocks_cum = at(blocks_rate)
        h = self.start_height + blocks_cum
        beyond = np.stack(starts, axis=1) >= T
        beyond[:, 0] = False

        def nan_if_beyond(a: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.where(beyond, np.nan, a)

        return DifficultyPaths(
            difficulty=np.where(whole, Dk[rows, j_hour], 1.0 / np.diff(at(inv_d), axis=1)),
            blocks_per_hour=hourly(blocks_rate, blocks_cum),
            height=h[:, :T],
            subsidy_btc_per_block=mean_subsidy_between(h[:, :T], h[:, 1:]),
            hashrate_ehs=hourly(Hk, at(Hk)) / _H_PER_EH,
            epoch_start_h=nan_if_beyond(np.stack(starts, axis=1)),
            epoch_start_height=nan_if_beyond(np.broadcast_to(np.asarray(heights), (N, K))),
            epoch_difficulty=nan_if_beyond(Dk),
            epoch_hashrate_ehs=nan_if_beyond(Hk / _H_PER_EH),
        )
