"""Exact dispatch without an LP solver for most hours: merit order per hour, with a certificate.

The dispatch LP of :mod:`gridhash.dispatch.problem` couples its hours only
through the units' ramp rows.  Drop them and it falls apart into one small LP
per hour, and that LP has a closed-form (merit-order) solution computed here
with numpy for all hours of many paths at once.  If the per-hour optimum also
meets every ramp row, it is optimal for the full problem (the *certificate*);
where it does not, the hours around the violations are solved exactly by
:func:`~gridhash.dispatch.lp.solve_lp`, in windows whose exactness is checked
by a bound (below), or as a whole path.

The modules, by job: :mod:`~gridhash.dispatch.fast.batch` (the batch of
problems and its results), :mod:`~gridhash.dispatch.fast.merit` (the merit
order, steps 1–5 below; :mod:`gridhash.dispatch.merit_spec` is its plain
spec), :mod:`~gridhash.dispatch.fast.certificate` (the ramp rows checked),
:mod:`~gridhash.dispatch.fast.windows` (exact LP windows) and
:mod:`~gridhash.dispatch.fast.driver` (chunks of paths through all three).

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

from gridhash.dispatch.fast.batch import (
    OUTPUTS,
    PATH_FIELDS,
    BatchProblem,
    Fallback,
    FastBatchResult,
    FastResult,
)
from gridhash.dispatch.fast.certificate import RAMP_TOL
from gridhash.dispatch.fast.driver import CHUNK_HOURS, solve_fast, solve_fast_batch
from gridhash.dispatch.fast.windows import WINDOW_PAD, WINDOW_REL

__all__ = [
    "CHUNK_HOURS",
    "OUTPUTS",
    "PATH_FIELDS",
    "RAMP_TOL",
    "WINDOW_PAD",
    "WINDOW_REL",
    "BatchProblem",
    "Fallback",
    "FastBatchResult",
    "FastResult",
    "solve_fast",
    "solve_fast_batch",
]
