r"""Forced outages of generating units: a two-state Markov chain per unit, hourly.

Each unit is *up* or *down* in every hour.  An up unit fails during the next
hour with probability ``λ = 1/MTTF`` and a down unit is repaired with
probability ``μ = 1/MTTR``, independently of the past and of the other units.
Up and down spells are therefore geometric with means MTTF and MTTR hours,
and the stationary availability is

.. math:: A = \frac{μ}{λ + μ} = \frac{\text{MTTF}}{\text{MTTF} + \text{MTTR}}.

Hour 0 is drawn from the stationary law (up with probability ``A``), so every
hour of every path is up with probability ``A``.  Rather than step through the
hours, the sampler draws each unit's alternating spell lengths at once
(geometric variates, by inversion of uniforms), vectorised over paths and
units, and writes the mask as runs of up and down hours.

The result multiplies a unit's available capacity: forced outages come on top
of the scenario's planned outages and deratings (``Inputs.unit_available_mw``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    geometric_from_uniforms,
    readonly,
    runs_mask,
)
from gridhash.risk.models.seeding import Stream, uniform_rows

__all__ = ["DEFAULT_MTTF_H", "DEFAULT_MTTR_H", "UnitOutageModel"]

#: ASSUMPTION: two forced outages per unit-year (8,760 h / 2), for VVER-1000 units
#: returning from years of cold shutdown; no VVER-specific figure was found. [h]
DEFAULT_MTTF_H: float = 4380.0
#: ASSUMPTION: one week to diagnose, repair and return to power. [h]
DEFAULT_MTTR_H: float = 168.0


def _hours_array(values: ArrayLike, field: str) -> NDArray[np.float64]:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise fail("needs one value per unit", field, values, "a non-empty 1-D list of hours")
    bad = ~np.isfinite(arr) | (arr < 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(
            f"unit {i}: out of range", f"{field}[{i}]", float(arr[i]), "a finite number ≥ 1 h"
        )
    return readonly(arr)


@dataclass(frozen=True, eq=False)
class UnitOutageModel:
    """Independent two-state Markov chains, one per unit.

    Parameters
    ----------
    mttf_h : sequence of float
        Mean time to failure of each unit: mean length of an up spell;
        ``λ = 1/mttf_h`` is the hourly failure probability. [h], each ≥ 1
    mttr_h : sequence of float
        Mean time to repair of each unit: mean length of a down spell;
        ``μ = 1/mttr_h``. [h], each ≥ 1
    """

    mttf_h: NDArray[np.float64]
    mttr_h: NDArray[np.float64]

    def __post_init__(self) -> None:
        f = _hours_array(self.mttf_h, "UnitOutageModel.mttf_h")
        r = _hours_array(self.mttr_h, "UnitOutageModel.mttr_h")
        if f.shape != r.shape:
            raise fail(
                "mttf_h and mttr_h have different lengths",
                "UnitOutageModel.mttr_h",
                r.size,
                f"{f.size} values, one per unit",
            )
        object.__setattr__(self, "mttf_h", f)
        object.__setattr__(self, "mttr_h", r)

    @classmethod
    def uniform(
        cls, n_units: int, mttf_h: float = DEFAULT_MTTF_H, mttr_h: float = DEFAULT_MTTR_H
    ) -> UnitOutageModel:
        """The same MTTF and MTTR for ``n_units`` units."""
        n = check_int(n_units, "UnitOutageModel.n_units", ge=1)
        check_number(mttf_h, "UnitOutageModel.mttf_h", ge=1, unit="h")
        check_number(mttr_h, "UnitOutageModel.mttr_h", ge=1, unit="h")
        return cls(np.full(n, float(mttf_h)), np.full(n, float(mttr_h)))

    @classmethod
    def from_rates(
        cls, failure_per_h: Sequence[float] | ArrayLike, repair_per_h: Sequence[float] | ArrayLike
    ) -> UnitOutageModel:
        """From hourly failure and repair probabilities ``λ`` and ``μ`` in (0, 1]."""
        lam = np.atleast_1d(np.asarray(failure_per_h, dtype=float))
        mu = np.atleast_1d(np.asarray(repair_per_h, dtype=float))
        for name, v in (("failure_per_h", lam), ("repair_per_h", mu)):
            bad = ~np.isfinite(v) | (v <= 0) | (v > 1)
            if bad.any():
                i = int(np.argmax(bad))
                raise fail(
                    "out of range",
                    f"UnitOutageModel.{name}[{i}]",
                    float(v[i]),
                    "a probability per hour in (0, 1]",
                )
        return cls(1.0 / lam, 1.0 / mu)

    @property
    def n_units(self) -> int:
        """Number of units U. [-]"""
        return int(self.mttf_h.size)

    @property
    def failure_per_h(self) -> NDArray[np.float64]:
        """``λ``: hourly failure probability of an up unit, shape (U,). [1/h]"""
        return 1.0 / self.mttf_h

    @property
    def repair_per_h(self) -> NDArray[np.float64]:
        """``μ``: hourly repair probability of a down unit, shape (U,). [1/h]"""
        return 1.0 / self.mttr_h

    @property
    def availability(self) -> NDArray[np.float64]:
        """Stationary availability ``μ/(λ+μ)``, shape (U,). [-]"""
        lam, mu = self.failure_per_h, self.repair_per_h
        return mu / (lam + mu)

    def sample(
        self,
        paths: PathsLike,
        hours: Any,
        seed: int,
        *,
        key: int = 0,
        out: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.bool_]:
        """Availability multipliers.

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
        out : numpy.ndarray of bool, shape (N, U, T), optional
            Array to write the multipliers into; returned.

        Returns
        -------
        numpy.ndarray of bool, shape (N, U, T)
            True where the unit is up (a multiplier of 1), False in a forced
            outage (0).
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        U = self.n_units
        N = len(ids)
        check_out(out, (N, U, T), bool)
        # Pairs of spells per unit in one draw: enough to cover T hours with
        # overwhelming probability.  A path that falls short draws more from
        # its own stream, so no path depends on the batch.
        pairs = _pairs_per_draw(T, float((self.mttf_h + self.mttr_h).min()))
        values = np.empty((N, U, 2 * pairs), dtype=bool)
        lengths = np.empty((N, U, 2 * pairs), dtype=np.int64)
        todo, rounds = np.arange(N), 1
        while todo.size:
            v, n, covered = self._spells(seed, key, ids[todo], T, pairs, rounds)
            done = covered.all(axis=1)
            keep = todo[done]
            if keep.size:
                values = _widen(values, v.shape[2], True)  # zero-length runs pad harmlessly
                lengths = _widen(lengths, n.shape[2], 0)
                values[keep, :, : v.shape[2]] = v[done]
                lengths[keep, :, : n.shape[2]] = n[done]
            todo, rounds = todo[~done], 2 * rounds
        if out is not None:
            return runs_mask(values, lengths, N * U, T, out)
        return runs_mask(values, lengths, N * U, T).reshape(N, U, T)

    def _spells(
        self, seed: int, key: int, ids: NDArray[np.int64], T: int, pairs: int, rounds: int
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.bool_]]:
        """States and lengths of each unit's spells clipped to T, and whether they reach T.

        Path ``p`` uses the first ``U·(1 + 2·pairs·rounds)`` uniforms of its
        stream: ``U`` for the states in hour 0, then round after round
        ``2·pairs`` geometric spell lengths per unit (by inversion), alternately
        leaving the initial state and returning to it.  More rounds only
        append spells, so a path's first spells never change.
        """
        U, n = self.n_units, len(ids)
        width = 2 * pairs * rounds
        u = uniform_rows(seed, Stream.UNIT_OUTAGES, key, ids, U * (1 + width))
        up0 = u[:, :U] < self.availability
        state_up = up0[:, :, None] ^ (np.arange(width) % 2 == 1)  # (n, U, width)
        with np.errstate(divide="ignore"):  # log(1 - 1) = -inf: spells of one hour
            fail_, repair = np.log1p(-self.failure_per_h), np.log1p(-self.repair_per_h)
        log1m = np.where(state_up, fail_[:, None], repair[:, None])
        draws = u[:, U:].reshape(n, rounds, U, 2 * pairs).transpose(0, 2, 1, 3)
        spell = geometric_from_uniforms(draws.reshape(n, U, width), log1m, T + 1)
        end = np.minimum(np.cumsum(spell, axis=2), T)
        lengths = np.diff(end, axis=2, prepend=0)
        return state_up, lengths, end[:, :, -1] >= T


def _pairs_per_draw(T: int, shortest_cycle_h: float) -> int:
    """Up/down spell pairs per unit in one draw for a horizon of ``T`` hours."""
    cycles = T / shortest_cycle_h
    return math.ceil(1.2 * cycles + 6.0 * math.sqrt(cycles) + 4.0)


def _widen(a: NDArray[Any], width: int, fill: Any) -> NDArray[Any]:
    """``a`` with its last axis padded to ``width`` with ``fill``."""
    if a.shape[-1] >= width:
        return a
    out = np.full((*a.shape[:-1], width), fill, dtype=a.dtype)
    out[..., : a.shape[-1]] = a
    return out
