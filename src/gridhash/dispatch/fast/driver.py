"""The batch driver: chunks of paths through merit order, certificate and repair."""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from gridhash.dispatch.fast.batch import (
    OUTPUTS,
    BatchProblem,
    Fallback,
    FastBatchResult,
    FastResult,
)
from gridhash.dispatch.fast.certificate import _ramp_violations
from gridhash.dispatch.fast.merit import _Hours, _merit_order, _merit_order_compiled
from gridhash.dispatch.fast.windows import _repair
from gridhash.dispatch.problem import DispatchProblem, grid_first_price
from gridhash.scenario.grid import house_import_cap_mw

#: Hours per chunk when ``chunk_size`` is not given (paths = this // T, at least 1):
#: three one-year paths.  A chunk pays its Python and numpy calls once for all its
#: paths; much larger chunks lose that again in the caches (benchmarks/README.md,
#: "Figures behind the code").
CHUNK_HOURS = 1 << 15

#: The merit-order kernels: ``"numpy"`` (:mod:`~gridhash.dispatch.fast.merit`) and
#: ``"numba"`` (:mod:`gridhash.dispatch.fast.compiled`, with the ``fast`` extra).  They
#: give the same results bit for bit.  numpy is the default: with the sweep's allocator
#: settings it measured as fast as the compiled kernel, without numba's second of
#: imports per process (benchmarks/README.md, "The sweep by stage, static
#: values, a compiled kernel").
Kernel = Literal["auto", "numba", "numpy"]

#: Below this a dispatched quantity is rounding residue, and within this of its unit's
#: availability a unit is at it. [MW]  The merit order's fills are differences of sums
#: of MW figures taken in different orders (``q − ahead``), so a segment that is empty
#: or full in exact arithmetic can come out a few ulps of the plant's MW off (2.3e-13
#: MW at 2,000 MW): "house load unsupplied" of 2.3e-13 MW in 127 hours of the default
#: year before this step.  The LP's answers carry no such residue (HiGHS sets a value
#: at its bound); 1e-9 MW is the tolerance the duals already use.
NOISE_MW = 1e-9

#: Environment variable that picks the kernel for ``kernel="auto"`` (``numpy`` or
#: ``numba``; default numpy).  Dask workers inherit it.
KERNEL_ENV = "GRIDHASH_FAST_KERNEL"


def kernel_for(kernel: Kernel = "auto") -> Literal["numba", "numpy"]:
    """The kernel ``kernel`` stands for: ``"auto"`` is :data:`KERNEL_ENV`'s choice
    (numba only where it is installed), else numpy.

    Raises
    ------
    ValueError
        An unknown kernel, or numba asked for and not installed.
    """
    if kernel == "auto":
        chosen = os.environ.get(KERNEL_ENV, "").strip().lower()
        return "numba" if chosen == "numba" and _has_numba() else "numpy"
    if kernel == "numba" and not _has_numba():
        raise ValueError("kernel='numba' needs numba: pip install 'gridhash[fast]'")
    if kernel not in ("numba", "numpy"):
        raise ValueError(f"kernel must be 'auto', 'numba' or 'numpy' (got {kernel!r})")
    return kernel


@functools.cache
def _has_numba() -> bool:
    import importlib.util

    return importlib.util.find_spec("numba") is not None

# --------------------------------------------------------------------------- #
# Drivers
# --------------------------------------------------------------------------- #


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(n, lo + size)


def _with_dispatch_rules(b: BatchProblem) -> BatchProblem:
    """The batch with the imports and grid-first rules applied path by path, as
    :func:`~gridhash.dispatch.problem.with_dispatch_rules` applies them to one problem
    (the LP of a window or path applies them again and finds nothing to change)."""
    arrays = dict(b.arrays)
    varies = set(b.varies)
    imp = house_import_cap_mw(arrays["import_cap_mw"], arrays["house_load_mw"],
                              arrays["unit_available_mw"])
    arrays["import_cap_mw"] = imp
    if imp.shape[0] > 1:
        varies.add("import_cap_mw")
    if b.base.grid_first:
        price = grid_first_price(arrays["offtake_price_usd_per_mwh"],
                                 arrays["class_value_usd_per_mwh"], arrays["class_cap_mw"])
        arrays["offtake_price_usd_per_mwh"] = price
        if price.shape[0] > 1:
            varies.add("offtake_price_usd_per_mwh")
    return dataclasses.replace(b, arrays=arrays, varies=frozenset(varies))


def solve_fast_batch(
    problem: BatchProblem | DispatchProblem,
    *,
    outputs: Collection[str] | None = None,
    chunk_size: int | None = None,
    workers: int | None = 1,
    fallback: Fallback = "window",
    kernel: Kernel = "auto",
    **overrides: np.ndarray,
) -> FastBatchResult:
    """The exact optimum of every path of a batch: merit order, certificate, LP repair.

    Parameters
    ----------
    problem : BatchProblem or DispatchProblem
        The paths, or a base problem to which ``overrides`` apply
        (:meth:`BatchProblem.from_problem`).
    outputs : collection of str, optional
        The hourly arrays to return (names in :data:`OUTPUTS`); default all.
        ``()`` keeps only the per-path objective, certificate and LP hours:
        10,000 paths × 8,760 h of every array would take about 12 GB.
    chunk_size : int, optional
        Paths computed together (default: about 32,768 hours per chunk, at least one path).
        The results do not depend on it.
    workers : int, default 1
        Threads working on chunks (at most one per chunk; ``None``: one per CPU).
        numpy releases the GIL inside each operation, but about a fifth of the
        time is Python between operations, and on a shared machine a second
        thread measured slower than one; parallelise over blocks of paths in
        processes where cores are free.
    fallback : {"window", "path"}
        How paths whose per-hour optimum breaks a ramp row are made exact:
        LP windows around the violations (checked exact, else grown), or the
        whole path's LP.
    kernel : {"auto", "numba", "numpy"}
        The merit-order kernel (:func:`kernel_for`); the results do not depend on it.
    **overrides : numpy.ndarray
        Per-path arrays, when ``problem`` is a :class:`DispatchProblem`.

    Returns
    -------
    FastBatchResult

    Raises
    ------
    InfeasibleError
        A path has no feasible dispatch; the reasons name the path.
    ValueError
        Bad arguments (unknown output or field, shapes that do not broadcast).
    """
    t0 = time.perf_counter()
    if isinstance(problem, BatchProblem):
        if overrides:
            raise ValueError("pass per-path arrays to BatchProblem.from_problem, not here")
        batch = problem
    else:
        batch = BatchProblem.from_problem(problem, **overrides)
    keep = OUTPUTS if outputs is None else tuple(outputs)
    unknown = sorted(set(keep) - set(OUTPUTS))
    if unknown:
        raise ValueError(f"unknown outputs: {', '.join(unknown)}; expected some of {OUTPUTS}")
    if fallback not in ("window", "path"):
        raise ValueError(f"fallback must be 'window' or 'path' (got {fallback!r})")
    given = batch
    batch = _with_dispatch_rules(batch)
    # Grid first: the dispatch values deliveries at a priority price; the objective is
    # reported at the prices paid (the premium taken off again, path by path).
    premium = (np.subtract(batch.arrays["offtake_price_usd_per_mwh"],
                           given.arrays["offtake_price_usd_per_mwh"])
               if batch.base.grid_first else None)
    base = batch.base
    N, T = batch.n_paths, batch.hours
    U, O = base.unit_available_mw.shape[0], base.offtake_price_usd_per_mwh.shape[0]
    K = base.class_cap_mw.shape[0]
    shapes = {
        "unit_mw": (N, U, T),
        "imported_mw": (N, T),
        "delivered_mw": (N, O, T),
        "unserved_mw": (N, O, T),
        "mining_mw": (N, K, T),
        "diesel_mw": (N, T),
        "blackout_mw": (N, T),
        "marginal_value_usd_per_mwh": (N, T),
        "objective_hourly_usd": (N, T),
    }
    out = {name: np.empty(shapes[name]) for name in keep}
    objective = np.empty(N)
    certified = np.empty(N, dtype=bool)
    lp_hours = np.zeros(N, dtype=np.int64)
    size = max(1, CHUNK_HOURS // max(T, 1)) if chunk_size is None else int(chunk_size)
    if size < 1:
        raise ValueError(f"chunk_size must be at least 1 (got {chunk_size})")
    duals = "marginal_value_usd_per_mwh" in keep
    compiled = kernel_for(kernel) == "numba"

    cache: dict = {}  # tests and ranges of the arrays every path shares

    def run(lo: int, hi: int) -> tuple[int, int]:
        # the merit order writes the kept outputs in place; the others are scratch
        into = {name: out[name][lo:hi] for name in keep if name != "marginal_value_usd_per_mwh"}
        if compiled:
            h = _merit_order_compiled(batch, lo, hi, duals=duals, into=into)
        else:
            h = _merit_order(batch, lo, hi, duals=duals, cache=cache, into=into)
        _snap_residue(batch, lo, hi, h)
        violated = _ramp_violations(batch, lo, hi, h.unit_mw)
        infeasible = ~h.ok.all(axis=1)
        cert = ~infeasible & ~violated.any(axis=1)
        obj = h.objective_hourly_usd.sum(axis=1)
        if h.marginal_value_usd_per_mwh is not None:
            out["marginal_value_usd_per_mwh"][lo:hi] = h.marginal_value_usd_per_mwh
        fallbacks = solves = 0
        todo = np.flatnonzero(~cert)
        if len(todo):
            arrays = {
                "unit_mw": h.unit_mw,
                "imported_mw": h.imported_mw,
                "delivered_mw": h.delivered_mw,
                "unserved_mw": h.unserved_mw,
                "mining_mw": h.mining_mw,
                "diesel_mw": h.diesel_mw,
                "blackout_mw": h.blackout_mw,
                "marginal_value_usd_per_mwh": (
                    out["marginal_value_usd_per_mwh"][lo:hi] if duals else np.zeros((hi - lo, T))
                ),
                "objective_hourly_usd": h.objective_hourly_usd,
            }
        for p in todo:
            i = lo + int(p)
            view = {name: a[p] for name, a in arrays.items()}
            label = f"path {i}: " if N > 1 else ""
            mode: Fallback = "path" if infeasible[p] else fallback
            rep = _repair(batch._view(i), view, violated[p], mode, label)
            obj[p] = rep.objective
            lp_hours[i] = rep.lp_hours
            fallbacks += 1
            solves += rep.lp_solves
        if premium is not None:
            extra = np.einsum("not,not->nt", premium if premium.shape[0] == 1
                              else premium[lo:hi], h.delivered_mw)
            obj -= extra.sum(axis=1)
            if "objective_hourly_usd" in keep:
                out["objective_hourly_usd"][lo:hi] -= extra
        objective[lo:hi] = obj
        certified[lo:hi] = cert
        return fallbacks, solves

    chunks = list(_chunks(N, size))
    n_workers = min(len(chunks), workers or os.cpu_count() or 1)
    if n_workers <= 1:
        counts = [run(lo, hi) for lo, hi in chunks]
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            counts = list(pool.map(lambda c: run(*c), chunks))
    return FastBatchResult(
        objective_usd=objective,
        certified=certified,
        lp_hours=lp_hours,
        lp_fallbacks=sum(c[0] for c in counts),
        lp_solves=sum(c[1] for c in counts),
        seconds=time.perf_counter() - t0,
        **out,
    )


def _snap_residue(b: BatchProblem, lo: int, hi: int, h: _Hours) -> None:
    """Set the merit order's rounding residue (:data:`NOISE_MW`) to the bound it
    stands for, in place: imports, diesel, house load unsupplied, unserved firm energy,
    deliveries and mining below it to 0, and a unit within it of its availability to
    the availability.  The objective is the kernel's (at most ``NOISE_MW`` × a price
    per hour off; it is the optimizer's figure, the accounts price the flows)."""
    # Two passes an array: every fill is ≥ 0 (clipped) where the hour is in the domain
    # (other hours go to the LP), and a unit's output never exceeds its availability by
    # more than the residue, so one-sided tests suffice.
    below = np.empty(h.blackout_mw.shape, dtype=bool)
    for a in (h.imported_mw, h.diesel_mw, h.blackout_mw):
        np.copyto(a, 0.0, where=np.less(a, NOISE_MW, out=below))
    for a in (h.unserved_mw, h.delivered_mw, h.mining_mw):
        np.copyto(a, 0.0, where=np.less(a, NOISE_MW))
    avail = b.field("unit_available_mw", lo, hi)
    np.copyto(h.unit_mw, avail, where=np.greater(h.unit_mw, np.subtract(avail, NOISE_MW)))


def solve_fast(problem: DispatchProblem, *, fallback: Fallback = "window") -> FastResult:
    """The exact optimum of one dispatch problem, without an LP where the certificate holds.

    Parameters
    ----------
    problem : DispatchProblem
        The arrays of the problem (ramps included).
    fallback : {"window", "path"}
        How ramp violations of the per-hour optimum are repaired (see
        :func:`solve_fast_batch`).

    Returns
    -------
    FastResult
        Same objective as :func:`~gridhash.dispatch.lp.solve_lp` (to its tolerances).

    Raises
    ------
    InfeasibleError
        No dispatch meets every constraint (explained by the LP).
    """
    r = solve_fast_batch(BatchProblem.from_problem(problem), workers=1, fallback=fallback)
    one = r.path(0)
    return dataclasses.replace(one, lp_solves=r.lp_solves, seconds=r.seconds)
