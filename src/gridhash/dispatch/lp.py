"""The exact optimum of a :class:`DispatchProblem` with HiGHS (through highspy).

The model is assembled as one sparse matrix in compressed-column form from
index arithmetic on numpy arrays (no Python loop over variables or hours).
Variable bounds are column bounds; only the energy balance, firm obligations,
shared site capacity, the total mining cap and ramps are rows. Steps, in the manner of PyPSA's
optimisation code: :func:`_layout` (variables), :func:`_rows` (constraints),
:func:`_objective`, :func:`_highs` (the solve), then :func:`_unpack` (post-processing,
including the marginal value of a MW at the plant from the balance duals).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridhash.dispatch.problem import DispatchProblem, with_dispatch_rules
from gridhash.dispatch.result import DispatchResult, hourly_objective
from gridhash.errors import DispatchError, InfeasibleError

INF = np.inf

_STDOUT_LOCK = threading.Lock()


def new_highs():  # -> highspy.Highs (imported lazily)
    """A silent ``highspy.Highs``: no banner, no log, whatever the highspy version.

    highspy (1.16 at least) prints its "Running HiGHS ..." banner on the C-level
    standard output while the object is constructed, before any option can be
    set; that would corrupt ``--json`` output and progress bars.  The
    construction runs with file descriptor 1 pointed at the null device (C's
    buffers flushed before it is restored), then ``output_flag`` is turned off.
    """
    import highspy

    with _STDOUT_LOCK:
        try:
            sys.stdout.flush()
            fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
            saved = os.dup(fd)
        except (AttributeError, OSError, ValueError):  # no real stdout: nothing to protect
            h = highspy.Highs()
        else:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, fd)
                h = highspy.Highs()
                _flush_c_stdio()
            finally:
                os.dup2(saved, fd)
                os.close(saved)
                os.close(devnull)
    h.setOptionValue("output_flag", False)
    return h


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers so that nothing written now appears after fd 1 is restored."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # no C library by that name
        ctypes.CDLL(None).fflush(None)


@dataclass(frozen=True)
class _Layout:
    """Offsets of each variable block in the column vector."""

    U: int
    O: int
    K: int
    T: int

    @property
    def g(self) -> int:
        return 0

    @property
    def imp(self) -> int:
        return self.U * self.T

    @property
    def d(self) -> int:
        return self.imp + self.T

    @property
    def uns(self) -> int:
        return self.d + self.O * self.T

    @property
    def m(self) -> int:
        return self.uns + self.O * self.T

    @property
    def dsl(self) -> int:
        return self.m + self.K * self.T

    @property
    def blk(self) -> int:
        return self.dsl + self.T

    @property
    def n(self) -> int:
        return self.blk + self.T


def _layout(p: DispatchProblem) -> tuple[_Layout, np.ndarray, np.ndarray]:
    U, T = p.unit_available_mw.shape
    L = _Layout(U=U, O=p.offtake_price_usd_per_mwh.shape[0], K=p.class_cap_mw.shape[0], T=T)
    lower = np.concatenate(
        [
            p.unit_min_mw.ravel(),
            np.zeros(T),
            np.zeros(L.O * T),
            np.zeros(L.O * T),
            np.zeros(L.K * T),
            np.zeros(2 * T),
        ]
    )
    upper = np.concatenate(
        [
            p.unit_available_mw.ravel(),
            p.import_cap_mw,
            p.offtake_cap_mw.ravel(),
            p.offtake_firm_mw.ravel(),
            p.class_cap_mw.ravel(),
            p.diesel(),
            p.blackout(),
        ]
    )
    return L, lower, upper


def _objective(p: DispatchProblem, L: _Layout) -> np.ndarray:
    """Column costs of the minimisation (the negative of the value maximised)."""
    return np.concatenate(
        [
            p.unit_cost_usd_per_mwh.ravel(),
            p.import_price_usd_per_mwh,
            -p.offtake_price_usd_per_mwh.ravel(),
            np.full(L.O * L.T, p.unserved_penalty),
            -p.class_value_usd_per_mwh.ravel(),
            np.full(L.T, p.diesel_cost),
            np.full(L.T, p.blackout_penalty),
        ]
    )


@dataclass(frozen=True)
class _Rows:
    matrix: sp.csc_matrix
    lower: np.ndarray
    upper: np.ndarray
    # row blocks, for the duals and the infeasibility explanation
    n_balance: int
    ramp_at: np.ndarray  # (n_ramp, 2) unit, hour


def _rows(p: DispatchProblem, L: _Layout) -> _Rows:
    T = L.T
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    r0 = 0

    def add(r: np.ndarray, c: np.ndarray, v: float | np.ndarray) -> None:
        rows.append(r)
        cols.append(c)
        vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))

    # Energy balance: Σg + imp − Σd − Σm = house, one row per hour.
    t = np.arange(T)
    add(np.tile(t, L.U), L.g + np.arange(L.U * T), 1.0)
    add(t, L.imp + t, 1.0)
    add(np.tile(t, L.O), L.d + np.arange(L.O * T), -1.0)
    add(np.tile(t, L.K), L.m + np.arange(L.K * T), -1.0)
    add(t, L.dsl + t, 1.0)
    add(t, L.blk + t, 1.0)
    lo.append(p.house_load_mw)
    hi.append(p.house_load_mw)
    r0 += T

    # Firm obligations: d + uns ≥ firm, only where firm > 0.
    o_idx, t_idx = np.nonzero(p.offtake_firm_mw > 0)
    n_firm = len(o_idx)
    r = r0 + np.arange(n_firm)
    flat = o_idx * T + t_idx
    add(r, L.d + flat, 1.0)
    add(r, L.uns + flat, 1.0)
    lo.append(p.offtake_firm_mw[o_idx, t_idx])
    hi.append(np.full(n_firm, INF))
    r0 += n_firm

    # Site capacity: a row only for the (site, hour) pairs where the classes at the
    # site could together draw more than it can take; elsewhere the column bounds
    # already keep it.
    S = p.site_cap_mw.shape[0]
    total = np.zeros((S, T))
    np.add.at(total, p.class_site, p.class_cap_mw)
    s_idx, t_idx = np.nonzero(total > p.site_cap_mw + 1e-9)
    n_site = len(s_idx)
    row_of = np.full((S, T), -1)
    row_of[s_idx, t_idx] = r0 + np.arange(n_site)
    if L.K and n_site:
        rows_k = row_of[p.class_site]  # (K, T)
        kk, tt = np.nonzero(rows_k >= 0)
        add(rows_k[kk, tt], L.m + kk * T + tt, 1.0)
    lo.append(np.full(n_site, -INF))
    hi.append(p.site_cap_mw[s_idx, t_idx])
    r0 += n_site

    # Total mining (safety envelope): only the hours where the classes could draw more.
    if p.mining_cap_mw is not None and L.K:
        t_idx = np.flatnonzero(p.class_cap_mw.sum(axis=0) > p.mining_cap_mw + 1e-9)
        n_mcap = len(t_idx)
        r = r0 + np.arange(n_mcap)
        add(np.repeat(r, L.K), L.m + (np.arange(L.K)[None, :] * T + t_idx[:, None]).ravel(), 1.0)
        lo.append(np.full(n_mcap, -INF))
        hi.append(p.mining_cap_mw[t_idx])
        r0 += n_mcap

    # Ramps: −down ≤ g[u,t] − g[u,t−1] ≤ up, where the unit is available both hours.
    u_idx, t_idx = np.nonzero(p.ramp_mask)
    n_ramp = len(u_idx)
    r = r0 + np.arange(n_ramp)
    add(r, L.g + u_idx * T + t_idx, 1.0)
    add(r, L.g + u_idx * T + t_idx - 1, -1.0)
    lo.append(-p.unit_ramp_down_mw_per_h[u_idx])
    hi.append(p.unit_ramp_up_mw_per_h[u_idx])
    r0 += n_ramp

    matrix = _csc(np.concatenate(vals), np.concatenate(rows), np.concatenate(cols), (r0, L.n))
    return _Rows(
        matrix=matrix,
        lower=np.concatenate(lo),
        upper=np.concatenate(hi),
        n_balance=T,
        ramp_at=np.stack([u_idx, t_idx], axis=1),
    )


def _csc(
    vals: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
) -> sp.csc_matrix:
    """The compressed-column matrix of entries that are each at a distinct (row, column).

    The same matrix as ``sp.csc_matrix((vals, (rows, cols)), shape)``, whose
    conversion from coordinates checks and sums duplicates: this one sorts the
    entries by column (stable, so within a column by the order they were added)
    and hands the arrays over without copies.  For the small window LPs of the
    fast path that conversion cost about as much as HiGHS's solve.
    """
    order = np.argsort(cols, kind="stable")
    indptr = np.zeros(shape[1] + 1, dtype=np.int32)
    np.cumsum(np.bincount(cols, minlength=shape[1]), out=indptr[1:])
    return sp.csc_matrix((vals[order], rows[order].astype(np.int32), indptr), shape=shape)


def _highs(
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    matrix: sp.csc_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    *,
    threads: int | None = None,
    presolve: bool = True,
):  # -> highspy.Highs (imported lazily)
    import highspy

    h = new_highs()
    if threads:
        h.setOptionValue("threads", threads)
    if not presolve:
        h.setOptionValue("presolve", "off")
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = matrix.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = col_lower
    lp.col_upper_ = col_upper
    lp.row_lower_ = np.where(np.isfinite(row_lower), row_lower, -highspy.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(row_upper), row_upper, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.a_matrix_.num_col_ = len(cost)
    lp.a_matrix_.num_row_ = matrix.shape[0]
    h.passModel(lp)
    return h


def solve_lp(
    problem: DispatchProblem, *, explain: bool = True, presolve: bool = True
) -> DispatchResult:
    """Solve the dispatch problem to optimality with HiGHS.

    The imports and grid-first rules (:func:`~gridhash.dispatch.problem.with_dispatch_rules`)
    apply first.

    Parameters
    ----------
    problem : DispatchProblem
        The arrays of the problem.
    explain : bool, default True
        On infeasibility, solve an elastic version of the problem to name the
        constraints that cannot be met and the first hour each fails.
    presolve : bool, default True
        HiGHS's presolve.  Off for the fast path's window LPs (tens of hours),
        where it costs more than it saves (benchmarks/README.md, "Figures behind
        the code").

    Raises
    ------
    InfeasibleError
        No dispatch meets every constraint; its ``reasons`` say which and when.
    DispatchError
        The solver stopped for another reason (time limit, numerical trouble).
    """
    import highspy

    t0 = time.perf_counter()
    given, problem = problem, with_dispatch_rules(problem)
    L, col_lower, col_upper = _layout(problem)
    cost = _objective(problem, L)
    rows = _rows(problem, L)
    h = _highs(cost, col_lower, col_upper, rows.matrix, rows.lower, rows.upper,
               presolve=presolve)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    status = h.getModelStatus()
    status_text = h.modelStatusToString(status)
    if status == highspy.HighsModelStatus.kInfeasible:
        reasons = explain_infeasibility(problem) if explain else [status_text]
        raise InfeasibleError(reasons)
    if status != highspy.HighsModelStatus.kOptimal:
        raise DispatchError(f"HiGHS stopped without an optimum: {status_text}")
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    duals = np.asarray(sol.row_dual)
    result = _unpack(
        problem,
        L,
        rows,
        x,
        duals,
        status_text,
        t1 - t0,
        t2 - t1,
        -float(h.getInfo().objective_function_value),
    )
    if problem.grid_first:  # the objective at the prices paid, not the priority prices
        premium = ((problem.offtake_price_usd_per_mwh - given.offtake_price_usd_per_mwh)
                   * result.delivered_mw).sum(axis=0)  # (T,)
        result = dataclasses.replace(
            result, objective_usd=result.objective_usd - float(premium.sum()),
            objective_hourly_usd=result.objective_hourly_usd - premium)
    return result


def _unpack(
    p: DispatchProblem,
    L: _Layout,
    rows: _Rows,
    x: np.ndarray,
    duals: np.ndarray,
    status: str,
    build_s: float,
    solve_s: float,
    objective: float,
) -> DispatchResult:
    T = L.T

    def block(start: int, n: int) -> np.ndarray:
        return x[start : start + n * T].reshape(n, T)

    # The solver returns values within its feasibility tolerance; clip to the
    # column bounds so that no reported MW is negative or above a limit.
    decisions = {
        "unit_mw": np.clip(block(L.g, L.U), p.unit_min_mw, p.unit_available_mw),
        "imported_mw": np.clip(x[L.imp : L.imp + T], 0.0, p.import_cap_mw),
        "delivered_mw": np.clip(block(L.d, L.O), 0.0, p.offtake_cap_mw),
        "unserved_mw": np.clip(block(L.uns, L.O), 0.0, p.offtake_firm_mw),
        "mining_mw": np.clip(block(L.m, L.K), 0.0, p.class_cap_mw),
        "diesel_mw": np.clip(x[L.dsl : L.dsl + T], 0.0, p.diesel()),
        "blackout_mw": np.clip(x[L.blk : L.blk + T], 0.0, p.blackout()),
    }
    return DispatchResult(
        **decisions,
        objective_hourly_usd=hourly_objective(p, **decisions),
        # HiGHS reports d(objective)/d(row bound) for the minimisation; the balance row's
        # right-hand side is the house load, so one more MW at the plant is worth the dual.
        marginal_value_usd_per_mwh=duals[: rows.n_balance].copy(),
        objective_usd=objective,
        status=status,
        solver="highs",
        build_seconds=build_s,
        solve_seconds=solve_s,
    )


# --------------------------------------------------------------------------- #
# Infeasibility
# --------------------------------------------------------------------------- #


def explain_infeasibility(p: DispatchProblem, *, limit: int = 6) -> list[str]:
    """Name the constraints that cannot be met, with the first hour of each.

    Solves the elastic problem: every balance and ramp row gets a non-negative
    slack on each side and the total slack is minimised.  Rows whose slack is
    positive at the optimum are the ones that cannot be met together.
    """
    import highspy

    p = with_dispatch_rules(p)
    L, col_lower, col_upper = _layout(p)
    rows = _rows(p, L)
    n_rows = rows.matrix.shape[0]
    elastic = np.concatenate(
        [np.arange(rows.n_balance), n_rows - len(rows.ramp_at) + np.arange(len(rows.ramp_at))]
    )
    n_el = len(elastic)
    # Two slack columns per elastic row: +s_plus − s_minus.
    slack = sp.csc_matrix(
        (
            np.concatenate([np.ones(n_el), -np.ones(n_el)]),
            (np.concatenate([elastic, elastic]), np.arange(2 * n_el)),
        ),
        shape=(n_rows, 2 * n_el),
    )
    matrix = sp.hstack([rows.matrix, slack], format="csc")
    cost = np.concatenate([np.zeros(L.n), np.ones(2 * n_el)])
    h = _highs(
        cost,
        np.concatenate([col_lower, np.zeros(2 * n_el)]),
        np.concatenate([col_upper, np.full(2 * n_el, INF)]),
        matrix,
        rows.lower,
        rows.upper,
    )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # pragma: no cover
        return ["the solver reports the problem infeasible, and the elastic check failed too"]
    x = np.asarray(h.getSolution().col_value)
    s_plus, s_minus = x[L.n : L.n + n_el], x[L.n + n_el :]
    tol = 1e-6
    reasons: list[str] = []
    T = L.T

    bal_plus = s_plus[:T] > tol  # supply short: house load cannot be met
    bal_minus = s_minus[:T] > tol  # forced output has nowhere to go
    if bal_minus.any():
        t = int(np.argmax(bal_minus))
        absorb = p.house_load_mw[t] + p.offtake_cap_mw[:, t].sum() + p.class_cap_mw[:, t].sum()
        reasons.append(
            f"energy balance, first at {p.when(t)} and in {int(bal_minus.sum())} hour(s): "
            f"units must generate at least {p.unit_min_mw[:, t].sum():,.1f} MW "
            f"(minimum stable output and ramp-down limits) but house load, lines/offtakes and "
            f"mining can absorb at most {absorb:,.1f} MW"
        )
    if bal_plus.any():
        t = int(np.argmax(bal_plus))
        reasons.append(
            f"energy balance, first at {p.when(t)} and in {int(bal_plus.sum())} hour(s): "
            f"house load of {p.house_load_mw[t]:,.1f} MW cannot be supplied: units can give "
            f"at most {p.unit_available_mw[:, t].sum():,.1f} MW, imports over the lines in "
            f"service at most {p.import_cap_mw[t]:,.1f} MW and diesel at most "
            f"{p.diesel()[t]:,.1f} MW"
        )
    r_plus = s_plus[T:] > tol
    r_minus = s_minus[T:] > tol
    for viol, word, limits in (
        (r_plus, "ramp-down", p.unit_ramp_down_mw_per_h),  # a fall too steep needs +slack
        (r_minus, "ramp-up", p.unit_ramp_up_mw_per_h),
    ):
        if viol.any():
            at = rows.ramp_at[viol]
            for u in np.unique(at[:, 0]):
                hours = at[at[:, 0] == u, 1]
                reasons.append(
                    f"{word} limit of unit {p.unit_names[u]!r} ({limits[u]:,.1f} MW/h), first "
                    f"at {p.when(int(hours.min()))} and in {len(hours)} hour(s)"
                )
    if not reasons:  # pragma: no cover - the elastic problem always locates the conflict
        reasons.append("the solver reports the problem infeasible; no single constraint located")
    return reasons[:limit]
