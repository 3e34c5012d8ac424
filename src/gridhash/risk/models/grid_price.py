r"""Grid (offtake) prices: a shaped lognormal AR(1), or a block bootstrap of history.

Shaped AR(1) (:class:`GridPriceAR1`)
------------------------------------
.. math::

    p_t = \operatorname{clip}\big(b_t \exp(x_t - s^2/2),\ \text{floor},\ \text{cap}_t\big),

with ``b_t`` a deterministic baseline carrying the seasonal, daily and weekly
shape (e.g. the scenario's ``profile`` generator without its noise, via
:meth:`GridPriceAR1.from_profile`, which reuses
:func:`gridhash.scenario.series.profile`), and ``x_t`` a stationary Gaussian
AR(1) with standard deviation ``s`` and half-life ``h`` hours, so before
clipping ``E[p_t] = b_t``.  Shocks persist (a cold spell, a damaged plant) rather
than flicker hour to hour as the profile's i.i.d. noise does.  The cap may vary
by hour, e.g. Ukraine's NEURC day-ahead caps (:func:`ukraine_dam_cap_usd_per_mwh`).

Bootstrap (:class:`GridPriceBootstrap`)
---------------------------------------
Blocks of ``block_h`` consecutive hours of a user's hourly price history are
drawn so that each block starts at the same position in the ``align_h``-hour
cycle (hour of the week for 168, hour of the day for 24, counted in UTC) as
the hour it fills, and optionally within ``season_window_days`` of the same day
of the year.  Daily and weekly shapes, and their co-movement with the season,
survive the resampling.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridhash.risk.models._base import (
    PathsLike,
    as_hours,
    as_path_ids,
    check_int,
    check_number,
    check_out,
    fail,
    lognormal_ar1_into,
    phi_from_half_life,
    readonly,
)
from gridhash.risk.models.seeding import PathStreams, Stream, normal_rows

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.models import ProfileSeries

__all__ = [
    "NEURC_DAM_MAX_UAH_PER_MWH_FROM_2026_03_31",
    "NEURC_DAM_MIN_UAH_PER_MWH",
    "GridPriceAR1",
    "GridPriceBootstrap",
    "ukraine_dam_cap_usd_per_mwh",
]

#: NEURC day-ahead market price caps by local (Kyiv) hour from 2026-03-31
#: (NEURC Resolution No. 70 of 2026-01-16, via radnuk.com.ua; docs/sources.md
#: §2.1): 00–07 and 11–17 5,600; 07–11 and 23–24 6,900; 17–23 15,000. [UAH/MWh]
NEURC_DAM_MAX_UAH_PER_MWH_FROM_2026_03_31: tuple[float, ...] = (
    (5600.0,) * 7 + (6900.0,) * 4 + (5600.0,) * 6 + (15000.0,) * 6 + (6900.0,)
)
#: NEURC minimum DAM price (same sources). [UAH/MWh]
NEURC_DAM_MIN_UAH_PER_MWH: float = 10.0

_MONDAY = np.datetime64("1970-01-05T00:00", "h")


def _cycle_position(index: pd.DatetimeIndex, period_h: int) -> NDArray[np.int64]:
    """Hours since Monday 1970-01-05 00:00 UTC, modulo ``period_h``."""
    hours = index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[h]")
    return ((hours - _MONDAY).astype(np.int64)) % period_h


def ukraine_dam_cap_usd_per_mwh(
    index: pd.DatetimeIndex, *, uah_per_usd: float = 44.0, utc_offset_hours: float = 2.0
) -> NDArray[np.float64]:
    """NEURC day-ahead price cap in each hour of ``index``, in USD.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Hours (tz-aware, or naive UTC).
    uah_per_usd : float, default 44.0
        Exchange rate; 44 is the scenario's ASSUMPTION between the NBU rate of
        ≈42 (Oct 2025) and the 2026 budget's 45.7 (docs/sources.md §2.2). [UAH/USD]
    utc_offset_hours : float, default 2.0
        Kyiv's offset from UTC (2 in winter, 3 in summer time). [h]

    Returns
    -------
    numpy.ndarray, shape (T,)
        Cap by hour from :data:`NEURC_DAM_MAX_UAH_PER_MWH_FROM_2026_03_31`. [USD/MWh]
    """
    import pandas as pd

    fx = check_number(uah_per_usd, "uah_per_usd", gt=0, unit="UAH/USD")
    idx = index if index.tz is not None else index.tz_localize("UTC")
    local = idx.tz_convert("UTC") + pd.Timedelta(minutes=round(utc_offset_hours * 60))
    caps = np.asarray(NEURC_DAM_MAX_UAH_PER_MWH_FROM_2026_03_31)
    return caps[np.asarray(local.hour)] / fx


def _bounds(
    floor: float | None, cap: float | ArrayLike | None, name: str
) -> tuple[float | None, NDArray[np.float64] | None]:
    lo = None if floor is None else check_number(floor, f"{name}.floor_usd_per_mwh")
    if cap is None:
        return lo, None
    c = np.asarray(cap, dtype=float)
    if c.ndim > 1 or not np.all(np.isfinite(c)):
        raise fail("not a finite number or 1-D series", f"{name}.cap_usd_per_mwh", cap, "USD/MWh")
    if lo is not None and np.any(c < lo):
        raise fail(
            "cap below the floor",
            f"{name}.cap_usd_per_mwh",
            float(c.min()),
            f"≥ floor_usd_per_mwh ({lo:g})",
        )
    return lo, readonly(c)


def _clip(
    p: NDArray[np.float64], lo: float | None, cap: NDArray[np.float64] | None, T: int, name: str
) -> NDArray[np.float64]:
    if cap is not None and cap.ndim == 1 and cap.size != T:
        raise fail(
            "the hourly cap has the wrong length",
            f"{name}.cap_usd_per_mwh",
            cap.size,
            f"{T} values (one per hour) or a number",
        )
    if lo is None and cap is None:
        return p
    return np.clip(p, lo, cap, out=p)


#: Noise-free profile shapes of recent ``(spec, index)`` pairs, oldest first:
#: ``(spec, id(index))`` → ``(weak reference to the index, baseline)``.
_PROFILE_CACHE: dict[tuple[Any, int], tuple[Any, NDArray[np.float64]]] = {}
_PROFILE_CACHE_SIZE = 8
_PROFILE_LOCK = threading.Lock()


def _profile_baseline(spec: ProfileSeries, index: pd.DatetimeIndex) -> NDArray[np.float64]:
    """``max(profile without noise, min or max, 0)`` on ``index`` (read-only, cached).

    Specs are frozen (hashable) and a DatetimeIndex is immutable, so a shape
    computed for the same spec and the same index object (checked through a
    weak reference, so a new index at a recycled address is not mistaken for
    it) is still right.
    """
    from gridhash.scenario.series import profile

    key = (spec, id(index))
    with _PROFILE_LOCK:
        hit = _PROFILE_CACHE.get(key)
    if hit is not None and hit[0]() is index:
        return hit[1]
    shape = profile(spec.model_copy(update={"noise": 0.0, "min": None, "max": None}), index)
    baseline = readonly(np.maximum(shape, 0.0))
    with _PROFILE_LOCK:
        _PROFILE_CACHE.pop(key, None)
        while len(_PROFILE_CACHE) >= _PROFILE_CACHE_SIZE:
            del _PROFILE_CACHE[next(iter(_PROFILE_CACHE))]
        _PROFILE_CACHE[key] = (weakref.ref(index), baseline)
    return baseline


@dataclass(frozen=True, eq=False)
class GridPriceAR1:
    """Baseline shape times a mean-one lognormal AR(1), clipped to floor and cap.

    Parameters
    ----------
    baseline_usd_per_mwh : array_like, shape (T,)
        Deterministic price shape, each ≥ 0. [USD/MWh]
    log_sd : float, default 0.2
        ``s``: stationary standard deviation of the log multiplier.
        ASSUMPTION (docs/risk.md). [-]
    half_life_h : float, default 48
        ``h``: hours for a log deviation to halve. ASSUMPTION. [h]
    floor_usd_per_mwh : float or None
        Lowest price. [USD/MWh]
    cap_usd_per_mwh : float or array_like of shape (T,) or None
        Highest price, a number or one per hour. [USD/MWh]
    """

    baseline_usd_per_mwh: NDArray[np.float64]
    log_sd: float = 0.2
    half_life_h: float = 48.0
    floor_usd_per_mwh: float | None = None
    cap_usd_per_mwh: float | NDArray[np.float64] | None = None
    _lo: float | None = field(init=False, repr=False)
    _cap: NDArray[np.float64] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        b = np.asarray(self.baseline_usd_per_mwh, dtype=float)
        if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)) or np.any(b < 0):
            raise fail(
                "the baseline must be finite and ≥ 0 every hour",
                "GridPriceAR1.baseline_usd_per_mwh",
                b.shape if b.ndim != 1 else float(b[~np.isfinite(b) | (b < 0)][0]),
                "a 1-D series of prices ≥ 0 USD/MWh",
            )
        check_number(self.log_sd, "GridPriceAR1.log_sd", ge=0, le=5)
        check_number(self.half_life_h, "GridPriceAR1.half_life_h", gt=0, unit="h")
        lo, cap = _bounds(self.floor_usd_per_mwh, self.cap_usd_per_mwh, "GridPriceAR1")
        if cap is not None and cap.ndim == 1 and cap.size != b.size:
            raise fail(
                "the hourly cap has the wrong length",
                "GridPriceAR1.cap_usd_per_mwh",
                cap.size,
                f"{b.size} values (one per hour of the baseline) or a number",
            )
        object.__setattr__(self, "baseline_usd_per_mwh", readonly(b.copy()))
        object.__setattr__(self, "_lo", lo)
        object.__setattr__(self, "_cap", cap)

    @classmethod
    def from_profile(
        cls,
        spec: ProfileSeries,
        index: pd.DatetimeIndex,
        *,
        log_sd: float = 0.2,
        half_life_h: float = 48.0,
        floor_usd_per_mwh: float | None = None,
        cap_usd_per_mwh: float | ArrayLike | None = None,
    ) -> GridPriceAR1:
        """Baseline from a scenario ``profile`` generator, without its i.i.d. noise.

        The profile's ``min``/``max`` become the floor and cap unless given.
        The baseline is remembered for the last few ``(spec, index)`` pairs, so
        the chunks of one run evaluate the profile once.
        """
        return cls(
            baseline_usd_per_mwh=_profile_baseline(spec, index),
            log_sd=log_sd,
            half_life_h=half_life_h,
            floor_usd_per_mwh=spec.min if floor_usd_per_mwh is None else floor_usd_per_mwh,
            cap_usd_per_mwh=spec.max if cap_usd_per_mwh is None else cap_usd_per_mwh,
        )

    @property
    def phi(self) -> float:
        """Hourly autocorrelation of the log multiplier. [-]"""
        return phi_from_half_life(self.half_life_h)

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
            Number of hours T; must equal the baseline's length.
        seed : int
            Master seed; path ``p`` depends only on ``(seed, key, p)``.
        key : int, default 0
            Sub-stream: use one per offtake.
        out : numpy.ndarray, shape (N, T), optional
            Float64 array to write the prices into (rows contiguous, e.g. one
            offtake of an ``(N, O, T)`` array); returned.

        Returns
        -------
        numpy.ndarray, shape (N, T)
            Prices. [USD/MWh]
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        if self.baseline_usd_per_mwh.size != T:
            raise fail(
                "the horizon and the baseline differ in length",
                "hours",
                T,
                f"{self.baseline_usd_per_mwh.size} hours (the baseline's length)",
            )
        z = normal_rows(seed, Stream.GRID_PRICE, key, ids, T, out=check_out(out, (len(ids), T)))
        factor = self.baseline_usd_per_mwh * math.exp(-0.5 * self.log_sd**2)
        p = lognormal_ar1_into(z, self.phi, self.log_sd, factor)
        return _clip(p, self._lo, self._cap, T, "GridPriceAR1")


@dataclass(frozen=True, eq=False)
class GridPriceBootstrap:
    """Calendar-aligned block bootstrap of an hourly price history.

    Parameters
    ----------
    history : pandas.Series
        Prices with a regular DatetimeIndex (naive stamps are UTC) at one hour
        or a fraction of an hour (averaged to hours); no gaps. [USD/MWh]
    block_h : int, default 168
        Block length; a multiple of ``align_h``. [h]
    align_h : int, default 168
        Cycle a block start must match: 168 (hour of week), 24 (hour of day)
        or 1 (none). [h]
    season_window_days : float or None, default None
        If given, blocks start within this many days of the same day of the
        year (the history should then span at least a year). [day]
    floor_usd_per_mwh : float or None
        Lowest price. [USD/MWh]
    cap_usd_per_mwh : float or array_like of shape (T,) or None
        Highest price, a number or one per generated hour. [USD/MWh]
    """

    history: pd.Series
    block_h: int = 168
    align_h: int = 168
    season_window_days: float | None = None
    floor_usd_per_mwh: float | None = None
    cap_usd_per_mwh: float | NDArray[np.float64] | None = None
    _values: NDArray[np.float64] = field(init=False, repr=False)
    _phase: NDArray[np.int64] = field(init=False, repr=False)
    _doy: NDArray[np.float64] = field(init=False, repr=False)
    _lo: float | None = field(init=False, repr=False)
    _cap: NDArray[np.float64] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import pandas as pd

        name = "GridPriceBootstrap"
        h = self.history
        if not isinstance(h, pd.Series) or not isinstance(h.index, pd.DatetimeIndex):
            raise fail(
                "the history needs timestamps",
                f"{name}.history",
                type(h).__name__,
                "a pandas Series with a DatetimeIndex",
            )
        block = check_int(self.block_h, f"{name}.block_h", ge=1)
        align = check_int(self.align_h, f"{name}.align_h", ge=1)
        if block % align:
            raise fail("not a multiple of align_h", f"{name}.block_h", block, f"k × {align} hours")
        if self.season_window_days is not None:
            check_number(self.season_window_days, f"{name}.season_window_days", ge=0, le=183)
        idx = h.index if h.index.tz is not None else h.index.tz_localize("UTC")
        s = pd.Series(h.to_numpy(dtype=float), index=idx.tz_convert("UTC")).sort_index()
        steps = np.diff(s.index.to_numpy()) / np.timedelta64(1, "s")
        if len(s) < 2 or np.any(steps != steps[0]) or steps[0] <= 0 or 3600.0 % steps[0]:
            raise fail(
                "the history is not at a regular step that divides the hour",
                f"{name}.history",
                f"{len(s)} values",
                "hourly (or 15/30-minute) stamps without gaps",
            )
        if steps[0] != 3600.0:
            s = s.resample("h").mean()
        if not np.all(np.isfinite(s.to_numpy())):
            raise fail("the history has missing values", f"{name}.history", "NaN", "no gaps")
        if len(s) < block:
            raise fail(
                "the history is shorter than one block",
                f"{name}.history",
                f"{len(s)} h",
                f"at least block_h = {block} hours",
            )
        lo, cap = _bounds(self.floor_usd_per_mwh, self.cap_usd_per_mwh, name)
        object.__setattr__(self, "_values", readonly(s.to_numpy(dtype=float)))
        object.__setattr__(self, "_phase", readonly(_cycle_position(s.index, align)))
        doy = s.index.day_of_year.to_numpy() - 1 + s.index.hour.to_numpy() / 24.0
        object.__setattr__(self, "_doy", readonly(doy.astype(float)))
        object.__setattr__(self, "_lo", lo)
        object.__setattr__(self, "_cap", cap)

    def _candidates(self, index: pd.DatetimeIndex) -> list[NDArray[np.int64]]:
        """History positions each target block may start at."""
        import pandas as pd

        n, L = self._values.size, self.block_h
        T = len(index)
        starts = index[0] + pd.to_timedelta(np.arange(0, T, L), unit="h")
        phases = _cycle_position(pd.DatetimeIndex(starts), self.align_h)
        doys = starts.day_of_year.to_numpy() - 1 + starts.hour.to_numpy() / 24.0
        valid = np.arange(n - L + 1)
        out = []
        for ph, day in zip(phases, doys, strict=True):
            ok = self._phase[valid] == ph
            if self.season_window_days is not None:
                gap = np.abs(self._doy[valid] - day)
                ok &= np.minimum(gap, 365.25 - gap) <= self.season_window_days
            c = valid[ok]
            if c.size == 0:
                raise fail(
                    "no block of the history matches the hour of the cycle"
                    + (" and season" if self.season_window_days is not None else ""),
                    "GridPriceBootstrap.history",
                    f"{n} h",
                    "a longer history, or a smaller align_h / wider season_window_days",
                )
            out.append(c)
        return out

    def sample(
        self, paths: PathsLike, index: pd.DatetimeIndex, seed: int, *, key: int = 0
    ) -> NDArray[np.float64]:
        """Price paths.

        Parameters
        ----------
        paths : int or array_like of int
            ``n`` for paths ``0..n-1``, or the path ids to generate.
        index : pandas.DatetimeIndex
            The hours to fill (their calendar positions select the blocks).
        seed : int
            Master seed; path ``p`` depends only on ``(seed, key, p)``.
        key : int, default 0
            Sub-stream: use one per offtake.

        Returns
        -------
        numpy.ndarray, shape (N, T)
            Prices. [USD/MWh]
        """
        import pandas as pd

        if not isinstance(index, pd.DatetimeIndex):
            raise fail(
                "the bootstrap needs calendar hours",
                "index",
                type(index).__name__,
                "a DatetimeIndex",
            )
        ids = as_path_ids(paths)
        T = as_hours(index, "index")
        idx = index if index.tz is not None else index.tz_localize("UTC")
        cands = self._candidates(idx)
        B = len(cands)
        u = np.empty((len(ids), B))
        for i, g in enumerate(PathStreams(seed, Stream.GRID_PRICE, key, ids)):
            g.random(out=u[i])
        starts = np.empty((len(ids), B), dtype=np.int64)
        for b, c in enumerate(cands):
            starts[:, b] = c[np.minimum((u[:, b] * c.size).astype(np.int64), c.size - 1)]
        pos = (starts[:, :, None] + np.arange(self.block_h)).reshape(len(ids), -1)[:, :T]
        return _clip(self._values[pos], self._lo, self._cap, T, "GridPriceBootstrap")
