"""The fast path's batch: N problems that share a base, and their results.

:class:`BatchProblem` holds the arrays of :data:`PATH_FIELDS` with a leading
path axis; :class:`FastResult` and :class:`FastBatchResult` hold the optimum.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gridhash.dispatch.problem import DispatchProblem
from gridhash.dispatch.result import DispatchResult
from gridhash.scenario.arrays import absent_values, arrays, declare, is_static, series_fields

Fallback = Literal["window", "path"]

#: Arrays of a :class:`DispatchProblem` that may vary by path, with their axes
#: after the path axis (U units, O offtakes, S sites, K classes, T hours): the
#: problem's arrays with an hour axis (:mod:`gridhash.scenario.arrays`).
PATH_FIELDS: dict[str, str] = series_fields("problem")
#: Their dtypes, and what an optional one means when the base has none.
_DTYPES: dict[str, np.dtype] = {a.name: np.dtype(a.dtype) for a in arrays("problem")}
_ABSENT: dict[str, float | bool] = absent_values("problem")

#: Hourly arrays a result can hold (``outputs=`` of :func:`solve_fast_batch`).
OUTPUTS: tuple[str, ...] = tuple(a.name for a in arrays("result"))
#: ... of which the decisions (the others: the balance dual and the hourly objective).
DECISIONS: tuple[str, ...] = tuple(n for n in OUTPUTS
                                   if n not in ("marginal_value_usd_per_mwh",
                                                "objective_hourly_usd"))


# --------------------------------------------------------------------------- #
# The batch of problems
# --------------------------------------------------------------------------- #


def _default(base: DispatchProblem, name: str) -> np.ndarray | None:
    """The base's array for ``name``, or what ``None`` means for the optional ones."""
    value = getattr(base, name)
    if value is not None:
        return value
    shape = base.unit_available_mw.shape if PATH_FIELDS[name] == "UT" else (base.hours,)
    return np.full(shape, _ABSENT[name], dtype=_DTYPES[name])


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
            the base's (e.g. ``offtake_price_usd_per_mwh`` of shape ``(N, O, T)``) is per path;
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
            "O": base.offtake_price_usd_per_mwh.shape[0],
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
            dtype = _DTYPES[name]
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

    @property
    def static(self) -> frozenset[str]:
        """The fields that hold one value for the whole horizon in each path, known from
        their layout (:func:`~gridhash.scenario.arrays.is_static`): a scenario value given
        as one number (resolution keeps it a broadcast view), or a per-path array given
        without its hours (``(N, O, 1)``).  The fast path reads one hour of these
        instead of scanning every hour to find them constant."""
        return frozenset(name for name, a in self.arrays.items() if is_static(a))

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


@declare("result", frozen=True, eq=False)
class FastResult:
    """The optimal dispatch of one problem: the arrays of :class:`DispatchResult` (in LP
    hours ``objective_hourly_usd`` is the value of the LP's decisions, so its sum is
    ``objective_usd`` to the LP's tolerances), and how it was found.

    Attributes
    ----------
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
            **{name: getattr(self, name) for name in OUTPUTS},
            objective_usd=self.objective_usd,
            status="Optimal",
            solver="fast" if self.certified else "fast+highs",
            build_seconds=0.0,
            solve_seconds=self.seconds,
            certified=self.certified,
            lp_hours=self.lp_hours,
        )


@declare("result", leading="N", optional=True, frozen=True, eq=False)
class FastBatchResult:
    """The optimal dispatch of every path of a :class:`BatchProblem`: the arrays of
    :class:`DispatchResult` with the path axis first, each ``None`` when left out by
    ``outputs=``, and per path how it was found.

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


