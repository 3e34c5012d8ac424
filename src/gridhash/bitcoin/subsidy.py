r"""Bitcoin block subsidy schedule and its expected value over hours.

The block subsidy is set by a consensus rule, not by the market.  Bitcoin Core
computes it in ``GetBlockSubsidy`` (``src/validation.cpp``)::

    halvings = height / nSubsidyHalvingInterval        # integer division
    if halvings >= 64: return 0                        # shift would be undefined
    return (50 * COIN) >> halvings

with ``nSubsidyHalvingInterval = 210000`` and ``COIN = 100000000`` satoshi.
Because the right shift drops fractions of a satoshi, the subsidy is exactly
zero from the 33rd halving on (``5e9 >> 33 == 0`` since ``5e9 < 2**33``), i.e.
from height 6,930,000.  Summing ``210000 * (5e9 >> n)`` over the eras
``n = 0..32`` gives the well-known total supply of 20,999,999.9769 BTC.

Blocks are found, on average, every 10 minutes (``BLOCKS_PER_HOUR = 6``): the
difficulty retargets every 2016 blocks towards that spacing
(``nPowTargetSpacing = 10 * 60`` s in ``src/kernel/chainparams.cpp``).

Expected subsidy per hour
-------------------------
For planning, blocks are assumed to arrive at a constant rate ``b`` blocks per
hour starting at height ``h0``: the *expected height* at time ``t`` hours is
``x(t) = h0 + b t``.  The subsidy is a piecewise-constant function ``s(x)`` of the
continuous expected height (``s(x) = subsidy(floor(x))``), so the mean subsidy of
the blocks found during hour ``t`` is

.. math::

    \bar s_t = \frac{1}{b} \int_{h_0 + t b}^{h_0 + (t + 1) b} s(x)\,dx
              = \frac{F(h_0 + (t+1) b) - F(h_0 + t b)}{b},

where ``F(x) = \int_0^x s(u) du`` is available in closed form: with era
``e = floor(x / 210000)``, ``F(x) = C_e + (x - 210000 e) S_e``, ``S_e`` the
era's subsidy and ``C_e = 210000 \sum_{k<e} S_k`` the exact cumulative issuance
before the era.  When ``b`` is an integer, the hour covers exactly the block
heights ``h0 + t b, ..., h0 + (t+1) b - 1`` and the mean is the exact
arithmetic mean of their subsidies (a halving inside an hour is weighted
correctly); for fractional ``b`` the fractional block at either edge is
weighted by the fraction of it that falls in the hour.

References
----------
.. [1] S. Nakamoto, "Bitcoin: A Peer-to-Peer Electronic Cash System", 2008,
   sections 4 (proof-of-work, "moving average targeting an average number of
   blocks per hour") and 6 (incentive). https://bitcoin.org/bitcoin.pdf
.. [2] Bitcoin Core, ``GetBlockSubsidy`` in ``src/validation.cpp`` and
   ``nSubsidyHalvingInterval = 210000`` / ``nPowTargetSpacing = 10 * 60`` in
   ``src/kernel/chainparams.cpp``. https://github.com/bitcoin/bitcoin
.. [3] Bitcoin Wiki, "Controlled supply" (total supply 20,999,999.9769 BTC).
   https://en.bitcoin.it/wiki/Controlled_supply
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BLOCKS_PER_HOUR",
    "HALVING_INTERVAL",
    "INITIAL_SUBSIDY_SAT",
    "MAX_HALVINGS",
    "SATOSHI_PER_BTC",
    "block_subsidy_btc",
    "block_subsidy_sat",
    "height_at_hour",
    "mean_subsidy_btc_per_block",
    "next_halving_height",
]

#: Blocks between two halvings (``nSubsidyHalvingInterval``). [blocks]
HALVING_INTERVAL: int = 210_000
#: Subsidy of the first era, 50 BTC. [sat]
INITIAL_SUBSIDY_SAT: int = 5_000_000_000
#: Satoshi in one bitcoin (``COIN``). [sat/BTC]
SATOSHI_PER_BTC: int = 100_000_000
#: Target block rate: one block every 600 s (``nPowTargetSpacing``). [blocks/h]
BLOCKS_PER_HOUR: float = 6.0
#: From this many halvings on the consensus code returns 0 outright. [-]
MAX_HALVINGS: int = 64

# Subsidy of each era 0..64 (era 64 stands for "64 or more halvings"), and the
# exact issuance before each era; both are exact integers below 2**53, so the
# float64 copies used in the integral are exact too.
_ERA_SUBSIDY_SAT = np.array(
    [INITIAL_SUBSIDY_SAT >> n for n in range(MAX_HALVINGS)] + [0], dtype=np.int64
)
_ERA_START_ISSUANCE_SAT = np.concatenate(
    ([0], np.cumsum(_ERA_SUBSIDY_SAT[:-1] * HALVING_INTERVAL))
).astype(np.int64)
_ERA_SUBSIDY_SAT.setflags(write=False)
_ERA_START_ISSUANCE_SAT.setflags(write=False)


def _as_heights(height: ArrayLike, name: str = "height") -> NDArray[np.int64]:
    """Validate block heights (non-negative whole numbers) as an int64 array."""
    arr = np.asarray(height)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be a whole number of blocks, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and (
        not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr))
    ):
        raise ValueError(f"{name} must be a whole number of blocks")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (block heights start at 0)")
    return arr.astype(np.int64)


def block_subsidy_sat(height: ArrayLike) -> NDArray[np.int64] | np.int64:
    """Block subsidy of the block at ``height``, by the consensus rule.

    ``5_000_000_000 >> (height // 210_000)``, and 0 once 64 or more halvings
    have occurred (in practice it is already 0 from height 6,930,000).

    Parameters
    ----------
    height : array_like of int
        Block height(s); must be whole numbers >= 0. [blocks]

    Returns
    -------
    subsidy : numpy.ndarray of int64 or numpy.int64
        Subsidy of each block, same shape as ``height``. [sat]

    Raises
    ------
    ValueError
        If a height is negative or not a whole number.

    References
    ----------
    .. [1] Bitcoin Core, ``GetBlockSubsidy``, ``src/validation.cpp``.
    """
    h = _as_heights(height)
    halvings = np.minimum(h // HALVING_INTERVAL, MAX_HALVINGS)
    return _ERA_SUBSIDY_SAT[halvings][()]


def block_subsidy_btc(height: ArrayLike) -> NDArray[np.float64] | np.float64:
    """Block subsidy of the block at ``height`` in bitcoin.

    Parameters
    ----------
    height : array_like of int
        Block height(s); must be whole numbers >= 0. [blocks]

    Returns
    -------
    subsidy : numpy.ndarray of float64 or numpy.float64
        Subsidy of each block, same shape as ``height``. [BTC]

    References
    ----------
    .. [1] Bitcoin Core, ``GetBlockSubsidy``, ``src/validation.cpp``.
    """
    return (np.asarray(block_subsidy_sat(height), dtype=np.float64) / SATOSHI_PER_BTC)[()]


def next_halving_height(height: ArrayLike) -> NDArray[np.int64] | np.int64:
    """Height of the first block of the next subsidy era after ``height``.

    Parameters
    ----------
    height : array_like of int
        Block height(s); must be whole numbers >= 0. [blocks]

    Returns
    -------
    next_height : numpy.ndarray of int64 or numpy.int64
        ``(height // 210_000 + 1) * 210_000``; a height that is itself a
        halving height maps to the following one. [blocks]
    """
    h = _as_heights(height)
    return ((h // HALVING_INTERVAL + 1) * HALVING_INTERVAL)[()]


def _validate_schedule(start_height: float, hours: int, blocks_per_hour: float) -> None:
    if isinstance(hours, bool) or int(hours) != hours or hours < 0:
        raise ValueError(f"hours must be a whole number >= 0, got {hours!r}")
    if not np.isscalar(start_height) or not np.isfinite(start_height) or start_height < 0:
        raise ValueError(f"start_height must be a finite scalar >= 0, got {start_height!r}")
    if not np.isscalar(blocks_per_hour) or not (
        np.isfinite(blocks_per_hour) and blocks_per_hour > 0
    ):
        raise ValueError(f"blocks_per_hour must be a finite scalar > 0, got {blocks_per_hour!r}")


def height_at_hour(
    start_height: float, hours: int, blocks_per_hour: float = BLOCKS_PER_HOUR
) -> NDArray[np.float64]:
    """Expected (continuous) block height at the start of each hour.

    Parameters
    ----------
    start_height : float
        Height of the first block found in hour 0. [blocks]
    hours : int
        Number of hours. [h]
    blocks_per_hour : float, default 6.0
        Constant expected block rate. [blocks/h]

    Returns
    -------
    height : numpy.ndarray of float64, shape (hours,)
        ``start_height + t * blocks_per_hour`` for ``t = 0 .. hours - 1``. [blocks]

    References
    ----------
    .. [1] S. Nakamoto, "Bitcoin: A Peer-to-Peer Electronic Cash System", 2008.
    """
    _validate_schedule(start_height, hours, blocks_per_hour)
    return float(start_height) + np.arange(int(hours), dtype=np.float64) * float(blocks_per_hour)


def _issuance_between_sat(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``F(b) - F(a)`` for ``a <= b``, written so no large numbers cancel. [sat]

    Within one era it is ``(b - a) * S_e``; across eras it is the tail of ``a``'s
    era, the exact integer issuance of the whole eras in between, and the head
    of ``b``'s era.
    """
    era_a = np.minimum(np.floor(a / HALVING_INTERVAL), MAX_HALVINGS).astype(np.int64)
    era_b = np.minimum(np.floor(b / HALVING_INTERVAL), MAX_HALVINGS).astype(np.int64)
    next_a = np.minimum(era_a + 1, MAX_HALVINGS)
    s_a = _ERA_SUBSIDY_SAT[era_a].astype(np.float64)
    s_b = _ERA_SUBSIDY_SAT[era_b].astype(np.float64)
    whole_eras = (_ERA_START_ISSUANCE_SAT[era_b] - _ERA_START_ISSUANCE_SAT[next_a]).astype(
        np.float64
    )
    tail_of_a = ((era_a + 1) * float(HALVING_INTERVAL) - a) * s_a
    head_of_b = (b - era_b * float(HALVING_INTERVAL)) * s_b
    return np.where(era_a == era_b, (b - a) * s_a, tail_of_a + whole_eras + head_of_b)


def mean_subsidy_btc_per_block(
    start_height: float, hours: int, blocks_per_hour: float = BLOCKS_PER_HOUR
) -> NDArray[np.float64]:
    """Mean subsidy of the blocks expected to be found in each hour.

    Blocks are found at a constant rate starting at ``start_height`` (the block
    at ``start_height`` is the first one found in hour 0).  The piecewise-constant
    subsidy is integrated exactly over the expected-height interval
    ``[start + t * bph, start + (t + 1) * bph)`` of each hour, so an hour that
    straddles a halving gets the weighted mean of its blocks.

    Parameters
    ----------
    start_height : float
        Height of the first block found in hour 0. [blocks]
    hours : int
        Number of hours. [h]
    blocks_per_hour : float, default 6.0
        Constant expected block rate. [blocks/h]

    Returns
    -------
    subsidy : numpy.ndarray of float64, shape (hours,)
        Mean subsidy per block found during each hour. [BTC/block]

    Notes
    -----
    With an integer ``blocks_per_hour`` every quantity in the integral is an
    integer below ``2**53``, so ``subsidy * blocks_per_hour`` summed over the
    hours equals the exact sum of :func:`block_subsidy_btc` over the heights.

    References
    ----------
    .. [1] Bitcoin Core, ``GetBlockSubsidy``, ``src/validation.cpp``.
    """
    _validate_schedule(start_height, hours, blocks_per_hour)
    bph = float(blocks_per_hour)
    edges = float(start_height) + np.arange(int(hours) + 1, dtype=np.float64) * bph
    start, end = edges[:-1], edges[1:]
    # Divide by the width actually integrated (equal to bph up to rounding of
    # the edges) so the result is a true weighted mean of block subsidies.
    return _issuance_between_sat(start, end) / (end - start) / SATOSHI_PER_BTC
