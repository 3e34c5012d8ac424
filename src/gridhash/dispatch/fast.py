"""Exact dispatch without an LP solver for most hours: merit order per hour, with a certificate.

The dispatch LP of :mod:`gridhash.dispatch.problem` couples its hours only
through the units' ramp rows.  Drop them and it falls apart into one small LP
per hour, and that LP has a closed-form (merit-order) solution computed here
with numpy for all hours of many paths at once.  If the per-hour optimum also
meets every ramp row, it is optimal for the full problem (the *certificate*);
where it does not, the hours around the violations are solved exactly by
:func:`~gridhash.dispatch.lp.solve_lp`, in windows whose exactness is checked
by a bound (below), or as a whole path.

Public API: :class:`BatchProblem` (a base :class:`DispatchProblem` plus
per-path arrays), :func:`solve_fast` / :class:`FastResult` for one problem and
:func:`solve_fast_batch` / :class:`FastBatchResult` for many paths.

The hour's problem and why the merit order solves it
----------------------------------------------------
Fix an hour and drop its index.  The LP of the hour is (notation of
:mod:`~gridhash.dispatch.problem`; H house load, F = Σ_u min_u)::

    max  Σ_o (price_o·d_o − pen·uns_o) + Σ_k v_k·m_k
         − Σ_u c_u·g_u − c_I·imp − c_D·dsl − c_B·blk
    s.t. Σ_u g_u + imp + dsl + blk = H + Σ_o d_o + Σ_k m_k
         d_o + uns_o ≥ firm_o,  0 ≤ uns_o ≤ firm_o,  0 ≤ d_o ≤ cap_o
         m ∈ M = {0 ≤ m_k ≤ kcap_k, Σ_{k at s} m_k ≤ scap_s, Σ_k m_k ≤ mcap}
         min_u ≤ g_u ≤ avail_u, imp, dsl, blk in their boxes.

1. *Firm obligations.*  For given d_o the best feasible uns_o is
   firm_o − min(d_o, firm_o) when pen ≥ 0 (firm_o when pen < 0), so offtake o
   is worth φ_o(d_o) = price_o·d_o + pen⁺·min(d_o, firm_o) − pen·firm_o
   (pen⁺ = max(pen, 0)).  This equals the best split of d_o over two
   independent boxes, a_o ∈ [0, min(firm_o, cap_o)] worth price_o + pen⁺ and
   b_o ∈ [0, cap_o − min(firm_o, cap_o)] worth price_o: since the first slope is
   at least the second, the best split fills a_o first.  So each offtake is two
   *use segments* (value, capacity), and a constant −pen·firm_o.
2. *Mining.*  M is the polymatroid of the laminar capacities classes ⊂ sites ⊂
   all, with rank f(A) = min(mcap, Σ_s min(scap_s, Σ_{k ∈ A at s} kcap_k)).
   Order the classes by value, highest first (ties by index), and let
   c_k = f(P_k ∪ {k}) − f(P_k) with P_k the classes before k (Edmonds'
   greedy).  For any total z ≤ f(all), the truncation f_z = min(f, z) is again
   a polymatroid; its greedy vector in the same order is the *prefix fill* of
   the segments (v_k, c_k) up to z, and the greedy vector of a polymatroid
   maximises every linear function over its base polytope {x ∈ M, Σx = z}
   (Edmonds 1970).  So for every total z, filling the class segments in value
   order is the best way to mine z MW.
3. *All uses together.*  Boxes and a polymatroid add up (direct sum) to a
   polymatroid whose greedy order is the merge of the segment lists by value.
   Hence the best value W(z) of using z MW beyond the house load is the prefix
   fill of all use segments sorted by value (descending, ties by position):
   concave, piecewise linear.  Likewise the least cost C(y) of supplying y MW
   is Σ_u c_u·min_u plus the prefix fill of the *source segments* (each unit's
   range avail_u − min_u at c_u, imports, diesel, blackout) sorted by cost:
   convex, piecewise linear.
4. *The balance.*  With q the energy through the balance, the hour's optimum
   is max over q of W(q − H) − C(q).  Write V(q) for the value of the q-th MW
   of use (the house load first, at +∞) and K(q) for the cost of the q-th MW
   of supply (the forced minimum output first, at −∞): V does not increase, K
   does not decrease, and the derivative of the objective is V(q) − K(q).  The
   optimum is q* = |{q : V(q) > K(q)}|: match the highest-value uses with the
   cheapest sources while value exceeds cost.  Computed without sorting:
   q* = H + Σ_i clip(K⁻(v_i) − A_i, 0, cap_i), where A_i is the capacity of the
   house load and of the uses ahead of segment i and K⁻(v) = F + Σ_j cap_j·[c_j < v]
   the supply cheaper than v; every use segment is then filled to
   clip(q* − A_i, 0, cap_i) and every source segment likewise from the cheap end.
   The hour is feasible iff F ≤ H + Σ use capacity (the forced output can be
   absorbed) and H ≤ F + Σ source capacity; an hour that is not (or has
   out-of-domain data: negative capacities, min above cap, non-finite prices)
   sends its path to the LP, which explains or handles it.
5. *Ties.*  Any split of q* among equal-value uses or equal-cost sources is
   optimal.  Uses are taken in a fixed order (value, then position).  Sources
   of equal cost are ordered by ramp rate (least flexible first, so that the
   flexible units swing) and units of equal cost and ramp share their load in
   proportion to their ranges (pro rata), which keeps each unit's hour-to-hour
   change small and the certificate likely to hold.  Every tie rule is a pure
   function of the hour's data, so results do not depend on chunking.

The certificate and exact windows
---------------------------------
Dropping the ramp rows relaxes the LP, so the per-hour optimum bounds the full
optimum from above.  If it meets every ramp row where ``ramp_mask`` is True
(within 1e-7 MW, HiGHS's own primal feasibility tolerance), it is feasible,
hence optimal: the path is *certified*.

Otherwise (``fallback="window"``) the violations are covered by windows of
hours (12 h either side at first), at least one hour apart.  Keep only the
ramp rows inside windows: this still relaxes the full LP, and its optimum is
R = Σ_{t outside} per-hour optimum + Σ_w R_w, with R_w the optimum of window w
cut loose from its neighbours.  A window is *accepted* when its dispatch x_w is
worth R_w and meets the ramp rows that join it to the per-hour optimum on
either side: (a) the free window's own solution, when it happens to meet those
rows, or else (b) the optimum with those rows as bounds on the window's first
and last hours, when it is worth R_w (to 1e-9 of the window's gross value,
Σ_t |objective_t|: far inside the LP's own tolerances).  When every window is
accepted the assembled dispatch is feasible and reaches the upper bound R: it
is optimal.  A window that is not accepted grows (its length again on each
side), merging with neighbours; once windows would cover half the horizon the
path is solved as one LP.  The windows of a round share no row, so they are
solved side by side in one LP (and the bounded ones in a second): a path costs
a few LP solves of its window hours.  ``fallback="path"`` skips windows.  The
marginal values in a window are the free window LP's balance duals, which with
zero duals on the joining rows are duals of the full problem.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gridhash.dispatch.problem import (
    DispatchProblem,
    grid_first_price,
    import_limit,
    ramp_row_holds,
)
from gridhash.dispatch.result import DispatchResult
from gridhash.errors import InfeasibleError

__all__ = [
    "OUTPUTS",
    "PATH_FIELDS",
    "BatchProblem",
    "FastBatchResult",
    "FastResult",
    "solve_fast",
    "solve_fast_batch",
]

Fallback = Literal["window", "path"]

#: Arrays of a :class:`DispatchProblem` that may vary by path, with their axes
#: after the path axis (U units, O offtakes, S sites, K classes, T hours).
PATH_FIELDS: dict[str, str] = {
    "unit_available_mw": "UT",
    "unit_min_mw": "UT",
    "unit_cost": "UT",
    "ramp_allowed": "UT",
    "house_load_mw": "T",
    "import_price": "T",
    "import_cap_mw": "T",
    "offtake_price": "OT",
    "offtake_cap_mw": "OT",
    "offtake_firm_mw": "OT",
    "site_cap_mw": "ST",
    "class_cap_mw": "KT",
    "class_value": "KT",
    "diesel_cap_mw": "T",
    "blackout_cap_mw": "T",
    "mining_cap_mw": "T",
}

#: Hourly arrays a result can hold (``outputs=`` of :func:`solve_fast_batch`).
OUTPUTS: tuple[str, ...] = (
    "unit_mw",
    "imported_mw",
    "delivered_mw",
    "unserved_mw",
    "mining_mw",
    "diesel_mw",
    "blackout_mw",
    "marginal_value",
    "objective_hourly_usd",
)

#: Ramp rows may be exceeded by this much (HiGHS's primal feasibility tolerance). [MW]
RAMP_TOL = 1e-7
#: A window bounded by its neighbours must reach its free optimum to this much of its
#: gross value (Σ_t |objective_t|).
WINDOW_REL = 1e-9
#: Hours added on each side of a ramp violation for its first window.
WINDOW_PAD = 12
#: Hours per chunk when ``chunk_size`` is not given (paths = this // T, at least 1):
#: three one-year paths.  A chunk pays its Python and numpy calls once for all its
#: paths (about 0.3 ms a chunk); much larger chunks lose that again in the caches.
#: On the risk sweep's paths one path a chunk took 10–15% longer per path than three.
CHUNK_HOURS = 1 << 15


# --------------------------------------------------------------------------- #
# The batch of problems
# --------------------------------------------------------------------------- #


def _default(base: DispatchProblem, name: str) -> np.ndarray | None:
    """The base's array for ``name``, or what ``None`` means for the optional ones."""
    value = getattr(base, name)
    if value is not None:
        return value
    T = base.hours
    U = base.unit_available_mw.shape[0]
    if name in ("diesel_cap_mw", "blackout_cap_mw"):
        return np.zeros(T)
    if name == "mining_cap_mw":
        return np.full(T, np.inf)
    if name == "ramp_allowed":
        return np.ones((U, T), dtype=bool)
    return None  # pragma: no cover - every field is listed above


@dataclass(frozen=True, eq=False)
class BatchProblem:
    """N dispatch problems that share a base and differ in some arrays.

    Every array in :data:`PATH_FIELDS` is held with a leading path axis of
    length ``n_paths`` or 1 (shared by every path; often a read-only broadcast
    view, so a shared or partly broadcast input costs no memory).  Names,
    ramp rates, penalties and the site of each class come from ``base``.

    Build one with :meth:`from_problem`; :meth:`path` gives path ``i`` as a
    plain :class:`DispatchProblem` (what :func:`solve_lp` takes).

    Attributes
    ----------
    base : DispatchProblem
        The problem whose names, scalars and non-varying arrays every path shares.
    n_paths : int
        N, the number of paths.
    arrays : dict[str, numpy.ndarray]
        Each field of :data:`PATH_FIELDS` as a ``(N or 1, *shape)`` array.
    varies : frozenset[str]
        The fields given per path (``from_problem``'s overrides).
    """

    base: DispatchProblem
    n_paths: int
    arrays: dict[str, np.ndarray]
    varies: frozenset[str]

    @classmethod
    def from_problem(
        cls, base: DispatchProblem, n_paths: int | None = None, **overrides: np.ndarray
    ) -> BatchProblem:
        """A batch from one problem and per-path arrays.

        Parameters
        ----------
        base : DispatchProblem
            What every path shares.
        n_paths : int, optional
            N.  Default: the leading axis of the per-path overrides (1 without any).
        **overrides : numpy.ndarray
            Any field of :data:`PATH_FIELDS`.  An array with one more axis than
            the base's (e.g. ``offtake_price`` of shape ``(N, O, T)``) is per path;
            it broadcasts, so ``(N, O, 1)`` (one price per path and offtake) or
            ``(1, O, T)`` work too.  An array with the base's axes or fewer
            (``(O, T)``, ``(T,)``) replaces the base's array for every path.

        Raises
        ------
        ValueError
            An unknown field, or an array that does not broadcast to its shape.
        """
        unknown = sorted(set(overrides) - set(PATH_FIELDS))
        if unknown:
            raise ValueError(
                f"not a per-path field of a dispatch problem: {', '.join(unknown)}; "
                f"expected one of {', '.join(PATH_FIELDS)}"
            )
        U = base.unit_available_mw.shape[0]
        sizes = {
            "U": U,
            "O": base.offtake_price.shape[0],
            "S": base.site_cap_mw.shape[0],
            "K": base.class_cap_mw.shape[0],
            "T": base.hours,
        }
        leading = {
            name: np.shape(a)[0]
            for name, a in overrides.items()
            if np.ndim(a) == len(PATH_FIELDS[name]) + 1 and np.shape(a)[0] != 1
        }
        n = n_paths
        for name, size in leading.items():
            if n is None:
                n = size
            elif size != n:
                raise ValueError(
                    f"{name} has {size} paths on its leading axis; expected {n} "
                    "(n_paths or the other overrides)"
                )
        n = 1 if n is None else int(n)
        if n < 1:
            raise ValueError(f"n_paths must be at least 1 (got {n})")

        arrays: dict[str, np.ndarray] = {}
        for name, axes in PATH_FIELDS.items():
            shape = tuple(sizes[a] for a in axes)
            dtype = bool if name == "ramp_allowed" else float
            given = name in overrides
            a = np.asarray(overrides[name] if given else _default(base, name), dtype=dtype)
            try:
                if a.ndim == len(shape) + 1:
                    a = np.broadcast_to(a, (a.shape[0], *shape))
                else:
                    a = np.broadcast_to(a, shape)[None]
            except ValueError:
                raise ValueError(
                    f"{name} of shape {np.shape(overrides[name])} does not broadcast to "
                    f"(N, {', '.join(axes)}) = ({n}, {', '.join(map(str, shape))})"
                ) from None
            arrays[name] = a
        return cls(base=base, n_paths=n, arrays=arrays, varies=frozenset(overrides))

    @property
    def hours(self) -> int:
        """T, the hours of every path."""
        return self.base.hours

    def field(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``(n or 1, *shape)``: the array ``name`` for paths ``start:stop``."""
        a = self.arrays[name]
        if a.shape[0] == 1:
            return a
        return a[start : self.n_paths if stop is None else stop]

    def select(self, start: int, stop: int) -> BatchProblem:
        """The paths ``start:stop`` as a batch of their own (views, no copies)."""
        if not 0 <= start < stop <= self.n_paths:
            raise ValueError(f"paths {start}:{stop} are not within 0:{self.n_paths}")
        arrays = {name: self.field(name, start, stop) for name in PATH_FIELDS}
        return dataclasses.replace(self, n_paths=stop - start, arrays=arrays)

    def path(self, i: int) -> DispatchProblem:
        """Path ``i`` as a plain :class:`DispatchProblem` (copies of its arrays)."""
        if not 0 <= i < self.n_paths:
            raise IndexError(f"path {i} is not within 0:{self.n_paths}")
        changes = {}
        for name in PATH_FIELDS:
            if name in self.varies or getattr(self.base, name) is not None:
                a = self.arrays[name]
                changes[name] = np.array(a[i if a.shape[0] > 1 else 0])
        return dataclasses.replace(self.base, **changes)

    def _view(self, i: int) -> DispatchProblem:
        """Path ``i`` as :meth:`path` gives it, but of views: read only (the repair)."""
        changes = {}
        for name in PATH_FIELDS:
            if name in self.varies or getattr(self.base, name) is not None:
                a = self.arrays[name]
                changes[name] = a[i if a.shape[0] > 1 else 0]
        return dataclasses.replace(self.base, **changes)


# --------------------------------------------------------------------------- #
# Results
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class FastResult:
    """The optimal dispatch of one problem (shapes as in :class:`DispatchResult`).

    Attributes
    ----------
    unit_mw : (U, T) generation of each unit. [MW]
    imported_mw, diesel_mw, blackout_mw : (T,) imports, diesel, house load unsupplied. [MW]
    delivered_mw, unserved_mw : (O, T) delivered to and unserved of each offtake. [MW]
    mining_mw : (K, T) drawn by each miner class. [MW]
    marginal_value : (T,) a balance dual: the value of one more MW at the plant. [USD/MWh]
    objective_hourly_usd : (T,) the objective's terms hour by hour; in LP hours, the
        value of the LP's decisions, so the sum is ``objective_usd`` to the LP's
        tolerances. [USD]
    objective_usd : float
        The optimum, as :func:`solve_lp` defines it. [USD]
    certified : bool
        True when the per-hour optimum met every ramp row (no LP was solved).
    lp_hours : int
        Hours taken from LP solutions (0 when certified, T for a whole-path LP).
    lp_solves : int
        LP solves spent on this problem.
    seconds : float
        Wall time. [s]
    """

    unit_mw: np.ndarray
    imported_mw: np.ndarray
    delivered_mw: np.ndarray
    unserved_mw: np.ndarray
    mining_mw: np.ndarray
    diesel_mw: np.ndarray
    blackout_mw: np.ndarray
    marginal_value: np.ndarray
    objective_hourly_usd: np.ndarray
    objective_usd: float
    certified: bool
    lp_hours: int
    lp_solves: int
    seconds: float

    @property
    def lp_fallbacks(self) -> int:
        """1 when an LP was needed, else 0."""
        return int(not self.certified)

    def to_dispatch_result(self) -> DispatchResult:
        """The same dispatch as a :class:`DispatchResult` (what the reports read)."""
        return DispatchResult(
            unit_mw=self.unit_mw,
            imported_mw=self.imported_mw,
            delivered_mw=self.delivered_mw,
            unserved_mw=self.unserved_mw,
            mining_mw=self.mining_mw,
            marginal_value=self.marginal_value,
            objective_usd=self.objective_usd,
            status="Optimal",
            solver="fast" if self.certified else "fast+highs",
            build_seconds=0.0,
            solve_seconds=self.seconds,
            diesel_mw=self.diesel_mw,
            blackout_mw=self.blackout_mw,
        )


@dataclass(frozen=True, eq=False)
class FastBatchResult:
    """The optimal dispatch of every path of a :class:`BatchProblem`.

    Hourly arrays have the path axis first: ``unit_mw`` (N, U, T), ``imported_mw``
    (N, T), ``delivered_mw`` and ``unserved_mw`` (N, O, T), ``mining_mw`` (N, K, T),
    ``diesel_mw``, ``blackout_mw``, ``marginal_value`` and ``objective_hourly_usd``
    (N, T); each is ``None`` when left out by ``outputs=``.

    Attributes
    ----------
    objective_usd : (N,) the optimum of each path. [USD]
    certified : (N,) True where the per-hour optimum met every ramp row.
    lp_hours : (N,) hours of each path taken from LP solutions.
    lp_fallbacks : int
        Paths that needed an LP (windows or whole path).
    lp_solves : int
        LP solves in all.
    seconds : float
        Wall time. [s]
    """

    objective_usd: np.ndarray
    certified: np.ndarray
    lp_hours: np.ndarray
    lp_fallbacks: int
    lp_solves: int
    seconds: float
    unit_mw: np.ndarray | None = None
    imported_mw: np.ndarray | None = None
    delivered_mw: np.ndarray | None = None
    unserved_mw: np.ndarray | None = None
    mining_mw: np.ndarray | None = None
    diesel_mw: np.ndarray | None = None
    blackout_mw: np.ndarray | None = None
    marginal_value: np.ndarray | None = None
    objective_hourly_usd: np.ndarray | None = None

    @property
    def n_paths(self) -> int:
        """N."""
        return len(self.objective_usd)

    def path(self, i: int) -> FastResult:
        """Path ``i`` as a :class:`FastResult` (needs every hourly output kept).

        ``lp_solves`` and ``seconds`` are the batch's own (totals), so 0 here.
        """
        missing = [name for name in OUTPUTS if getattr(self, name) is None]
        if missing:
            raise ValueError(f"path() needs every output; left out: {', '.join(missing)}")
        arrays = {name: getattr(self, name)[i] for name in OUTPUTS}
        return FastResult(
            **arrays,
            objective_usd=float(self.objective_usd[i]),
            certified=bool(self.certified[i]),
            lp_hours=int(self.lp_hours[i]),
            lp_solves=0,
            seconds=0.0,
        )


# --------------------------------------------------------------------------- #
# The merit order, all hours of a chunk of paths at once
# --------------------------------------------------------------------------- #

Mask = bool | np.ndarray


class _Key:
    """A price or cost per hour (a float when constant) with its range over the chunk.

    Keys are compared pairwise; when their ranges do not overlap the answer is
    one Python bool for every hour, and the sums it selects are plain adds.
    Every sum is taken in the same order whichever way a comparison is
    evaluated, so the chunking of paths cannot change a result.  A key plus a
    constant (``key + c``) adds it to the hours only when they are read (``v``):
    most such keys are only ever compared by range.
    """

    __slots__ = ("_plus", "_v", "hi", "lo")

    def __init__(
        self, v: float | np.ndarray, lo: float, hi: float, plus: float | None = None
    ) -> None:
        self._v, self._plus, self.lo, self.hi = v, plus, lo, hi

    @property
    def v(self) -> float | np.ndarray:
        """The key hour by hour (a float when constant)."""
        if self._plus is not None:
            self._v, self._plus = self._v + self._plus, None
        return self._v

    @classmethod
    def of(cls, a: np.ndarray | float) -> _Key:
        if isinstance(a, float):
            return cls(a, a, a)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if lo == hi:
            return cls(lo, lo, hi)
        return cls(a, lo, hi)  # with a NaN, lo and hi are NaN: every test goes per hour

    def __add__(self, c: float) -> _Key:
        # rounding is monotone, so the range of v + c is (lo + c, hi + c) exactly
        v = self.v
        if isinstance(v, float):
            return _Key(v + c, self.lo + c, self.hi + c)
        return _Key(v, self.lo + c, self.hi + c, plus=c)


def _lt(a: _Key, b: _Key) -> Mask:
    """a < b, hour by hour, or one bool when that holds for every hour or none.

    Ranges that do not overlap decide without looking at the hours; otherwise
    the hourly mask is collapsed to one bool when it is all True or all False
    (two reductions of bools, far cheaper than the masked adds they save).
    """
    if a.hi < b.lo:
        return True
    if a.lo >= b.hi:
        return False
    mask = np.less(a.v, b.v)
    if not mask.any():
        return False
    if mask.all():
        return True
    return mask


def _not(mask: Mask) -> Mask:
    return ~mask if isinstance(mask, np.ndarray) else not mask


def _acc(acc: np.ndarray, mask: Mask, x: np.ndarray) -> None:
    """acc += x where mask (in place)."""
    if mask is True:
        np.add(acc, x, out=acc)
    elif mask is not False:
        np.add(acc, x, out=acc, where=mask)


def _clip(x: np.ndarray, cap: np.ndarray, *, copy: bool = False) -> np.ndarray:
    """min(max(x, 0), cap): in place, or in a new array with ``copy``."""
    y = np.maximum(x, 0.0, out=None if copy else x)
    return np.minimum(y, cap, out=y)


def _fold(start: np.ndarray, caps: list[np.ndarray], masks: list[Mask], sums: dict) -> np.ndarray:
    """start + Σ_j caps[j] where masks[j], added in the order of j.

    The partial sums over a leading run of masks that hold for every hour are
    shared through ``sums`` (keyed by the indices added; one dict per ``start``
    and ``caps``), so sets that begin alike cost one add per further term.  The
    arithmetic is the same either way (a masked add leaves other hours alone),
    hence so is every result.  The array returned may be shared: read only.
    """
    acc, added = start, ()
    for j, mask in enumerate(masks):
        if mask is True:
            added += (j,)
            total = sums.get(added)
            if total is None:
                total = sums[added] = acc + caps[j]
            acc = total
        elif mask is not False:  # hour by hour from here on
            acc = acc.copy()
            for m, x in zip(masks[j:], caps[j:], strict=True):
                _acc(acc, m, x)
            return acc
    return acc


@dataclass
class _Hours:
    """Per-hour optimum of a chunk of n paths (arrays (n, ..., T))."""

    unit_mw: np.ndarray
    imported_mw: np.ndarray
    delivered_mw: np.ndarray
    unserved_mw: np.ndarray
    mining_mw: np.ndarray
    diesel_mw: np.ndarray
    blackout_mw: np.ndarray
    marginal_value: np.ndarray | None
    objective_hourly_usd: np.ndarray
    ok: np.ndarray  # (n, T) the hour's data are in the domain and it is feasible


def _nonneg_finite(a: np.ndarray) -> np.ndarray:
    return (a >= 0) & (a < np.inf)


def _above_minus_inf(v: float) -> bool:
    return v > -np.inf


def _below_inf(v: float) -> bool:
    return v < np.inf


def _nonneg(v: float) -> bool:
    return v >= 0


Extremes = tuple[Callable[[float], bool] | None, Callable[[float], bool] | None]

#: What the merit order assumes of each hour: (fields, test → (n|1, [X,] T) bools, the
#: same test on a field's least and greatest value: (least ok, greatest ok), each None
#: when not tested, and None for the units' pair, which is tested on its own).  Every
#: element passes when its field's extremes do; a NaN makes both NaN and fails them.
_DOMAIN: tuple[tuple[tuple[str, ...], Callable[..., np.ndarray], Extremes | None], ...] = (
    *(
        ((name,), np.isfinite, (_above_minus_inf, _below_inf))
        for name in ("unit_cost", "import_price", "offtake_price", "class_value")
    ),
    *(
        ((name,), _nonneg_finite, (_nonneg, _below_inf))
        for name in (
            "house_load_mw",
            "import_cap_mw",
            "diesel_cap_mw",
            "blackout_cap_mw",
            "offtake_cap_mw",
            "offtake_firm_mw",
            "class_cap_mw",
        )
    ),
    (("site_cap_mw",), lambda a: a >= 0, (_nonneg, None)),
    (("mining_cap_mw",), lambda a: a >= 0, (_nonneg, None)),
    (
        ("unit_min_mw", "unit_available_mw"),
        lambda lo, hi: (lo >= 0) & (lo <= hi) & (hi < np.inf),
        None,
    ),
)


def _in_domain(
    f: dict[str, np.ndarray],
    shared: frozenset[str],
    shape: tuple[int, int],
    scalars: tuple,
    cache: dict,
    extent: Callable[[str, int], float],
) -> np.ndarray:
    """(n, T) True where the hour's data are what the merit order assumes.

    Tests of the ``shared`` arrays (one for every path) are done once per batch
    (``cache``).  The others are first decided from each field's least and
    greatest value (``extent(name, 0)``, ``extent(name, 1)``; for the units, min
    ≥ 0 and avail < ∞ so, with min ≤ avail compared element by element): two
    reductions instead of an elementwise mask.  Only where they fail are the
    hours tested one by one.
    """
    ok = np.zeros(shape, dtype=bool)
    if not all(np.isfinite(scalars)):
        return ok
    if "domain" not in cache:
        common = np.ones((1, shape[1]), dtype=bool)
        varying = []
        for rule in _DOMAIN:
            names, test, _ = rule
            if all(name in shared for name in names):
                cond = test(*(f[name] for name in names))
                common &= cond.all(axis=1) if cond.ndim == 3 else cond
            else:
                varying.append(rule)
        cache["domain"] = common, varying
    common, varying = cache["domain"]
    ok |= common
    for names, test, extremes in varying:
        arrays = [f[name] for name in names]
        if not arrays[0].size:
            continue  # no element, nothing to fail (as the hourly test finds)
        if extremes is None:  # (min, avail)
            lo, hi = arrays
            if (
                extent(names[0], 0) >= 0
                and extent(names[1], 1) < np.inf
                and not np.greater(lo, hi).any()
            ):
                continue
        else:
            least, greatest = extremes
            if (least is None or least(extent(names[0], 0))) and (
                greatest is None or greatest(extent(names[0], 1))
            ):
                continue  # every hour passes: nothing to mask
        cond = test(*arrays)
        ok &= cond.all(axis=1) if cond.ndim == 3 else cond
    return ok


def _sum_rows(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=1)`` of an (n, X, T) array: the same sums, row after row (numpy adds
    the rows in order too), without its slower strided reduction."""
    if a.shape[1] < 2:
        return a.sum(axis=1)
    acc = np.add(a[:, 0], a[:, 1])
    for x in range(2, a.shape[1]):
        acc += a[:, x]
    return acc


def _masked_sum(caps: list[np.ndarray], masks: list[Mask]) -> np.ndarray | None:
    """0 + Σ_j caps[j] where masks[j], added in the order of j (None without a term)."""
    terms = [(c, m) for c, m in zip(caps, masks, strict=True) if m is not False]
    if not terms:
        return None
    shapes = [c.shape for c, _ in terms] + [m.shape for _, m in terms if isinstance(m, np.ndarray)]
    acc = np.zeros(np.broadcast_shapes(*shapes))
    for c, m in terms:
        _acc(acc, m, c)
    return acc


def _greedy(
    k: int,
    site: int,
    at_site: dict[int, list[int]],
    ahead: dict[int, list[Mask]],
    caps_k: list[np.ndarray],
    caps_s: dict[int, np.ndarray],
) -> tuple[np.ndarray, np.ndarray | None]:
    """f(P_k ∪ {k}) and f(P_k) (None when 0) before the total cap, for class k at ``site``.

    ``ahead[s]``: whether each other class at site s is ahead of k.  Sites where
    no class can be ahead of k add min(scap, 0) = 0: left out.
    """
    without: np.ndarray | None = None
    with_k: np.ndarray | None = None
    for s, masks in ahead.items():
        before = _masked_sum([caps_k[j] for j in at_site[s] if j != k], masks)
        part = None if before is None else np.minimum(caps_s[s], before)
        if s == site:
            more = caps_k[k] if before is None else before + caps_k[k]
            part_k = np.minimum(caps_s[s], more)
        else:
            part_k = part
        if part is not None:
            without = part if without is None else without + part
        if part_k is not None:
            with_k = part_k if with_k is None else with_k + part_k
    assert with_k is not None  # the site of k is among the sites
    return with_k, without


def _source_order(
    keys: list[_Key], ranks: list[float]
) -> tuple[list[list[Mask]], list[list[Mask] | None]]:
    """The order of the sources: cost, then ramp rank (least flexible first).

    Returns, for each source x, the masks of the sources ahead of it (by index)
    and the masks of its tie group (equal cost and rank, x included; None when
    it is alone), as :func:`_fold` takes them.
    """
    ns = len(keys)
    first: dict[tuple[int, int], Mask] = {}  # (i, j): source i ahead of source j
    tied: dict[tuple[int, int], Mask] = {}
    for i in range(ns):
        for j in range(i + 1, ns):
            ki, kj = keys[i], keys[j]
            if ranks[i] == ranks[j]:
                first[j, i], first[i, j] = _lt(kj, ki), _lt(ki, kj)
                tied[i, j] = tied[j, i] = _not(first[j, i] | first[i, j])
            elif ranks[i] < ranks[j]:  # i first on equal cost
                first[j, i] = _lt(kj, ki)
                first[i, j] = _not(first[j, i])
            else:
                first[i, j] = _lt(ki, kj)
                first[j, i] = _not(first[i, j])
    before = [[first.get((y, x), False) for y in range(ns)] for x in range(ns)]
    groups: list[list[Mask] | None] = []
    for x in range(ns):
        group = [True if y == x else tied.get((x, y), False) for y in range(ns)]
        alone = all(m is False for y, m in enumerate(group) if y != x)
        groups.append(None if alone else group)
    return before, groups


def _merit_order(
    b: BatchProblem,
    lo: int,
    hi: int,
    *,
    duals: bool = True,
    cache: dict | None = None,
    into: dict[str, np.ndarray] | None = None,
) -> _Hours:
    """The per-hour optimum of paths ``lo:hi`` (module docstring, steps 1–5).

    ``into``: arrays of the chunk's shape to write outputs in, by name of
    :data:`OUTPUTS` (the others are allocated).  Without ``duals``, the firm
    segment of an offtake whose firm obligation is zero in every hour of the
    chunk is left out: it is empty, so every sum, fill and output is what it
    would be with it.  (The duals keep it: their bounds read every segment.)
    """
    base = b.base
    n, T = hi - lo, b.hours
    shape = (n, T)
    cache = {} if cache is None else cache
    f = {name: b.field(name, lo, hi) for name in PATH_FIELDS}
    avail, umin, ucost = f["unit_available_mw"], f["unit_min_mw"], f["unit_cost"]
    U, O, K = avail.shape[1], f["offtake_price"].shape[1], f["class_value"].shape[1]
    pen = float(base.unserved_penalty)
    bonus = max(pen, 0.0)
    c_diesel, c_blackout = float(base.diesel_cost), float(base.blackout_penalty)
    if "shared" not in cache:
        cache["shared"] = frozenset(name for name, a in b.arrays.items() if a.shape[0] == 1)
    shared: frozenset[str] = cache["shared"]
    into = {} if into is None else into

    def key(name: str, i: int | None = None) -> _Key:
        """The key of ``f[name]`` (row ``i``), its range cached when shared by every path."""
        a = f[name]
        a = a[:, i] if i is not None else a
        if name not in shared:
            return _Key.of(a)
        if (name, i) not in cache:
            cache[(name, i)] = _Key.of(a)
        return cache[(name, i)]

    prices = [key("offtake_price", o) for o in range(O)]
    values = [key("class_value", k) for k in range(K)]
    extremes: dict[tuple[str, int], float] = {}

    def extent(name: str, which: int) -> float:
        """The least (``which`` 0) or greatest (1) value of ``f[name]`` in the chunk."""
        v = extremes.get((name, which))
        if v is None:
            if name in ("offtake_price", "class_value"):  # from the keys' ranges
                ends = [k.hi if which else k.lo for k in (prices if name[0] == "o" else values)]
                v = np.nan if any(e != e for e in ends) else max(ends) if which else min(ends)
            else:
                a = f[name]
                v = float((np.maximum if which else np.minimum).reduce(a, axis=None))
            extremes[name, which] = v
        return v

    ok = _in_domain(f, shared, shape, (pen, c_diesel, c_blackout), cache, extent)

    def full(a: np.ndarray) -> np.ndarray:
        return a if a.shape == shape else np.broadcast_to(a, shape)

    def empty(name: str, *axes: int) -> np.ndarray:
        return into[name] if name in into else np.empty((n, *axes, T))

    H = full(f["house_load_mw"])
    F = full(_sum_rows(umin))
    ocap, firm = f["offtake_cap_mw"], f["offtake_firm_mw"]

    # --- use segments: value, capacity, in tie order (steps 1 and 2) ---
    use_key: list[_Key] = []
    use_cap: list[np.ndarray] = []
    firm_seg: list[int | None] = []  # each offtake's firm segment (None: left out)
    for o in range(O):
        price = prices[o]
        cap_o = full(ocap[:, o])
        firm_o = firm[:, o]
        if not duals:
            if "offtake_firm_mw" in shared:
                if ("firm_max", o) not in cache:
                    cache["firm_max", o] = float(firm_o.max()) if firm_o.size else 0.0
                firm_max = cache["firm_max", o]
            else:
                firm_max = float(firm_o.max()) if firm_o.size else 0.0
            if firm_max <= 0:  # min(firm, cap) = 0 wherever the data are in the domain
                firm_seg.append(None)
                use_key.append(price)
                use_cap.append(cap_o)  # cap − 0
                continue
        a = np.minimum(full(firm_o), cap_o)
        firm_seg.append(len(use_key))
        use_key += [price + bonus, price]
        use_cap += [a, cap_o - a]
    class_site = np.asarray(base.class_site, dtype=np.int64)
    sites = sorted(set(class_site.tolist()))
    caps_k = [f["class_cap_mw"][:, k] for k in range(K)]  # (n or 1, T)
    caps_s = {s: f["site_cap_mw"][:, s] for s in sites}
    mcap = f["mining_cap_mw"]
    if "mining_cap_mw" in shared and "mcap_unlimited" in cache:
        unlimited = cache["mcap_unlimited"]
    else:  # min(∞, x) = x: skip those minimums
        unlimited = not mcap.size or extent("mining_cap_mw", 0) == np.inf
        if "mining_cap_mw" in shared:
            cache["mcap_unlimited"] = unlimited
    at_site = {s: [k for k in range(K) if class_site[k] == s] for s in sites}
    fixed_caps = "class_cap_mw" in shared and "site_cap_mw" in shared
    for k in range(K):
        # Edmonds' greedy: c_k = f(P_k ∪ {k}) − f(P_k), P_k the classes ahead of k.
        ahead = {
            s: [
                _not(_lt(values[j], values[k])) if j < k else _lt(values[k], values[j])
                for j in at_site[s]
                if j != k
            ]
            for s in sites
        }
        # f(P_k ∪ {k}) and f(P_k) before the total cap depend on the shared caps and
        # on the order only: kept for the batch when neither varies by hour or path
        memo = None
        if fixed_caps and not any(isinstance(m, np.ndarray) for ms in ahead.values() for m in ms):
            memo = ("greedy", k, tuple(tuple(ms) for ms in ahead.values()))
        if memo is not None and memo in cache:
            with_k, without = cache[memo]
        else:
            with_k, without = _greedy(k, int(class_site[k]), at_site, ahead, caps_k, caps_s)
            if memo is not None:
                cache[memo] = with_k, without
        use_key.append(values[k])
        if unlimited:
            use_cap.append(full(with_k if without is None else with_k - without))
        elif without is None:  # min(mcap, 0) = 0 in every hour of the domain (mcap ≥ 0)
            use_cap.append(full(np.minimum(mcap, with_k)))
        else:
            use_cap.append(full(np.subtract(np.minimum(mcap, with_k), np.minimum(mcap, without))))

    # --- source segments: cost, ramp rank, range (step 3) ---
    ramp_rank = np.minimum(base.unit_ramp_up_mw, base.unit_ramp_down_mw).astype(float)
    src_key = [key("unit_cost", u) for u in range(U)]
    src_rank = [float(r) for r in ramp_rank]
    src_cap = [np.subtract(full(avail[:, u]), umin[:, u]) for u in range(U)]
    src_key += [key("import_price"), _Key.of(c_diesel), _Key.of(c_blackout)]
    src_rank += [np.inf, np.inf, np.inf]
    src_cap += [full(f["import_cap_mw"]), full(f["diesel_cap_mw"]), full(f["blackout_cap_mw"])]
    nu, ns = len(use_key), len(src_key)

    # uses: a strict order, value descending then position
    use_sums: dict = {}
    use_lt = {(i, j): _lt(use_key[i], use_key[j]) for i in range(nu) for j in range(i + 1, nu)}
    use_ahead = []  # A_i: the house load and the uses ahead of i
    for i in range(nu):
        ahead = [
            use_lt[i, j] if j > i else (_not(use_lt[j, i]) if j < i else False) for j in range(nu)
        ]
        use_ahead.append(_fold(H, use_cap, ahead, use_sums))
    # sources: cost, then ramp rank (least flexible first); equal (cost, rank) share pro rata
    if "unit_cost" in shared and "import_price" in shared:  # the same order for every chunk
        if "sources" not in cache:
            cache["sources"] = _source_order(src_key, src_rank)
        before, groups = cache["sources"]
    else:
        before, groups = _source_order(src_key, src_rank)
    src_sums: dict = {}  # sums from F (ahead of a source, cheaper than a use, total)
    tie_sums: dict = {}
    src_ahead = [_fold(F, src_cap, masks, src_sums) for masks in before]
    src_tie = [
        None if group is None else _fold(np.zeros(shape), src_cap, group, tie_sums)
        for group in groups
    ]

    # --- the balance (step 4) ---
    src_total = _fold(F, src_cap, [True] * ns, src_sums)
    tmp = np.empty(shape)
    q = None
    for i in range(nu):
        cheaper = _fold(F, src_cap, [_lt(src_key[j], use_key[i]) for j in range(ns)], src_sums)
        x = _clip(np.subtract(cheaper, use_ahead[i], out=tmp), use_cap[i])
        if q is None:
            q = np.add(H, x)  # H + x, as a copy of H plus x
        else:
            q += x
    if q is None:
        q = np.array(H)
    # q ≤ the use capacity, so q < F where the forced output cannot be absorbed
    ok &= np.greater_equal(np.add(q, 1e-9, out=tmp), F)
    ok &= np.greater_equal(np.add(src_total, 1e-9, out=tmp), H)

    # --- the decisions: each segment filled to clip(q − ahead, 0, cap) ---
    use_rest: list[np.ndarray] = []  # q − A_i, for the duals
    src_rest: list[np.ndarray] = []

    def fill(ahead: np.ndarray, cap: np.ndarray, dst: np.ndarray, rests: list) -> np.ndarray:
        """clip(q − ahead, 0, cap) in ``dst`` (q − ahead kept in ``rests`` for the duals)."""
        if duals:
            rest = np.subtract(q, ahead)
            rests.append(rest)
            np.maximum(rest, 0.0, out=dst)
        else:
            np.maximum(np.subtract(q, ahead, out=dst), 0.0, out=dst)
        return np.minimum(dst, cap, out=dst)

    delivered, unserved = empty("delivered_mw", O), empty("unserved_mw", O)
    mining = empty("mining_mw", K)
    no_unserved = [False] * O  # offtakes whose unserved energy is 0 in every hour
    seg = 0
    for o in range(O):
        d = delivered[:, o]
        if firm_seg[o] is None:  # the firm segment is empty: d = 0 + the rest
            fill(use_ahead[seg], use_cap[seg], d, use_rest)
            seg += 1
            if pen >= 0:  # max(firm − 0, 0) with firm ≤ 0, not NaN
                unserved[:, o] = 0.0
                no_unserved[o] = True
            else:
                unserved[:, o] = firm[:, o]
            continue
        firm_dst = np.empty(shape) if duals else tmp
        firm_mw = fill(use_ahead[seg], use_cap[seg], firm_dst, use_rest)
        fill(use_ahead[seg + 1], use_cap[seg + 1], d, use_rest)
        seg += 2
        np.add(firm_mw, d, out=d)
        if pen >= 0:
            np.subtract(firm[:, o], firm_mw, out=unserved[:, o])
            np.maximum(unserved[:, o], 0.0, out=unserved[:, o])
        else:
            unserved[:, o] = firm[:, o]
    for k in range(K):
        fill(use_ahead[seg + k], use_cap[seg + k], mining[:, k], use_rest)

    unit_mw = empty("unit_mw", U)
    imported, diesel, blackout = empty("imported_mw"), empty("diesel_mw"), empty("blackout_mw")
    src_dst = [unit_mw[:, u] for u in range(U)] + [imported, diesel, blackout]
    shares: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # by tie group
    for j in range(ns):
        tie, dst = src_tie[j], src_dst[j]
        if tie is None:
            fill(src_ahead[j], src_cap[j], dst, src_rest)
            continue
        # the members of a tie group hold the same (shared) ahead and tie arrays
        if id(tie) not in shares:
            rest = np.subtract(q, src_ahead[j])
            share = _clip(rest, tie, copy=True)
            # share / tie where tie > 0; where tie = 0 (in the domain: every range in the
            # group is 0, so tie = own range) the share itself is taken below
            with np.errstate(divide="ignore", invalid="ignore"):
                shares[id(tie)] = (rest, share, np.divide(share, tie))
        rest, share, ratio = shares[id(tie)]
        src_rest.append(rest)
        # pro rata where a partner has capacity (tie ≠ own range), else all of the share
        np.multiply(ratio, src_cap[j], out=dst)  # (a NaN of 0 / 0 raises no flag)
        np.copyto(dst, share, where=np.equal(tie, src_cap[j]))
    for u in range(U):
        np.add(umin[:, u], unit_mw[:, u], out=unit_mw[:, u])

    # --- the objective of each hour, as the LP counts it ---
    # 0 − Σ_u c·g + Σ_o p·d − pen·Σ_o uns + Σ_k v·m − c_I·imp − c_D·dsl − c_B·blk, term by
    # term in this order; the unserved energy of an offtake without a firm obligation is
    # 0 in every hour and changes no sum.
    obj = empty("objective_hourly_usd")

    def dot(coefs: list, xs: list[np.ndarray], acc: np.ndarray) -> np.ndarray | None:
        """Σ_i coefs[i]·xs[i] in ``acc``, added in the order of i as ``sum(axis=1)`` does."""
        if not xs:
            return None
        np.multiply(coefs[0], xs[0], out=acc)
        for c, x in zip(coefs[1:], xs[1:], strict=True):
            acc += np.multiply(c, x, out=tmp)
        return acc

    def coef(k: _Key, a: np.ndarray) -> float | np.ndarray:
        return k.v if isinstance(k.v, float) else a  # a constant key is every element

    spent = dot(
        [coef(src_key[u], ucost[:, u]) for u in range(U)],
        [unit_mw[:, u] for u in range(U)],
        np.empty(shape),
    )
    if spent is None:
        obj[...] = 0.0
    else:
        np.subtract(0.0, spent, out=obj)
    earned = dot(
        [coef(prices[o], f["offtake_price"][:, o]) for o in range(O)],
        [delivered[:, o] for o in range(O)],
        spent if spent is not None else np.empty(shape),
    )
    if earned is not None:
        obj += earned
    rows = [unserved[:, o] for o in range(O) if not no_unserved[o]]  # (+0 adds nothing)
    if rows:
        total = rows[0] if len(rows) == 1 else np.add(rows[0], rows[1])
        for r in rows[2:]:
            total += r
        obj -= np.multiply(pen, total, out=tmp)
    mined = dot(
        [coef(values[k], f["class_value"][:, k]) for k in range(K)],
        [mining[:, k] for k in range(K)],
        np.empty(shape),
    )
    if mined is not None:
        obj += mined
    obj -= np.multiply(coef(src_key[U], f["import_price"]), imported, out=tmp)
    obj -= np.multiply(c_diesel, diesel, out=tmp)
    obj -= np.multiply(c_blackout, blackout, out=tmp)

    mv = None
    if duals:
        mv = _balance_dual(use_key, use_cap, use_rest, src_key, src_cap, src_rest, shape)
    return _Hours(
        unit_mw=unit_mw,
        imported_mw=imported,
        delivered_mw=delivered,
        unserved_mw=unserved,
        mining_mw=mining,
        diesel_mw=diesel,
        blackout_mw=blackout,
        marginal_value=mv,
        objective_hourly_usd=obj,
        ok=ok,
    )


#: Below this a segment counts as unused, within this of its capacity as full. [MW]
_DUAL_TOL = 1e-9


def _balance_dual(
    use_key: list[_Key],
    use_cap: list[np.ndarray],
    use_rest: list[np.ndarray],
    src_key: list[_Key],
    src_cap: list[np.ndarray],
    src_rest: list[np.ndarray],
    shape: tuple[int, int],
) -> np.ndarray:
    """A dual of each hour's balance: the value of one more MW at the plant.

    The balance duals of the hour are the λ with W'(z⁺) ∨ C'(y⁻) ≤ λ ≤ W'(z⁻) ∧ C'(y⁺)
    (one-sided slopes of step 3's value and cost functions).  The lower end is
    what a free MW is worth (use it in the next use, or back off the marginal
    source); where it is −∞ (nothing could take one more MW) the upper end is
    given, and 0 where both are infinite (any λ would do).  ``*_rest`` is q
    less the capacity ahead of each segment: the segment is used where it is
    positive and full where it reaches the segment's capacity.
    """
    lo = np.full(shape, -np.inf)
    hi = np.full(shape, np.inf)
    for key, cap, rest in zip(use_key, use_cap, use_rest, strict=True):
        np.maximum(lo, key.v, out=lo, where=rest < cap - _DUAL_TOL)  # the next use
        np.minimum(hi, key.v, out=hi, where=rest > _DUAL_TOL)  # the last use served
    for key, cap, rest in zip(src_key, src_cap, src_rest, strict=True):
        np.maximum(lo, key.v, out=lo, where=rest > _DUAL_TOL)  # the marginal source
        np.minimum(hi, key.v, out=hi, where=rest < cap - _DUAL_TOL)  # the next source
    return np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0))


def _ramp_violations(b: BatchProblem, lo: int, hi: int, unit_mw: np.ndarray) -> np.ndarray:
    """(n, T) True at hour t where some ramp row between t−1 and t is exceeded.

    The steps are tested first; whether a ramp row holds there (unit available
    in both hours, ramps allowed) is looked up at the few steps too large only.
    """
    base = b.base
    n, U, T = unit_mw.shape
    viol = np.zeros((n, T), dtype=bool)
    if T < 2 or U == 0:
        return viol
    up, down = base.unit_ramp_up_mw, base.unit_ramp_down_mw
    limited = np.flatnonzero(np.isfinite(up) | np.isfinite(down))
    if not len(limited):
        return viol
    every = len(limited) == U
    g = unit_mw if every else unit_mw[:, limited]
    step = np.subtract(g[:, :, 1:], g[:, :, :-1])
    up_l, down_l = (up, down) if every else (up[limited], down[limited])
    if np.array_equal(up_l, down_l):  # −down − tol = −(up + tol) exactly: one test on |step|
        bad = np.greater(np.abs(step, out=step), (up_l + RAMP_TOL)[:, None])
    else:
        bad = np.greater(step, (up_l + RAMP_TOL)[:, None])
        bad |= np.less(step, (-down_l - RAMP_TOL)[:, None])
    p, u, t = np.unravel_index(np.flatnonzero(bad), bad.shape)  # (nonzero() is slow here)
    if not len(p):
        return viol
    u = limited[u]
    avail = b.field("unit_available_mw", lo, hi)
    allowed = b.field("ramp_allowed", lo, hi)
    pa = p if avail.shape[0] > 1 else 0
    pr = p if allowed.shape[0] > 1 else 0
    rows = ramp_row_holds(avail[pa, u, t], avail[pa, u, t + 1], allowed[pr, u, t + 1])
    viol[p[rows], t[rows] + 1] = True
    return viol


# --------------------------------------------------------------------------- #
# Exact repair with the LP: windows or the whole path
# --------------------------------------------------------------------------- #


def _hourly_objective(p: DispatchProblem, r: DispatchResult) -> np.ndarray:
    """(T,) the objective's terms of an LP result, hour by hour."""
    return (
        (p.offtake_price * r.delivered_mw).sum(axis=0)
        + (p.class_value * r.mining_mw).sum(axis=0)
        - (p.unit_cost * r.unit_mw).sum(axis=0)
        - p.import_price * r.imported_mw
        - p.unserved_penalty * r.unserved_mw.sum(axis=0)
        - p.diesel_cost * r.diesel_mw
        - p.blackout_penalty * r.blackout_mw
    )


def _write(
    view: dict[str, np.ndarray], r: DispatchResult, hourly: np.ndarray, src: slice, dst: slice
) -> None:
    """Copy hours ``src`` of an LP result (``hourly``: its objective by hour) to hours ``dst``."""
    view["unit_mw"][:, dst] = r.unit_mw[:, src]
    view["imported_mw"][dst] = r.imported_mw[src]
    view["delivered_mw"][:, dst] = r.delivered_mw[:, src]
    view["unserved_mw"][:, dst] = r.unserved_mw[:, src]
    view["mining_mw"][:, dst] = r.mining_mw[:, src]
    view["diesel_mw"][dst] = r.diesel_mw[src]
    view["blackout_mw"][dst] = r.blackout_mw[src]
    view["objective_hourly_usd"][dst] = hourly[src]


Window = tuple[int, int]  # first and last hour


def _gather(
    p: DispatchProblem,
    mask: np.ndarray,
    windows: list[Window],
    bounds: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[DispatchProblem, list[slice]]:
    """One problem of the hours of ``windows`` side by side, each cut loose from the
    hours around it (its ramp rows inside it only), and where each window lies in it.

    ``mask``: ``p.ramp_mask``.  ``bounds``: each window's unit (min, cap) arrays,
    replacing ``p``'s.  The problem has no ``index``: it is solved without
    explanations, so nothing names its hours.
    """
    idx = np.concatenate([np.arange(a, b + 1) for a, b in windows])
    spans, start = [], 0
    for a, b in windows:
        spans.append(slice(start, start + b - a + 1))
        start += b - a + 1
    allowed = mask[:, idx]
    allowed[:, [s.start for s in spans]] = False

    def cut(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else x[..., idx]

    sub = dataclasses.replace(
        p,
        unit_available_mw=cut(p.unit_available_mw),
        unit_min_mw=cut(p.unit_min_mw),
        unit_cost=cut(p.unit_cost),
        house_load_mw=cut(p.house_load_mw),
        import_price=cut(p.import_price),
        import_cap_mw=cut(p.import_cap_mw),
        offtake_price=cut(p.offtake_price),
        offtake_cap_mw=cut(p.offtake_cap_mw),
        offtake_firm_mw=cut(p.offtake_firm_mw),
        site_cap_mw=cut(p.site_cap_mw),
        class_cap_mw=cut(p.class_cap_mw),
        class_value=cut(p.class_value),
        index=None,
        diesel_cap_mw=cut(p.diesel_cap_mw),
        blackout_cap_mw=cut(p.blackout_cap_mw),
        mining_cap_mw=cut(p.mining_cap_mw),
        ramp_allowed=allowed,
    )
    if bounds is not None:
        sub = dataclasses.replace(
            sub,
            unit_min_mw=np.concatenate([lo for lo, _ in bounds], axis=1),
            unit_available_mw=np.concatenate([hi for _, hi in bounds], axis=1),
        )
    return sub, spans


def _pin(
    p: DispatchProblem, mask: np.ndarray, a: int, b: int, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The units' (min, cap) over hours a..b with the ramp rows to the fixed hours a−1
    and b+1 as bounds on the first and last hours; None when that cannot be exact.

    ``mask``: ``p.ramp_mask``."""
    T = p.hours
    h = slice(a, b + 1)
    up, down = p.unit_ramp_up_mw, p.unit_ramp_down_mw
    lower = p.unit_min_mw[:, h].copy()
    upper = p.unit_available_mw[:, h].copy()
    if a > 0:
        m = mask[:, a]
        lower[m, 0] = np.maximum(lower[m, 0], g[m, a - 1] - down[m])
        upper[m, 0] = np.minimum(upper[m, 0], g[m, a - 1] + up[m])
    if b + 1 < T:
        m = mask[:, b + 1]
        lower[m, -1] = np.maximum(lower[m, -1], g[m, b + 1] - up[m])
        upper[m, -1] = np.minimum(upper[m, -1], g[m, b + 1] + down[m])
    if (lower > upper).any():
        return None  # the window cannot meet both neighbours: grow it
    if ((upper <= 0) & (p.unit_available_mw[:, h] > 0)).any():
        return None  # a zero cap would drop ramp rows inside the window
    return lower, upper


def _joins(
    p: DispatchProblem, mask: np.ndarray, a: int, b: int, g: np.ndarray, w: np.ndarray
) -> bool:
    """Whether window solution ``w`` (U, b−a+1) meets the ramp rows to the hours around it
    (``mask``: ``p.ramp_mask``)."""
    T = p.hours
    up, down = p.unit_ramp_up_mw, p.unit_ramp_down_mw
    ok = True
    if a > 0:
        step = w[:, 0] - g[:, a - 1]
        ok &= not (mask[:, a] & ((step > up + RAMP_TOL) | (step < -down - RAMP_TOL))).any()
    if b + 1 < T:
        step = g[:, b + 1] - w[:, -1]
        ok &= not (mask[:, b + 1] & ((step > up + RAMP_TOL) | (step < -down - RAMP_TOL))).any()
    return ok


@dataclass
class _Repair:
    objective: float
    lp_hours: int
    lp_solves: int


def _whole(p: DispatchProblem, view: dict[str, np.ndarray], solves: int, label: str) -> _Repair:
    from gridhash.dispatch.lp import solve_lp

    try:
        r = solve_lp(p)
    except InfeasibleError as exc:
        raise InfeasibleError([f"{label}{reason}" for reason in exc.reasons]) from None
    every = slice(0, p.hours)
    _write(view, r, _hourly_objective(p, r), every, every)
    view["marginal_value"][:] = r.marginal_value
    return _Repair(objective=r.objective_usd, lp_hours=p.hours, lp_solves=solves + 1)


def _merge(windows: list[Window]) -> list[Window]:
    """Sorted windows, merged where fewer than one fixed hour lies between two."""
    out: list[Window] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _repair(
    p: DispatchProblem,
    view: dict[str, np.ndarray],
    violated: np.ndarray,
    fallback: Fallback,
    label: str,
) -> _Repair:
    """Make one path exact where its per-hour optimum breaks ramp rows (module docstring).

    Every round solves one LP for all pending windows side by side (they share no
    row), then one for those whose solution does not meet the fixed hours around
    them, with those ramp rows as bounds; a window whose bounded optimum falls
    short of its free one grows.
    """
    from gridhash.dispatch.lp import solve_lp

    T = p.hours
    if fallback == "path":
        return _whole(p, view, 0, label)
    g = view["unit_mw"].copy()  # the per-hour optimum the windows join
    mask = p.ramp_mask
    hours = np.flatnonzero(violated)
    windows = _merge([(max(0, t - 1 - WINDOW_PAD), min(T - 1, t + WINDOW_PAD)) for t in hours])
    # window -> (the LP result chosen, its hourly objective, the window's hours in it,
    #            the free LP result, the window's hours in that one)
    accepted: dict[Window, tuple[DispatchResult, np.ndarray, slice, DispatchResult, slice]] = {}
    solves = 0
    while True:
        pending = [w for w in windows if w not in accepted]
        if not pending:
            break
        if sum(b - a + 1 for a, b in windows) * 2 > T:
            return _whole(p, view, solves, label)
        sub, spans = _gather(p, mask, pending)
        try:
            free = solve_lp(sub, explain=False, presolve=False)
        except InfeasibleError:  # then so is the whole problem: let the LP explain
            return _whole(p, view, solves + 1, label)
        solves += 1
        free_hourly = _hourly_objective(sub, free)
        grown: list[Window] = []
        pinnable: list[tuple[Window, slice, tuple[np.ndarray, np.ndarray]]] = []
        for w, span in zip(pending, spans, strict=True):
            if _joins(p, mask, *w, g, free.unit_mw[:, span]):
                accepted[w] = (free, free_hourly, span, free, span)
                continue
            bounds = _pin(p, mask, *w, g)
            if bounds is None:
                grown.append(w)
            else:
                pinnable.append((w, span, bounds))
        if pinnable:
            psub, pspans = _gather(p, mask, [w for w, _, _ in pinnable], [x for *_, x in pinnable])
            try:
                fixed = solve_lp(psub, explain=False, presolve=False)
            except InfeasibleError:  # some window cannot meet its neighbours: grow them all
                fixed = None
            solves += 1
            fixed_hourly = None if fixed is None else _hourly_objective(psub, fixed)
            for (w, span, _), pspan in zip(pinnable, pspans, strict=True):
                if fixed is not None and fixed_hourly is not None:
                    bound = float(free_hourly[span].sum())
                    tol = WINDOW_REL * (1.0 + float(np.abs(free_hourly[span]).sum()))
                    if float(fixed_hourly[pspan].sum()) >= bound - tol:
                        accepted[w] = (fixed, fixed_hourly, pspan, free, span)
                        continue
                grown.append(w)
        wider = [(max(0, a - (b - a + 1)), min(T - 1, b + (b - a + 1))) for a, b in grown]
        windows = _merge([w for w in windows if w in accepted] + wider)
        accepted = {w: v for w, v in accepted.items() if w in windows}

    covered = np.zeros(T, dtype=bool)
    for (a, b), (chosen, hourly, span, free, free_span) in accepted.items():
        dst = slice(a, b + 1)
        _write(view, chosen, hourly, span, dst)
        view["marginal_value"][dst] = free.marginal_value[free_span]
        covered[dst] = True
    objective = float(view["objective_hourly_usd"].sum())
    return _Repair(objective=objective, lp_hours=int(covered.sum()), lp_solves=solves)


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
    imp = import_limit(arrays["import_cap_mw"], arrays["house_load_mw"],
                       arrays["unit_available_mw"])
    arrays["import_cap_mw"] = imp
    if imp.shape[0] > 1:
        varies.add("import_cap_mw")
    if b.base.grid_first:
        price = grid_first_price(arrays["offtake_price"], arrays["class_value"],
                                 arrays["class_cap_mw"])
        arrays["offtake_price"] = price
        if price.shape[0] > 1:
            varies.add("offtake_price")
    return dataclasses.replace(b, arrays=arrays, varies=frozenset(varies))


def solve_fast_batch(
    problem: BatchProblem | DispatchProblem,
    *,
    outputs: Collection[str] | None = None,
    chunk_size: int | None = None,
    workers: int | None = 1,
    fallback: Fallback = "window",
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
    premium = (np.subtract(batch.arrays["offtake_price"], given.arrays["offtake_price"])
               if batch.base.grid_first else None)
    base = batch.base
    N, T = batch.n_paths, batch.hours
    U, O = base.unit_available_mw.shape[0], base.offtake_price.shape[0]
    K = base.class_cap_mw.shape[0]
    shapes = {
        "unit_mw": (N, U, T),
        "imported_mw": (N, T),
        "delivered_mw": (N, O, T),
        "unserved_mw": (N, O, T),
        "mining_mw": (N, K, T),
        "diesel_mw": (N, T),
        "blackout_mw": (N, T),
        "marginal_value": (N, T),
        "objective_hourly_usd": (N, T),
    }
    out = {name: np.empty(shapes[name]) for name in keep}
    objective = np.empty(N)
    certified = np.empty(N, dtype=bool)
    lp_hours = np.zeros(N, dtype=np.int64)
    size = max(1, CHUNK_HOURS // max(T, 1)) if chunk_size is None else int(chunk_size)
    if size < 1:
        raise ValueError(f"chunk_size must be at least 1 (got {chunk_size})")
    duals = "marginal_value" in keep

    cache: dict = {}  # tests and ranges of the arrays every path shares

    def run(lo: int, hi: int) -> tuple[int, int]:
        # the merit order writes the kept outputs in place; the others are scratch
        into = {name: out[name][lo:hi] for name in keep if name != "marginal_value"}
        h = _merit_order(batch, lo, hi, duals=duals, cache=cache, into=into)
        violated = _ramp_violations(batch, lo, hi, h.unit_mw)
        infeasible = ~h.ok.all(axis=1)
        cert = ~infeasible & ~violated.any(axis=1)
        obj = h.objective_hourly_usd.sum(axis=1)
        if h.marginal_value is not None:
            out["marginal_value"][lo:hi] = h.marginal_value
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
                "marginal_value": (
                    out["marginal_value"][lo:hi] if duals else np.zeros((hi - lo, T))
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
