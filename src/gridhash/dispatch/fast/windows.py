"""Exact repair with the LP where the certificate fails: windows of hours around the
ramp violations, checked exact against an upper bound, else grown; or the whole path."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gridhash.dispatch.fast.batch import DECISIONS, PATH_FIELDS, Fallback
from gridhash.dispatch.fast.certificate import RAMP_TOL
from gridhash.dispatch.problem import DispatchProblem
from gridhash.dispatch.result import DispatchResult
from gridhash.errors import InfeasibleError

#: A window bounded by its neighbours must reach its free optimum to this much of its
#: gross value (Σ_t |objective_t|).
WINDOW_REL = 1e-9
#: Hours added on each side of a ramp violation for its first window.
WINDOW_PAD = 12

# --------------------------------------------------------------------------- #
# Exact repair with the LP: windows or the whole path
# --------------------------------------------------------------------------- #


def _write(
    view: dict[str, np.ndarray], r: DispatchResult, hourly: np.ndarray, src: slice, dst: slice
) -> None:
    """Copy hours ``src`` of an LP result (``hourly``: its objective by hour) to hours ``dst``
    (every output but the marginal value, which the caller takes from the free window)."""
    for name in DECISIONS:
        view[name][..., dst] = getattr(r, name)[..., src]
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
        **{name: cut(getattr(p, name)) for name in PATH_FIELDS if name != "ramp_allowed"},
        index=None,
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
    up, down = p.unit_ramp_up_mw_per_h, p.unit_ramp_down_mw_per_h
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
    up, down = p.unit_ramp_up_mw_per_h, p.unit_ramp_down_mw_per_h
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
    _write(view, r, r.objective_hourly_usd, every, every)
    view["marginal_value_usd_per_mwh"][:] = r.marginal_value_usd_per_mwh
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
        free_hourly = free.objective_hourly_usd
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
            fixed_hourly = None if fixed is None else fixed.objective_hourly_usd
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
        view["marginal_value_usd_per_mwh"][dst] = free.marginal_value_usd_per_mwh[free_span]
        covered[dst] = True
    objective = float(view["objective_hourly_usd"].sum())
    return _Repair(objective=objective, lp_hours=int(covered.sum()), lp_solves=solves)


