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
(geometric variates), and turns the switch times into a mask with an
exclusive-or scan, vectorised over paths, units and hours.

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
    Stream,
    as_hours,
    as_path_ids,
    check_int,
    check_number,
    fail,
    generators,
    readonly,
)

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

    def sample(self, paths: PathsLike, hours: Any, seed: int, *, key: int = 0) -> NDArray[np.bool_]:
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

        Returns
        -------
        numpy.ndarray of bool, shape (N, U, T)
            True where the unit is up (a multiplier of 1), False in a forced
            outage (0).
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        U = self.n_units
        lam, mu, avail = self.failure_per_h, self.repair_per_h, self.availability
        # Spell pairs per draw: enough to cover T hours with overwhelming
        # probability; a path that falls short simply draws another batch
        # from its own stream, so the result does not depend on the batch size.
        cycles = T / float((self.mttf_h + self.mttr_h).min())
        batch = math.ceil(1.2 * cycles + 6.0 * math.sqrt(cycles) + 4.0)
        gens = generators(seed, Stream.UNIT_OUTAGES, key, ids)
        up0 = np.empty((len(ids), U), dtype=bool)
        flat: list[NDArray[np.int64]] = []
        units = np.arange(U)
        for i, g in enumerate(gens):
            up = g.random(U) < avail
            up0[i] = up
            p_first = np.where(up, lam, mu)[:, None]  # leaving the initial state
            p_second = np.where(up, mu, lam)[:, None]
            spells = np.zeros((U, 0), dtype=np.int64)
            while spells.shape[1] == 0 or spells[:, -1].min() < T:
                a = g.geometric(p_first, (U, batch))
                b = g.geometric(p_second, (U, batch))
                more = np.stack((a, b), axis=2).reshape(U, 2 * batch)
                offset = spells[:, -1:] if spells.shape[1] else np.zeros((U, 1), dtype=np.int64)
                spells = np.concatenate((spells, offset + np.cumsum(more, axis=1)), axis=1)
            u_idx = np.broadcast_to(units[:, None], spells.shape)
            inside = spells < T
            flat.append((i * U + u_idx[inside]) * T + spells[inside])
        toggles = np.zeros(len(ids) * U * T, dtype=bool)
        if flat:
            toggles[np.concatenate(flat)] = True
        switched = np.logical_xor.accumulate(toggles.reshape(len(ids), U, T), axis=2)
        return switched ^ up0[:, :, None]
