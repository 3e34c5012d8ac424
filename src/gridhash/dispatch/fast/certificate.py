"""The certificate: the per-hour optimum is optimal when it meets every ramp row."""

from __future__ import annotations

import numpy as np

from gridhash.dispatch.fast.batch import BatchProblem
from gridhash.dispatch.problem import ramp_row_holds

#: Ramp rows may be exceeded by this much (HiGHS's primal feasibility tolerance). [MW]
RAMP_TOL = 1e-7

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
    up, down = base.unit_ramp_up_mw_per_h, base.unit_ramp_down_mw_per_h
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


