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

import functools
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridhash.bitcoin.economics import HASHES_PER_DIFFICULTY, hashprice_usd_per_ph_day
from gridhash.bitcoin.subsidy import HALVING_INTERVAL, block_subsidy_btc
from gridhash.risk.models._base import (
    HOURS_PER_YEAR,
    PathsLike,
    as_hours,
    as_path_ids,
    check_int,
    check_number,
    check_out,
    fail,
    readonly,
)
from gridhash.risk.models.seeding import Stream, normal_rows

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


@functools.lru_cache(maxsize=1)
def _hashprice_per_reward() -> float:
    """Hashprice of a reward of 1 USD per block at difficulty 1. [USD/(PH/s)/day]"""
    return float(hashprice_usd_per_ph_day(1.0, 1.0, 0.0, 1.0))


@functools.lru_cache(maxsize=64)
def _era_subsidy_btc(era: int) -> float:
    """Consensus subsidy of the blocks of halving era ``era`` (the same for all of them). [BTC]"""
    return float(block_subsidy_btc(era * HALVING_INTERVAL))


def _as_paths_array(x: Any, N: int, T: int, field: str) -> NDArray[np.float64]:
    base = np.asarray(x, dtype=float)
    try:
        arr = np.broadcast_to(base, (N, T))
    except ValueError:
        raise fail(
            "wrong shape", field, base.shape, f"shape ({N}, {T}), ({T},) or a number"
        ) from None
    # min ≥ 0 and max < inf fail for NaN too: two fast reductions in the usual case.
    if arr.size and not (base.min() >= 0 and base.max() < np.inf):
        bad = ~np.isfinite(arr) | (arr < 0)
        i, t = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise fail(
            f"path {i}, hour {t}: not a finite number ≥ 0", field, float(arr[i, t]), "values ≥ 0"
        )
    return arr


#: Hours per block of the partial sums behind :class:`_RewardIntegral`. [h]
_SUM_BLOCK_H = 24
#: Elements (paths × hours) repeated at a time into a given output array. [-]
_FILL_ELEMENTS = 262_144


def _noise_per_draw(T: int) -> int:
    """Hashrate innovations drawn per path at first: three times the on-schedule retargets."""
    return math.ceil(3 * T / 336) + 16


class _RewardIntegral:
    """``∫_0^x P·(s + F)`` per path: the USD a block's finder earns, integrated to ``x``.

    ``P`` (price) and ``F`` (fees per block) are hourly step functions and
    ``s`` the subsidy.  Sums of ``P`` and ``P·F`` over blocks of 24 hours are
    taken once (one pass over ``P`` and ``F``, no ``(N, T)`` cumulative sum or
    temporary); an integral at any ``x`` adds the blocks before ``x`` and the
    hours of ``x``'s own block, weighted by how much of each lies before ``x``
    (1, the fraction of the hour ``x`` falls in, then 0).  Every row is
    computed on its own, so a path's values do not depend on the other paths
    in the batch.
    """

    def __init__(self, P: NDArray[np.float64], F: NDArray[np.float64], subsidy: float) -> None:
        N, T = P.shape
        b = _SUM_BLOCK_H
        n_full = T // b
        n_blocks = n_full + (T % b > 0)
        sums_p = np.empty((N, n_blocks))
        cum = np.zeros((N, n_blocks + 1))  # each row: 0, then the running sums of its blocks
        # einsum's sums of products need no (N, T) temporary; their order of
        # summation depends only on the block length, not on the row.
        p3 = P[:, : n_full * b].reshape(N, n_full, b)
        f3 = F[:, : n_full * b].reshape(N, n_full, b)
        np.einsum("nbk->nb", p3, out=sums_p[:, :n_full])
        np.einsum("nbk,nbk->nb", p3, f3, out=cum[:, 1 : n_full + 1])
        if n_blocks > n_full:
            sums_p[:, n_full] = np.einsum("nk->n", P[:, n_full * b :])
            cum[:, -1] = np.einsum("nk,nk->n", P[:, n_full * b :], F[:, n_full * b :])
        sums_p *= subsidy
        cum[:, 1:] += sums_p
        np.cumsum(cum, axis=1, out=cum)
        self.subsidy = subsidy
        self._cum = cum.reshape(-1)
        self._cum_start = np.arange(N) * (n_blocks + 1)
        self._take_p, self._take_f = _gatherer(P), _gatherer(F)
        self._row_start = np.arange(N) * T
        self._j = np.arange(b)

    def at(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``∫_0^x P·(s + F)`` per row, ``0 ≤ x ≤ T``."""
        b, j = _SUM_BLOCK_H, self._j
        q = x.astype(np.int64) // b  # x's block (x ≥ 0: int is floor; x = T may be past the last)
        start = q * b
        # Its hours; those at or past T weigh 0 (and read whatever lies there).
        flat = (start + self._row_start)[:, None] + j
        w = (x - start)[:, None] - j  # hour j of the block counts clip(x - its start, 0, 1)
        np.minimum(w, 1.0, out=w)
        np.maximum(w, 0.0, out=w)
        reward = self._take_f(flat)
        reward += self.subsidy
        reward *= self._take_p(flat)
        reward *= w
        out = self._cum.take(q + self._cum_start)
        out += reward.sum(axis=1)
        return out


def _gatherer(a: NDArray[np.float64]) -> Any:
    """``take(flat_index)`` for an (N, T) array, indices into its rows laid end to end
    (past the end: any value): flat for a contiguous one, by column for a broadcast
    series, by fancy indexing otherwise (always a new array)."""
    N, T = a.shape
    if a.flags.c_contiguous:
        flat = a.reshape(-1)
        return lambda flat_idx: flat.take(flat_idx, mode="clip")
    if a.strides[0] == 0:
        row = np.ascontiguousarray(a[0])
        return lambda flat_idx: row.take(flat_idx % T)
    return lambda flat_idx: a[np.minimum(flat_idx // T, N - 1), flat_idx % T]


class _Epochs:
    """Piecewise-constant epoch values turned into hourly arrays.

    ``S`` (N, K) are the epoch start hours clipped to ``T`` (``S[:, 0] = 0``),
    ``D`` and ``H`` each epoch's difficulty and hashrate [H/s].  An hour wholly
    inside epoch ``k`` takes its value exactly: ``np.repeat`` of the epoch
    values, ``ceil(S[k+1]) - ceil(S[k])`` hours each.  An hour holding a
    retarget (or several) takes the time average over the hour, from the
    integral of the step function at the hour's two ends.
    """

    def __init__(
        self,
        T: int,
        start_height: float,
        S: NDArray[np.float64],
        D: NDArray[np.float64],
        H: NDArray[np.float64],
    ) -> None:
        self.T, self.start_height = T, start_height
        self.S, self.D, self.H = S, D, H
        self.rate = H * _SECONDS_PER_HOUR / (D * HASHES_PER_DIFFICULTY)  # [blocks/h]
        N = S.shape[0]
        edges = np.ceil(np.concatenate((S, np.full((N, 1), float(T))), axis=1))
        self._counts = np.diff(edges, axis=1).astype(np.int64)
        self._lengths = np.diff(S, axis=1)  # (N, K-1), 0 past T
        # Hours holding a retarget: floor(S_m) for every start 0 < S_m < T off the hour.
        inner = S[:, 1:]
        r, m = np.nonzero((inner < T) & (inner != np.floor(inner)))
        t = np.floor(inner[r, m])
        self._mixed = (r, t.astype(np.int64))
        x = np.stack((t, t + 1.0))  # (2, M): the hour's two ends
        k = (S[r][None, :, :] <= x[:, :, None]).sum(axis=2) - 1  # epoch holding each end
        self._ends = (x, k, r)

    def fill(
        self, values: NDArray[np.float64], out: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """Each epoch's value in every hour that starts in it, ``(N, T)`` (into ``out``)."""
        N, T = values.shape[0], self.T
        if out is None:
            return np.repeat(values.ravel(), self._counts.ravel()).reshape(N, T)
        rows = max(1, _FILL_ELEMENTS // max(T, 1))  # a small temporary, copied
        for r in range(0, N, rows):
            hourly = np.repeat(values[r : r + rows].ravel(), self._counts[r : r + rows].ravel())
            out[r : r + rows] = hourly.reshape(-1, T)
        return out

    def cumulative(self, g: NDArray[np.float64]) -> NDArray[np.float64]:
        """``∫_0^{S_k} g`` at every epoch start, (N, K)."""
        pieces = np.cumsum(g[:, :-1] * self._lengths, axis=1)
        return np.concatenate((np.zeros((g.shape[0], 1)), pieces), axis=1)

    def mixed_integrals(self, g: NDArray[np.float64]) -> NDArray[np.float64]:
        """``∫ g`` over each hour holding a retarget (order of ``self._mixed``)."""
        x, k, r = self._ends
        c = self.cumulative(g)[r[None, :], k] + (x - self.S[r[None, :], k]) * g[r[None, :], k]
        return c[1] - c[0]

    def hourly_mean(
        self,
        g: NDArray[np.float64],
        *,
        harmonic: bool = False,
        out: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Hourly time average of ``g`` (harmonic: ``1/∫(1/g)``), ``(N, T)`` (into ``out``)."""
        out = self.fill(g, out)
        r, t = self._mixed
        if r.size:
            out[r, t] = 1.0 / self.mixed_integrals(1.0 / g) if harmonic else self.mixed_integrals(g)
        return out

    def blocks_by(self, x: float) -> NDArray[np.float64]:
        """Expected blocks found from hour 0 to hour ``x`` per path, (N,)."""
        k = (x >= self.S).sum(axis=1) - 1
        rows = np.arange(self.S.shape[0])
        c = self.cumulative(self.rate)[rows, k]
        return c + (x - self.S[rows, k]) * self.rate[rows, k]

    def height(self, rows: NDArray[np.int64] | slice = slice(None)) -> NDArray[np.float64]:
        """Expected height at the start of every hour, ``(n, T)``, for ``rows``."""
        S, rate = self.S[rows], self.rate[rows]
        base = self.start_height + self.cumulative(rate) - S * rate
        h = self.fill(base) if isinstance(rows, slice) else self._fill_rows(base, rows)
        slope = self.fill(rate) if isinstance(rows, slice) else self._fill_rows(rate, rows)
        slope *= np.arange(self.T, dtype=float)
        h += slope
        return h

    def _fill_rows(self, values: NDArray[np.float64], rows: NDArray[np.int64]) -> Any:
        counts = self._counts[rows]
        return np.repeat(values.ravel(), counts.ravel()).reshape(len(rows), self.T)

    def subsidy(self) -> NDArray[np.float64]:
        """Mean consensus subsidy of the blocks found in each hour, ``(N, T)``.

        Constant unless a path crosses a halving within the horizon: then a
        read-only broadcast of one number (no memory per path).  Otherwise only
        the paths that cross need their hourly heights.
        """
        N, T, h0 = self.S.shape[0], self.T, self.start_height
        s0 = _era_subsidy_btc(int(h0) // HALVING_INTERVAL)
        h_end = h0 + self.blocks_by(float(T))
        crossing = np.flatnonzero(
            np.floor(h_end / HALVING_INTERVAL) != math.floor(h0 / HALVING_INTERVAL)
        )
        if crossing.size == 0:
            return readonly(np.broadcast_to(np.float64(s0), (N, T)))
        out = np.full((N, T), s0)
        h = np.concatenate((self.height(crossing), h_end[crossing, None]), axis=1)
        out[crossing] = mean_subsidy_between(h[:, :T], h[:, 1:])
        return out


@dataclass(frozen=True, eq=False)
class DifficultyPaths:
    """Difficulty paths and what they imply, shapes (N, T) and (N, K) for epochs.

    The epoch tables have one column per retarget epoch simulated for any of
    the N paths; entries of epochs that start at or after hour T are NaN (the
    number of columns can therefore differ between chunks of paths; the
    hourly arrays never do).  ``height`` and ``hashrate_ehs`` are computed
    when first read (the bundle does not need them); ``subsidy_btc_per_block``
    is a read-only broadcast when no path crosses a halving.
    """

    difficulty: NDArray[np.float64]  # (N, T) [-], harmonic mean over the hour
    blocks_per_hour: NDArray[np.float64]  # (N, T) expected blocks found [blocks/h]
    subsidy_btc_per_block: NDArray[np.float64]  # (N, T) [BTC/block]
    epoch_start_h: NDArray[np.float64]  # (N, K) hour the epoch starts (0 for the first)
    epoch_start_height: NDArray[np.float64]  # (N, K) height of its first block found from hour 0
    epoch_difficulty: NDArray[np.float64]  # (N, K)
    epoch_hashrate_ehs: NDArray[np.float64]  # (N, K)
    _epochs: _Epochs = field(repr=False)

    @cached_property
    def height(self) -> NDArray[np.float64]:
        """Expected height at the start of each hour, (N, T). [blocks]"""
        return self._epochs.height()

    @cached_property
    def hashrate_ehs(self) -> NDArray[np.float64]:
        """Network hashrate, time average over each hour, (N, T). [EH/s]"""
        return self._epochs.hourly_mean(self._epochs.H) / _H_PER_EH


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
        out: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
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
        out : pair of numpy.ndarray, shape (N, T), optional
            Float64 arrays to write ``difficulty`` and ``blocks_per_hour`` into.

        Returns
        -------
        DifficultyPaths
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        N = len(ids)
        if out is not None:
            for a in out:
                check_out(a, (N, T))
        P = _as_paths_array(btc_price_usd, N, T, "btc_price_usd")
        F = _as_paths_array(fees_btc_per_block, N, T, "fees_btc_per_block")
        return self._simulate(ids, T, seed, P, F, key, out)

    def _simulate(
        self,
        ids: NDArray[np.int64],
        T: int,
        seed: int,
        P: NDArray[np.float64],
        F: NDArray[np.float64],
        key: int = 0,
        out: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> DifficultyPaths:
        """:meth:`sample` for checked ``(N, T)`` price and fee paths (finite, ≥ 0).

        :class:`~gridhash.risk.models.bundle.RiskModel` calls it directly with
        the paths its own models sampled, which are positive by construction.
        """
        N = len(ids)
        hp_per_reward = _hashprice_per_reward()

        # One draw per path; a path needing more retargets than that redraws a
        # longer prefix of its own stream, so its numbers never depend on the batch.
        z = normal_rows(seed, Stream.DIFFICULTY, key, ids, _noise_per_draw(T))

        g_, beta = self.trend_per_year, self.elasticity_per_year
        zs = self.volatility_per_sqrt_year * z
        pre_blocks = self.start_height % RETARGET_INTERVAL_BLOCKS
        pre_h = pre_blocks * TARGET_SPACING_S / _SECONDS_PER_HOUR  # of the epoch in progress
        target_h = TARGET_TIMESPAN_S / _SECONDS_PER_HOUR
        hours_per_block = HASHES_PER_DIFFICULTY / _SECONDS_PER_HOUR  # per unit of D/H
        # log HP_ref(t) - log hp_per_reward = log_ref0 + ref_slope·(a + b) at mid-epoch t.
        log_ref0 = math.log(self.reference_hashprice_usd_per_ph_day / hp_per_reward)
        ref_slope = self.reference_drift_per_year / 2 / HOURS_PER_YEAR
        s = np.zeros(N)
        D = np.full(N, float(self.start_difficulty))
        H = np.full(N, self.start_hashrate_hs)
        height = float(self.start_height)
        starts, diffs, rates, heights, devs = [s], [D], [H], [height], []
        integral: _RewardIntegral | None = None
        reward_a = a = np.zeros(N)
        k = 0
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 past T: no deviation
            while True:
                blocks = RETARGET_INTERVAL_BLOCKS - (pre_blocks if k == 0 else 0)
                hours = D / H
                hours *= blocks * hours_per_block
                e = s + hours
                b = np.minimum(e, T)
                subsidy = _era_subsidy_btc(int(height) // HALVING_INTERVAL)  # of its first block
                if integral is None or integral.subsidy != subsidy:
                    integral = _RewardIntegral(P, F, subsidy)
                    reward_a = integral.at(a)
                reward_b = integral.at(b)
                # x = log(HP/HP_ref), HP = hp_per_reward · (mean reward per block over
                # [a, b]) / D; 0 for epochs past T (0/0) or without revenue.
                reward = reward_b - reward_a
                reward /= (b - a) * D
                ok = reward > 0
                dev = np.zeros(N)
                np.log(reward, out=dev, where=ok)
                np.subtract(dev, log_ref0 + ref_slope * (a + b), out=dev, where=ok)
                devs.append(dev)
                if not e.size or np.minimum.reduce(e) >= T:
                    break
                k += 1
                if k > 100 + T:
                    raise fail(
                        "more than one retarget per hour: the hashrate parameters run away",
                        "DifficultyModel.trend_per_year",
                        self.trend_per_year,
                        "growth rates of a plausible size",
                    )
                timespan_h = hours + pre_h if k == 1 else hours
                factor = np.minimum(target_h / timespan_h, MAX_ADJUSTMENT)
                D = D * np.maximum(factor, 1 / MAX_ADJUSTMENT, out=factor)
                years = timespan_h / HOURS_PER_YEAR
                lagged = devs[k - self.lag_epochs] if k - self.lag_epochs >= 0 else 0.0
                if z.shape[1] < k:
                    z = normal_rows(seed, Stream.DIFFICULTY, key, ids, 2 * z.shape[1])
                    zs = self.volatility_per_sqrt_year * z
                growth = beta * lagged + g_
                growth *= years
                noise = np.sqrt(years)
                noise *= zs[:, k - 1]
                growth += noise
                H = H * np.exp(growth, out=growth)
                s, height = e, height + blocks
                a, reward_a = b, reward_b
                starts.append(s)
                diffs.append(D)
                rates.append(H)
                heights.append(height)
        return self._hourly(T, starts, diffs, rates, heights, out)

    def _hourly(
        self,
        T: int,
        starts: list[NDArray[np.float64]],
        diffs: list[NDArray[np.float64]],
        rates: list[NDArray[np.float64]],
        heights: list[float],
        out: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> DifficultyPaths:
        """Hourly arrays from the piecewise-constant epoch values."""
        start = np.array(starts).T  # (N, K)
        Dk, Hk = np.array(diffs).T, np.array(rates).T
        N, K = start.shape
        epochs = _Epochs(T, float(self.start_height), np.minimum(start, T), Dk, Hk)
        beyond = start >= T
        beyond[:, 0] = False

        def nan_if_beyond(a: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.where(beyond, np.nan, a)

        out_d, out_b = (None, None) if out is None else out
        return DifficultyPaths(
            difficulty=epochs.hourly_mean(Dk, harmonic=True, out=out_d),
            blocks_per_hour=epochs.hourly_mean(epochs.rate, out=out_b),
            subsidy_btc_per_block=epochs.subsidy(),
            epoch_start_h=nan_if_beyond(start),
            epoch_start_height=nan_if_beyond(np.broadcast_to(np.asarray(heights), (N, K))),
            epoch_difficulty=nan_if_beyond(Dk),
            epoch_hashrate_ehs=nan_if_beyond(Hk / _H_PER_EH),
            _epochs=epochs,
        )
