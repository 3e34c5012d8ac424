r"""Off-site line cuts: Poisson arrivals with random repair durations.

Two kinds of event cut lines:

* **common-mode events** (rate ``common_rate_per_year`` for the plant) take
  every line out at once — at ZNPP, a complete loss of off-site power (LOOP);
* **single-line events** (rate ``line_rate_per_year[l]`` for line ``l``) take
  one line out.

Arrivals are homogeneous Poisson processes in continuous time; an event that
starts at ``s`` hours and lasts ``d`` hours removes the line from service in
every hour it touches, hours ``floor(s) .. ceil(s + d) - 1`` (an hourly model
cannot use a line for part of an hour).  Overlapping events merge.  Events are
simulated from ``max_duration`` hours before hour 0, so outages already under
way at the start appear with the right probability (the process is stationary
from hour 0).

Durations are :class:`LogNormalDuration` (truncated at a maximum) or
:class:`EmpiricalDuration` (resampled from a list of observed durations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridhash.risk.models._base import (
    HOURS_PER_YEAR,
    PathsLike,
    as_hours,
    as_path_ids,
    check_int,
    check_number,
    check_out,
    fail,
    mask_outside_intervals,
    readonly,
)
from gridhash.risk.models.seeding import PathStreams, Stream

__all__ = ["EmpiricalDuration", "LineCutEvents", "LineCutModel", "LogNormalDuration"]


@dataclass(frozen=True)
class LogNormalDuration:
    """Lognormal repair durations truncated at ``max_h``.

    ``log d ~ N(log median_h, log_sd²)`` conditioned on ``d ≤ max_h`` (sampled
    by inverting the truncated distribution function, so no value is clipped).

    Parameters
    ----------
    median_h : float
        Median of the untruncated lognormal. [h]
    log_sd : float
        Standard deviation of ``log d``. [-]
    max_h : float
        Longest possible duration. [h]
    """

    median_h: float
    log_sd: float
    max_h: float

    def __post_init__(self) -> None:
        check_number(self.median_h, "LogNormalDuration.median_h", gt=0, unit="h")
        check_number(self.log_sd, "LogNormalDuration.log_sd", gt=0, le=10)
        check_number(self.max_h, "LogNormalDuration.max_h", gt=0, le=1e6, unit="h")

    @property
    def _cap_quantile(self) -> float:
        from scipy.special import ndtr

        return float(ndtr((math.log(self.max_h) - math.log(self.median_h)) / self.log_sd))

    @property
    def mean_h(self) -> float:
        """Mean of the truncated distribution. [h]

        ``E[d | d ≤ c] = exp(m + s²/2) Φ((log c − m − s²)/s) / Φ((log c − m)/s)``
        with ``m = log median_h``, ``s = log_sd``.
        """
        from scipy.special import ndtr

        m, s, c = math.log(self.median_h), self.log_sd, math.log(self.max_h)
        return math.exp(m + s * s / 2) * float(ndtr((c - m - s * s) / s)) / self._cap_quantile

    def quantile(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Durations at probabilities ``u`` in [0, 1) (uniforms give draws). [h]"""
        from scipy.special import ndtri

        q = np.maximum(np.asarray(u, dtype=float) * self._cap_quantile, np.finfo(float).tiny)
        return np.minimum(self.median_h * np.exp(self.log_sd * ndtri(q)), self.max_h)

    def draw(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """``n`` durations from ``rng``. [h]"""
        return self.quantile(rng.random(n))


@dataclass(frozen=True, eq=False)
class EmpiricalDuration:
    """Durations resampled with replacement from observed ones.

    Parameters
    ----------
    hours : array_like
        Observed durations, each > 0. [h]
    """

    hours: NDArray[np.float64]

    def __post_init__(self) -> None:
        h = np.atleast_1d(np.asarray(self.hours, dtype=float))
        if h.ndim != 1 or h.size == 0 or not np.all(np.isfinite(h)) or np.any(h <= 0):
            raise fail(
                "durations must be positive finite hours",
                "EmpiricalDuration.hours",
                self.hours,
                "a non-empty list of durations > 0 h",
            )
        object.__setattr__(self, "hours", readonly(h))

    @property
    def mean_h(self) -> float:
        """Mean of the observed durations. [h]"""
        return float(self.hours.mean())

    @property
    def max_h(self) -> float:
        """Longest observed duration. [h]"""
        return float(self.hours.max())

    def quantile(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Observed durations picked by ``u`` in [0, 1): each equally likely. [h]"""
        n = self.hours.size
        i = np.minimum((np.asarray(u, dtype=float) * n).astype(np.int64), n - 1)
        return self.hours[i]

    def draw(self, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
        """``n`` durations from ``rng``. [h]"""
        return self.quantile(rng.random(n))


Duration = LogNormalDuration | EmpiricalDuration


@dataclass(frozen=True, eq=False)
class LineCutEvents:
    """Every simulated event, one row each (arrays of equal length E).

    ``path`` indexes the generated paths (0..N-1, not the path ids); ``line``
    is the line cut, or -1 for a common-mode event that cuts every line.
    ``start_h`` may be negative (events that began before hour 0).
    """

    path: NDArray[np.int64]
    line: NDArray[np.int64]
    start_h: NDArray[np.float64]
    duration_h: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LineCutModel:
    """Poisson line cuts with random repair durations.

    Parameters
    ----------
    line_rate_per_year : sequence of float
        Rate of single-line cuts of each line; its length is the number of
        lines L. [1/yr]
    common_rate_per_year : float, default 0.0
        Rate of common-mode events that cut every line at once. [1/yr]
    line_duration : LogNormalDuration or EmpiricalDuration, optional
        Repair durations of single-line cuts (required if any line rate > 0).
    common_duration : LogNormalDuration or EmpiricalDuration, optional
        Durations of common-mode events (required if the common rate > 0).
    """

    line_rate_per_year: NDArray[np.float64]
    common_rate_per_year: float = 0.0
    line_duration: Duration | None = None
    common_duration: Duration | None = None

    def __post_init__(self) -> None:
        rates = np.atleast_1d(np.asarray(self.line_rate_per_year, dtype=float))
        if rates.ndim != 1 or rates.size == 0:
            raise fail(
                "needs one rate per line",
                "LineCutModel.line_rate_per_year",
                self.line_rate_per_year,
                "a non-empty 1-D list of rates per year",
            )
        bad = ~np.isfinite(rates) | (rates < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise fail(
                "out of range",
                f"LineCutModel.line_rate_per_year[{i}]",
                float(rates[i]),
                "a finite rate ≥ 0 per year",
            )
        check_number(self.common_rate_per_year, "LineCutModel.common_rate_per_year", ge=0)
        for name, rate, dur in (
            ("line_duration", rates.max(), self.line_duration),
            ("common_duration", self.common_rate_per_year, self.common_duration),
        ):
            if dur is not None and not isinstance(dur, LogNormalDuration | EmpiricalDuration):
                raise fail(
                    "not a duration distribution",
                    f"LineCutModel.{name}",
                    dur,
                    "LogNormalDuration or EmpiricalDuration",
                )
            if rate > 0 and dur is None:
                raise fail(
                    "events can happen but have no duration distribution",
                    f"LineCutModel.{name}",
                    None,
                    "LogNormalDuration(...) or EmpiricalDuration(...)",
                )
        object.__setattr__(self, "line_rate_per_year", readonly(rates))

    @classmethod
    def uniform(
        cls,
        n_lines: int,
        *,
        line_rate_per_year: float = 0.0,
        common_rate_per_year: float = 0.0,
        line_duration: Duration | None = None,
        common_duration: Duration | None = None,
    ) -> LineCutModel:
        """The same single-line rate for each of ``n_lines`` lines."""
        n = check_int(n_lines, "LineCutModel.n_lines", ge=1)
        rate = check_number(line_rate_per_year, "LineCutModel.line_rate_per_year", ge=0)
        return cls(np.full(n, rate), common_rate_per_year, line_duration, common_duration)

    @property
    def n_lines(self) -> int:
        """Number of lines L. [-]"""
        return int(self.line_rate_per_year.size)

    @property
    def warmup_h(self) -> float:
        """Hours simulated before hour 0: the longest possible duration. [h]"""
        longest = [d.max_h for d in (self.line_duration, self.common_duration) if d is not None]
        return max(longest, default=0.0)

    def sample_events(
        self, paths: PathsLike, hours: Any, seed: int, *, key: int = 0
    ) -> LineCutEvents:
        """The events behind :meth:`sample` (same arguments)."""
        ids = as_path_ids(paths)
        T = as_hours(hours)
        W = self.warmup_h
        span = T + W
        L = self.n_lines
        per_hour = np.concatenate(([self.common_rate_per_year], self.line_rate_per_year))
        expected = per_hour / HOURS_PER_YEAR * span
        # Per path: the event counts, then 2n uniforms (n start times, n durations).
        N = len(ids)
        counts = np.empty((N, L + 1), dtype=np.int64)
        draws: list[NDArray[np.float64]] = []
        # A few rates are drawn one by one (the same numbers as one call with
        # the array, without its broadcasting overhead).
        rates = expected.tolist() if expected.size <= 16 else None
        for i, g in enumerate(PathStreams(seed, Stream.LINE_CUTS, key, ids)):
            if rates is not None:
                row = [g.poisson(lam) for lam in rates]
                counts[i] = row
                total = sum(row)
            else:
                counts[i] = g.poisson(expected)
                total = int(counts[i].sum())
            draws.append(g.random(2 * total))
        n = counts.sum(axis=1)
        path = np.repeat(np.arange(N, dtype=np.int64), n)
        line = np.repeat(np.tile(np.arange(-1, L, dtype=np.int64), N), counts.ravel())
        u = np.concatenate(draws) if draws else np.zeros(0)
        first = np.concatenate(([0], np.cumsum(n)[:-1])) if N else np.zeros(0, dtype=np.int64)
        pos = 2 * first[path] + (np.arange(path.size) - first[path])  # start uniform's index
        start = u[pos] * span - W
        dur = np.zeros(path.size)
        common = line < 0
        if self.common_duration is not None and common.any():
            dur[common] = self.common_duration.quantile(u[(pos + n[path])[common]])
        if self.line_duration is not None and (~common).any():
            dur[~common] = self.line_duration.quantile(u[(pos + n[path])[~common]])
        return LineCutEvents(path=path, line=line, start_h=start, duration_h=dur)

    def sample(
        self,
        paths: PathsLike,
        hours: Any,
        seed: int,
        *,
        key: int = 0,
        out: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """In-service masks.

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
        out : numpy.ndarray of bool, shape (N, L, T), optional
            Array to write the masks into; returned.

        Returns
        -------
        numpy.ndarray of bool, shape (N, L, T)
            True where the line is in service, False where it is cut.
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        check_out(out, (len(ids), self.n_lines, T), bool)
        return self.mask(self.sample_events(ids, T, seed, key=key), len(ids), T, out)

    def mask(
        self,
        events: LineCutEvents,
        n_paths: int,
        hours: int,
        out: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """In-service masks ``(n_paths, L, hours)`` from an event table (into ``out``)."""
        N, L, T = n_paths, self.n_lines, hours
        first = np.clip(np.floor(events.start_h), 0, T).astype(np.int64)
        last = np.clip(np.ceil(events.start_h + events.duration_h), 0, T).astype(np.int64)
        path, line = events.path, events.line
        # A common-mode event is one interval on every line.
        common = line < 0
        n_common = int(common.sum())
        path = np.concatenate((path[~common], np.repeat(path[common], L)))
        line = np.concatenate((line[~common], np.tile(np.arange(L), n_common)))
        first = np.concatenate((first[~common], np.repeat(first[common], L)))
        last = np.concatenate((last[~common], np.repeat(last[common], L)))
        if out is not None:
            return mask_outside_intervals(path * L + line, first, last, N * L, T, out)
        return mask_outside_intervals(path * L + line, first, last, N * L, T).reshape(N, L, T)
