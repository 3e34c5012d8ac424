"""Shared machinery of the stochastic models: argument checks, AR(1) filters,
sampling helpers and the blocks their outputs are carved from.

Each path's random streams come from :mod:`gridhash.risk.models.seeding`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridhash.errors import InputError

#: Hours in a (365-day) year; Bitcoin and power markets trade every hour. [h/yr]
HOURS_PER_YEAR: float = 8760.0

#: What a caller may pass as the paths to generate: a count ``n`` (paths
#: ``0..n-1``), a ``range`` or a sequence/array of non-negative path ids.
PathsLike = int | range | Sequence[int] | NDArray[np.integer]


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


def check_out(
    out: NDArray[Any] | None, shape: tuple[int, ...], dtype: Any = np.float64
) -> NDArray[Any] | None:
    """``out`` if it is ``None`` or an array of ``shape`` and ``dtype`` with contiguous rows."""
    if out is not None and (
        not isinstance(out, np.ndarray)
        or out.shape != shape
        or out.dtype != np.dtype(dtype)
        or (out.size and out.strides[-1] != out.itemsize)
    ):
        raise fail(
            "wrong output array",
            "out",
            getattr(out, "shape", out),
            f"{np.dtype(dtype).name}, shape {shape}, contiguous along the last axis",
        )
    return out


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


def phi_from_half_life(half_life_h: float) -> float:
    """Hourly AR(1) coefficient whose impulse response halves in ``half_life_h`` hours."""
    return 0.5 ** (1.0 / half_life_h)


#: Elements of an AR(1) tile (rows × block hours) handled per numpy call. [-]
_AR1_TILE = 131_072
#: Largest ``log(phi^{-m})`` of an AR(1) block: weights stay below 1e100. [-]
_AR1_LOG_RANGE = 230.0


@functools.lru_cache(maxsize=32)
def _ar1_weights(
    phi: float, scale: float, first: float, m: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``phi^j``, ``phi^{-j}·scale`` and the same with ``first`` at ``j = 0``, ``j < m``."""
    j = np.arange(m, dtype=float)
    weight = phi ** (-j) * scale
    weight0 = weight.copy()
    weight0[0] = first
    return readonly(phi**j), readonly(weight), readonly(weight0)


def ar1_inplace(
    x: NDArray[np.float64],
    phi: float,
    scale: float = 1.0,
    first_scale: float | None = None,
    out32: NDArray[np.float32] | None = None,
) -> NDArray[np.floating]:
    """Overwrite ``x`` (N, T) with ``y_t = phi·y_{t-1} + scale·x_t``, ``y_0 = first_scale·x_0``.

    A scaled cumulative sum in blocks of ``m`` hours: inside a block starting
    at ``a``, ``y_{a+j} = phi^j (phi·y_{a-1} + Σ_{i≤j} phi^{-i}·scale·x_{a+i})``.
    The error is that of rounding whatever ``m`` is (each partial sum is
    dominated by its latest terms, so ``phi^j`` scales its rounding error
    back down with it); ``m`` only keeps the weights ``phi^{-j}`` below 1e100,
    far from overflow: a whole year in one block for half-lives of more than
    27 h, 331 h at ``phi = 0.5``.  Rows are processed in tiles of ``~131,000``
    elements, so each block's three passes (weights, ``cumsum``, decay) run
    on data in cache, as fast as ``scipy.signal.lfilter`` without its import
    (benchmarks/README.md, "Figures behind the code"); the weights are computed
    once per ``phi``, ``scale`` and block length.  Each row is computed on its own: a path's
    values do not depend on the batch.

    With ``out32`` (float32, shape of ``x``) the result is rounded into it
    instead (``x`` is then scratch): for callers that only exponentiate it
    (:func:`exp_into` rounds to float32 anyway), one pass fewer.
    """
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"phi must be in [0, 1), got {phi!r}")
    first = scale if first_scale is None else first_scale
    N, T = x.shape
    if phi == 0.0 or T == 0:
        head = x[:, :1] * first
        x *= scale
        x[:, :1] = head
        if out32 is not None:
            out32[...] = x
            return out32
        return x
    m = max(1, min(T, int(_AR1_LOG_RANGE / -math.log(phi))))
    up, weight, weight0 = _ar1_weights(float(phi), float(scale), float(first), m)
    rows = max(1, _AR1_TILE // m)
    for r0 in range(0, N, rows):
        tile = x[r0 : r0 + rows]
        carry: NDArray[np.float64] | None = None
        for a in range(0, T, m):
            w = min(m, T - a)
            v = tile[:, a : a + w]
            v *= (weight0 if a == 0 else weight)[:w]
            if carry is not None:
                v[:, 0] += carry  # the cumulative sum carries it along the block
            np.cumsum(v, axis=1, out=v)
            carry = v[:, -1] * (up[w - 1] * phi)
            if out32 is None:
                v *= up[:w]
            else:
                np.multiply(v, up[:w], out=out32[r0 : r0 + rows, a : a + w])
    return x if out32 is None else out32


def ar1_filter(e: NDArray[np.float64], phi: float) -> NDArray[np.float64]:
    """``x_t = phi·x_{t-1} + e_t`` along the last axis, with ``x_{-1} = 0`` (a new array).

    See :func:`ar1_inplace`; any number of leading axes.
    """
    x = np.array(e, dtype=float)
    shape = x.shape
    return ar1_inplace(x.reshape(-1, shape[-1]) if x.ndim != 2 else x, phi).reshape(shape)


def ar1_from_normals(
    z: NDArray[np.float64], phi: float, sd: float, *, overwrite: bool = False
) -> NDArray[np.float64]:
    """Stationary Gaussian AR(1) paths along the last axis from standard normals ``z``.

    ``x_0 = sd·z_0`` and ``x_t = phi·x_{t-1} + sd·sqrt(1 - phi²)·z_t``, so every
    ``x_t`` has mean 0 and standard deviation ``sd`` and ``corr(x_t, x_{t+1}) = phi``.
    With ``overwrite`` a float64 ``z`` of shape (N, T) is turned into ``x`` in place.
    """
    x = z if overwrite and z.ndim == 2 and z.dtype == np.float64 else np.array(z, dtype=float)
    shape = x.shape
    flat = x.reshape(-1, shape[-1]) if x.ndim != 2 else x
    ar1_inplace(flat, phi, sd * math.sqrt(1.0 - phi * phi), sd)
    return flat.reshape(shape)


#: Exponents whose float32 ``exp`` is a normal, finite float32 (1.6e-38 to 1.7e38).
_EXP32_MIN, _EXP32_MAX = -87.0, 88.0


def exp_into(
    x: NDArray[np.floating],
    factor: float | NDArray[np.float64],
    out: NDArray[np.float64] | None = None,
    *,
    overwrite_x: bool = False,
) -> NDArray[np.float64]:
    """``factor · exp(x)`` as float64 (``out`` may be ``x``), the exponential taken in float32.

    float64 ``exp`` costs ~9 ns an element on the project's machines, float32
    ~2 ns.  ``x`` is rounded to float32 first, so the result carries a
    relative error below ``6e-8·(2 + |x|)`` (< 1e-6 for the log prices and log
    multipliers of these models, whose noise is 10⁵ times larger); ``x = 0``
    gives ``factor`` exactly.  A row (last axis) with an ``x`` outside
    [-87, 88], where float32 would overflow or lose precision, is done in
    float64, so a path's values never depend on the other rows.  With
    ``overwrite_x`` a float32 ``x`` is used as scratch space.
    """
    bad = None
    if x.size:
        ok = (x.min(axis=-1) >= _EXP32_MIN) & (x.max(axis=-1) <= _EXP32_MAX)
        if not ok.all():
            bad = ~ok
            exact = np.exp(np.asarray(x[bad], dtype=np.float64))
    in_place = overwrite_x and x.dtype == np.float32
    if bad is None:  # every exponent in range: nothing over- or underflows
        y = np.exp(x, out=x) if in_place else np.exp(x, dtype=np.float32)
    else:
        with np.errstate(over="ignore", under="ignore"):  # only in rows redone above
            y = np.exp(x, out=x) if in_place else np.exp(x, dtype=np.float32)
    result = np.multiply(y, factor, out=out, dtype=np.float64)
    if bad is not None:
        result[bad] = exact * np.broadcast_to(factor, result.shape)[bad]
    return result


def lognormal_ar1_into(
    z: NDArray[np.float64], phi: float, sd: float, factor: float | NDArray[np.float64]
) -> NDArray[np.float64]:
    """``factor · exp(x)`` for the AR(1) ``x`` of :func:`ar1_from_normals`, written over ``z``.

    ``z`` (N, T) holds standard normals and receives the result; the AR(1)
    is rounded to float32 on its last pass and exponentiated there
    (:func:`exp_into`), so the only ``(N, T)`` temporary is half-size.
    """
    x32 = np.empty(z.shape, dtype=np.float32)
    ar1_inplace(z, phi, sd * math.sqrt(1.0 - phi * phi), sd, out32=x32)
    return exp_into(x32, factor, out=z, overwrite_x=True)


def geometric_from_uniforms(
    u: NDArray[np.float64], log1m_p: NDArray[np.float64], cap: int
) -> NDArray[np.int64]:
    """Geometric variates on {1, 2, ...} by inversion, capped at ``cap``.

    ``ceil(log(1 - u) / log(1 - p))`` with ``log1m_p = log(1 - p)`` is
    geometric with success probability ``p`` when ``u`` is uniform on [0, 1)
    (``P(X ≤ n) = 1 - (1 - p)^n``); ``p = 1`` gives 1.  Values above ``cap``
    become ``cap`` (callers only need to know that a spell outlasts the horizon).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.ceil(np.log1p(-u) / log1m_p)
    np.nan_to_num(x, copy=False, nan=1.0)
    return np.clip(x, 1.0, float(cap)).astype(np.int64)


def runs_mask(
    values: NDArray[np.bool_],
    lengths: NDArray[np.int64],
    n_rows: int,
    hours: int,
    out: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """``(n_rows, hours)`` mask from runs: ``values[r, j]`` repeated ``lengths[r, j]`` times.

    Each row's lengths must add up to ``hours``.  ``np.repeat`` of booleans
    writes long runs at memset speed (~0.1 ns an hour).  With ``out`` (any
    array of ``n_rows·hours`` booleans, e.g. ``(N, U, T)``) the mask is copied
    there, row-major, and ``out`` returned.
    """
    mask = np.repeat(values.ravel(), lengths.ravel())
    if out is None:
        return mask.reshape(n_rows, hours)
    out[...] = mask.reshape(out.shape)
    return out


def mask_outside_intervals(
    rows: NDArray[np.int64],
    first: NDArray[np.int64],
    last: NDArray[np.int64],
    n_rows: int,
    hours: int,
    out: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """``(n_rows, hours)`` booleans, False in hours ``first ≤ t < last`` of each interval.

    Intervals may overlap, touch or be empty and come in any order; they are
    merged per row and the mask is written as alternating runs
    (:func:`runs_mask`), so the work is proportional to the number of
    intervals plus a memset of the output.  ``0 ≤ first`` and ``last ≤ hours``.
    With ``out`` (``n_rows·hours`` booleans, any shape) the mask is written
    there and ``out`` returned.
    """
    keep = last > first
    r, a, b = rows[keep], first[keep], last[keep]
    if r.size == 0:
        if out is None:
            return np.ones((n_rows, hours), dtype=bool)
        out.fill(True)
        return out
    width = hours + 1
    order = np.argsort(r * width + a, kind="stable")
    r, a, b = r[order], a[order], b[order]
    # Running maximum of the ends: rows are offset so they never mix.
    reach = np.maximum.accumulate(r * width + b)
    leader = np.ones(r.size, dtype=bool)
    leader[1:] = r[1:] * width + a[1:] > reach[:-1]
    lead = np.flatnonzero(leader)
    row = r[lead]
    start = a[lead]
    stop = reach[np.r_[lead[1:] - 1, r.size - 1]] - row * width
    M = lead.size
    first_in_row = np.ones(M, dtype=bool)
    first_in_row[1:] = row[1:] != row[:-1]
    last_in_row = np.ones(M, dtype=bool)
    last_in_row[:-1] = row[1:] != row[:-1]
    before = np.zeros(M, dtype=np.int64)
    before[1:] = stop[:-1]
    before[first_in_row] = 0
    row_end = np.zeros(n_rows, dtype=np.int64)
    row_end[row[last_in_row]] = stop[last_in_row]
    # Per row: (gap, cut) for each merged interval, then the final gap.
    per_row = np.cumsum(np.bincount(row, minlength=n_rows))
    pos = 2 * np.arange(M) + row
    lengths = np.empty(2 * M + n_rows, dtype=np.int64)
    values = np.ones(2 * M + n_rows, dtype=bool)
    lengths[pos] = start - before
    lengths[pos + 1] = stop - start
    values[pos + 1] = False
    lengths[2 * per_row + np.arange(n_rows)] = hours - row_end
    return runs_mask(values, lengths, n_rows, hours, out)


#: Alignment of the arrays :func:`one_block` carves out (a cache line). [bytes]
_BLOCK_ALIGN = 64
#: Largest block :func:`one_block` allocates for several arrays: under glibc's
#: 32 MiB ceiling for reusing freed memory instead of mapping it afresh. [bytes]
_BLOCK_BYTES = 30 * 2**20


def one_block(*specs: tuple[tuple[int, ...], Any]) -> list[NDArray[Any]]:
    """Uninitialised arrays of the given ``(shape, dtype)``, carved out of few allocations.

    A sampler's outputs are fresh memory on every call, and fresh memory
    costs a page fault per 4 KiB page on first write (benchmarks/README.md,
    "Figures behind the code", for a ``znpp`` path's ~0.5 MB when a chunk's
    dozen output arrays are allocated one by one).  One block
    for all of them is a single allocation that glibc keeps for reuse instead
    of returning it to the system, so the next chunk's outputs cost no faults
    at all.  Arrays are packed in order into blocks of at most 30 MiB (an
    array larger than that gets its own): glibc reuses freed memory only up to
    32 MiB, and maps anything larger afresh (numpy then asks for huge pages,
    so that costs a few faults and zeroing, not one fault per page).  Each
    array starts on a 64-byte boundary and keeps its whole block alive.
    """
    sizes = [math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in specs]
    padded = [-(-size // _BLOCK_ALIGN) * _BLOCK_ALIGN for size in sizes]
    groups: list[list[int]] = []
    used = 0
    for i, size in enumerate(padded):
        if not groups or used + size > _BLOCK_BYTES:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += size
    out: list[NDArray[Any]] = [np.empty(0)] * len(specs)
    for group in groups:
        block = np.empty(sum(padded[i] for i in group) + _BLOCK_ALIGN, dtype=np.uint8)
        at = -block.ctypes.data % _BLOCK_ALIGN
        for i in group:
            shape, dtype = specs[i]
            out[i] = block[at : at + sizes[i]].view(dtype).reshape(shape)
            at += padded[i]
    return out


def readonly(a: NDArray[Any]) -> NDArray[Any]:
    """Mark an array read-only (model parameters and broadcast views must not change)."""
    a.setflags(write=False)
    return a
