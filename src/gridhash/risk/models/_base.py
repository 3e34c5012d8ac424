"""Shared machinery of the stochastic models: per-path random streams and checks.

Reproducibility contract
------------------------
Every model draws the random numbers of path ``p`` from its own generator,

.. code-block:: python

    np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(stream, key, p))))

where ``stream`` identifies the model family (:class:`Stream`) and ``key`` an
independent copy of it (e.g. one per offtake).  This is exactly the generator
``SeedSequence(seed).spawn`` would hand out at that spawn key, so path ``p``'s
values depend only on ``(seed, stream, key, p)``: generating paths 0..99 at
once, or 0..49 and 50..99 on two workers, gives identical arrays, and two
models never share a stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridhash.errors import InputError

#: Hours in a (365-day) year; Bitcoin and power markets trade every hour. [h/yr]
HOURS_PER_YEAR: float = 8760.0

#: What a caller may pass as the paths to generate: a count ``n`` (paths
#: ``0..n-1``), a ``range`` or a sequence/array of non-negative path ids.
PathsLike = int | range | Sequence[int] | NDArray[np.integer]


class Stream(IntEnum):
    """First element of every spawn key: one independent stream per model family."""

    BTC_PRICE = 1
    DIFFICULTY = 2
    FEES = 3
    GRID_PRICE = 4
    UNIT_OUTAGES = 5
    LINE_CUTS = 6


def fail(message: str, field: str, value: Any = ..., expected: str | None = None) -> InputError:
    """An :class:`~gridhash.errors.InputError` naming the field, value and expectation."""
    return InputError(message, field=field, value=value, expected=expected)


def check_number(
    value: Any,
    field: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    unit: str = "",
) -> float:
    """Return ``value`` as a finite float, or raise InputError naming the bound broken."""
    suffix = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise fail("not a number", field, value, f"a finite number{suffix}")
    x = float(value)
    if not math.isfinite(x):
        raise fail("not a finite number", field, value, f"a finite number{suffix}")
    for bound, ok, word in (
        (gt, lambda b: x > b, ">"),
        (ge, lambda b: x >= b, "≥"),
        (lt, lambda b: x < b, "<"),
        (le, lambda b: x <= b, "≤"),
    ):
        if bound is not None and not ok(bound):
            raise fail("out of range", field, value, f"a number {word} {bound:g}{suffix}")
    return x


def check_int(value: Any, field: str, *, ge: int = 0) -> int:
    """Return ``value`` as an int ≥ ``ge``, or raise InputError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise fail("not a whole number", field, value, f"an integer ≥ {ge}")
    if value < ge:
        raise fail("out of range", field, value, f"an integer ≥ {ge}")
    return int(value)


def check_seed(seed: Any) -> int:
    """A seed is a non-negative integer (what :class:`numpy.random.SeedSequence` takes)."""
    return check_int(seed, "seed", ge=0)


def as_path_ids(paths: PathsLike, field: str = "paths") -> NDArray[np.int64]:
    """Path ids as a 1-D int64 array: ``n`` means ``0..n-1``."""
    if isinstance(paths, bool):
        raise fail("not a path count or list of path ids", field, paths, "an int or int array")
    if isinstance(paths, int | np.integer):
        return np.arange(check_int(paths, field, ge=0), dtype=np.int64)
    arr = np.asarray(paths)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise fail(
            "path ids must be a 1-D sequence of integers",
            field,
            paths,
            "e.g. range(0, 100) or [3, 7, 9]",
        )
    ids = arr.astype(np.int64)
    if ids.size and ids.min() < 0:
        raise fail("path ids must be ≥ 0", field, int(ids.min()), "non-negative path ids")
    return ids


def as_hours(hours: Any, field: str = "hours") -> int:
    """Number of hours T from an int or anything with a length (e.g. a DatetimeIndex)."""
    if isinstance(hours, int | np.integer) and not isinstance(hours, bool):
        return check_int(hours, field, ge=1)
    if hasattr(hours, "__len__"):
        return check_int(len(hours), f"len({field})", ge=1)
    raise fail("not an hour count or index", field, hours, "an int ≥ 1 or a DatetimeIndex")


def generators(
    seed: int, stream: Stream, key: int, ids: NDArray[np.int64]
) -> list[np.random.Generator]:
    """One independent generator per path id (see the module docstring)."""
    s = check_seed(seed)
    k = check_int(key, "key", ge=0)
    return [
        np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(s, spawn_key=(int(stream), k, int(p))))
        )
        for p in ids
    ]


def standard_normals(gens: Sequence[np.random.Generator], n: int) -> NDArray[np.float64]:
    """``(len(gens), n)`` standard normal draws, row ``i`` from ``gens[i]``."""
    out = np.empty((len(gens), n))
    for i, g in enumerate(gens):
        g.standard_normal(out=out[i])
    return out


def phi_from_half_life(half_life_h: float) -> float:
    """Hourly AR(1) coefficient whose impulse response halves in ``half_life_h`` hours."""
    return 0.5 ** (1.0 / half_life_h)


def ar1_filter(e: NDArray[np.float64], phi: float) -> NDArray[np.float64]:
    """``x_t = phi·x_{t-1} + e_t`` along the last axis, with ``x_{-1} = 0``.

    Vectorised over everything but the last axis and scanned in blocks of
    ``m`` hours: inside a block starting at ``a``,
    ``x_{a+j} = phi^j (phi·x_{a-1} + Σ_{i≤j} phi^{-i} e_{a+i})`` is a cumulative
    sum, with ``m`` chosen so ``phi^{-m} ≤ 1e12`` keeps it accurate to rounding.
    The loop runs over ``T/m`` blocks, not hours
    (``m`` = 2,750 h at ``phi = 0.99``, 39 h at ``phi = 0.5``).
    """
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"phi must be in [0, 1), got {phi!r}")
    if phi == 0.0:
        return np.array(e, dtype=float)
    T = e.shape[-1]
    m = max(1, min(T, int(27.6 / -math.log(phi))))
    j = np.arange(m, dtype=float)
    up, down = phi**j, phi ** (-j)
    out = np.empty(e.shape, dtype=float)
    carry = np.zeros(e.shape[:-1])
    for a in range(0, T, m):
        w = min(m, T - a)
        c = np.cumsum(e[..., a : a + w] * down[:w], axis=-1)
        c += (phi * carry)[..., None]
        out[..., a : a + w] = c * up[:w]
        carry = out[..., a + w - 1]
    return out


def ar1_from_normals(z: NDArray[np.float64], phi: float, sd: float) -> NDArray[np.float64]:
    """Stationary Gaussian AR(1) paths along the last axis from standard normals ``z``.

    ``x_0 = sd·z_0`` and ``x_t = phi·x_{t-1} + sd·sqrt(1 - phi²)·z_t``, so every
    ``x_t`` has mean 0 and standard deviation ``sd`` and ``corr(x_t, x_{t+1}) = phi``.
    """
    e = z * (sd * math.sqrt(1.0 - phi * phi))
    e[..., 0] = sd * z[..., 0]
    return ar1_filter(e, phi)


def readonly(a: NDArray[Any]) -> NDArray[Any]:
    """Mark an array read-only (model parameters and broadcast views must not change)."""
    a.setflags(write=False)
    return a
