r"""Transaction fees per block: a mean-reverting lognormal AR(1) in hourly steps.

.. math::

    f_t = \bar f \exp(x_t - s^2/2),\qquad
    x_t = φ x_{t-1} + s\sqrt{1-φ^2}\,ε_t,\quad x_0 \sim N(0, s^2),\quad
    φ = 2^{-1/h},

so ``log f_t`` is stationary Gaussian with standard deviation ``s``, lag-one
autocorrelation ``φ`` (a shock halves every ``h`` hours) and ``E[f_t] = f̄``
exactly.  ``f_t`` is the mean fee of the blocks found in hour ``t``.  The
exponential is taken in float32 (relative error < 1e-6, see
:func:`~gridhash.risk.models._base.exp_into`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridhash.risk.models._base import (
    PathsLike,
    as_hours,
    as_path_ids,
    check_number,
    check_out,
    lognormal_ar1_into,
    phi_from_half_life,
)
from gridhash.risk.models.seeding import Stream, normal_rows

__all__ = ["FeeModel"]


@dataclass(frozen=True)
class FeeModel:
    """Lognormal AR(1) fees per block.

    Parameters
    ----------
    mean_btc_per_block : float
        ``f̄``: long-run mean fee per block.  2025 averaged 0.036 BTC/block
        (Hashlabs; ``docs/sources.md`` §6). [BTC/block]
    log_sd : float, default 0.5
        ``s``: stationary standard deviation of ``log f``.  ASSUMPTION: 2025
        monthly levels ranged from ≈0.014 to the 0.036 BTC/block average, a
        factor ≈2.5 (``docs/risk.md``). [-]
    half_life_h : float, default 72
        ``h``: hours for a deviation of ``log f`` to halve.  ASSUMPTION: fee
        spikes (mempool congestion) clear within days. [h]
    """

    mean_btc_per_block: float
    log_sd: float = 0.5
    half_life_h: float = 72.0

    def __post_init__(self) -> None:
        check_number(self.mean_btc_per_block, "FeeModel.mean_btc_per_block", gt=0, unit="BTC/block")
        check_number(self.log_sd, "FeeModel.log_sd", ge=0, le=5)
        check_number(self.half_life_h, "FeeModel.half_life_h", gt=0, unit="h")

    @property
    def phi(self) -> float:
        """Hourly autocorrelation of ``log f``: ``2**(-1/half_life_h)``. [-]"""
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
        """Fee paths.

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
            Float64 array (rows contiguous) to write the fees into; returned.

        Returns
        -------
        numpy.ndarray, shape (N, T)
            Mean fee per block found in each hour. [BTC/block]
        """
        ids = as_path_ids(paths)
        T = as_hours(hours)
        z = normal_rows(seed, Stream.FEES, key, ids, T, out=check_out(out, (len(ids), T)))
        factor = self.mean_btc_per_block * math.exp(-0.5 * self.log_sd**2)
        return lognormal_ar1_into(z, self.phi, self.log_sd, factor)
