"""The merit order of one hour, written plainly: the spec of :mod:`gridhash.dispatch.fast.merit`.

Steps 1–5 of :mod:`gridhash.dispatch.fast`, for one problem, one hour at a time,
in Python floats: make the use and source segments, put them in merit order,
fill them from the top.  The kernel computes the same for all hours of many
paths at once with numpy.  Every sum here adds its terms in segment order (as
the kernel does, whatever the merit order), so the two agree to the last bit;
``tests/dispatch/test_merit_spec.py`` holds them equal, and this equal to the LP
where no ramp row binds.  A test oracle, not a hot path: it loops over hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridhash.dispatch.problem import DispatchProblem

#: Below this a segment counts as unused, within this of its capacity as full. [MW]
DUAL_TOL = 1e-9


@dataclass(frozen=True)
class Segment:
    """A block of use or supply: its value or cost [USD/MWh], capacity [MW], ramp rank."""

    key: float
    cap: float
    rank: float = math.inf  # sources: the unit's smaller ramp rate (least flexible first)


def _clip(x: float, cap: float) -> float:
    return min(max(x, 0.0), cap)


def _sum(start: float, caps: list[float], which: list[bool]) -> float:
    """start + the capacities picked by ``which``, added in segment order."""
    for c, w in zip(caps, which, strict=True):
        if w:
            start += c
    return start


def uses(p: DispatchProblem, t: int) -> list[Segment]:
    """Steps 1–2: each offtake's firm and other demand, then each class's greedy share."""
    bonus = max(p.unserved_penalty, 0.0)
    out = []
    for o in range(len(p.offtake_names)):
        price, cap = float(p.offtake_price_usd_per_mwh[o, t]), float(p.offtake_cap_mw[o, t])
        firm = min(float(p.offtake_firm_mw[o, t]), cap)
        out += [Segment(price + bonus, firm), Segment(price, cap - firm)]
    value = [float(v) for v in p.class_value_usd_per_mwh[:, t]]
    kcap = [float(c) for c in p.class_cap_mw[:, t]]
    mcap = math.inf if p.mining_cap_mw is None else float(p.mining_cap_mw[t])
    sites = sorted(set(p.class_site.tolist()))
    for k in range(len(value)):
        # Edmonds' greedy: c_k = f(P_k ∪ {k}) − f(P_k), P_k the classes ahead of k
        # (higher value; on equal value, listed first).
        ahead = [value[j] > value[k] or (value[j] == value[k] and j < k) for j in range(len(value))]
        with_k = without = None
        for s in sites:
            at_s = [j for j in range(len(value)) if p.class_site[j] == s and j != k]
            picked = [j for j in at_s if ahead[j]]
            before = _sum(0.0, [kcap[j] for j in picked], [True] * len(picked)) if picked else None
            scap = float(p.site_cap_mw[s, t])
            part = None if before is None else min(scap, before)
            if s == p.class_site[k]:
                part_k: float | None = min(scap, kcap[k] if before is None else before + kcap[k])
            else:
                part_k = part
            if part is not None:
                without = part if without is None else without + part
            if part_k is not None:
                with_k = part_k if with_k is None else with_k + part_k
        assert with_k is not None
        cap = min(mcap, with_k) - (0.0 if without is None else min(mcap, without))
        out.append(Segment(value[k], cap))
    return out


def sources(p: DispatchProblem, t: int) -> list[Segment]:
    """Step 3: each unit above its minimum, imports, diesel, house load left unsupplied."""
    rank = np.minimum(p.unit_ramp_up_mw_per_h, p.unit_ramp_down_mw_per_h)
    out = [
        Segment(float(p.unit_cost_usd_per_mwh[u, t]),
                float(p.unit_available_mw[u, t] - p.unit_min_mw[u, t]), float(rank[u]))
        for u in range(len(p.unit_names))
    ]
    return [
        *out,
        Segment(float(p.import_price_usd_per_mwh[t]), float(p.import_cap_mw[t])),
        Segment(float(p.diesel_cost), float(p.diesel()[t])),
        Segment(float(p.blackout_penalty), float(p.blackout()[t])),
    ]


def merit_order_hour(p: DispatchProblem, t: int) -> dict[str, np.ndarray | float] | None:
    """The optimum of hour ``t`` without ramp rows (steps 1–5); None when infeasible."""
    use, src = uses(p, t), sources(p, t)
    H = float(p.house_load_mw[t])
    F = _sum(0.0, [float(m) for m in p.unit_min_mw[:, t]], [True] * len(p.unit_names))
    ucap, scap = [s.cap for s in use], [s.cap for s in src]
    # Merit order: uses by value (highest first), sources by cost then rank (cheapest and
    # least flexible first); a use or source is ahead of another, or tied with it.
    use_ahead = [_sum(H, ucap, [a.key > b.key or (a.key == b.key and j < i)
                                for j, a in enumerate(use)]) for i, b in enumerate(use)]
    src_ahead = [_sum(F, scap, [(a.key, a.rank) < (b.key, b.rank) for a in src]) for b in src]
    tie = [_sum(0.0, scap, [(a.key, a.rank) == (b.key, b.rank) for a in src]) for b in src]
    # Step 4, the balance: match the best uses with the cheapest sources while value > cost.
    q = H
    for s, ahead in zip(use, use_ahead, strict=True):
        q += _clip(_sum(F, scap, [a.key < s.key for a in src]) - ahead, s.cap)
    if q + 1e-9 < F or _sum(F, scap, [True] * len(src)) + 1e-9 < H:
        return None
    # Prefix fill: each segment takes what is left of q after the segments ahead of it;
    # sources tied in cost and rank share their part in proportion to their ranges (step 5).
    used = [_clip(q - a, s.cap) for s, a in zip(use, use_ahead, strict=True)]
    supplied = []
    for s, a, tied in zip(src, src_ahead, tie, strict=True):
        share = _clip(q - a, tied)
        supplied.append(share if tied == s.cap else share / tied * s.cap)
    U, O = len(p.unit_names), len(p.offtake_names)
    unit = [float(p.unit_min_mw[u, t]) + supplied[u] for u in range(U)]
    delivered = [used[2 * o] + used[2 * o + 1] for o in range(O)]
    firm = [float(p.offtake_firm_mw[o, t]) for o in range(O)]
    pen = p.unserved_penalty
    unserved = [max(firm[o] - used[2 * o], 0.0) if pen >= 0 else firm[o] for o in range(O)]
    mining = used[2 * O:]
    imported, diesel, blackout = supplied[U:]
    # The hour's objective, term by term as the LP counts it.
    obj = 0.0 - _dot([s.key for s in src[:U]], unit)
    obj += _dot([float(x) for x in p.offtake_price_usd_per_mwh[:, t]], delivered)
    obj -= pen * _dot([1.0] * O, unserved) if O else 0.0
    obj += _dot([s.key for s in use[2 * O:]], mining)
    obj -= src[U].key * imported
    obj -= src[U + 1].key * diesel
    obj -= src[U + 2].key * blackout
    # A balance dual: the value of one more MW (the next use, or backing off the marginal
    # source), else the cost of the next source, else 0.
    lo, hi = -math.inf, math.inf
    for s, a in zip(use, use_ahead, strict=True):
        lo = max(lo, s.key) if q - a < s.cap - DUAL_TOL else lo
        hi = min(hi, s.key) if q - a > DUAL_TOL else hi
    for s, a in zip(src, src_ahead, strict=True):
        lo = max(lo, s.key) if q - a > DUAL_TOL else lo
        hi = min(hi, s.key) if q - a < s.cap - DUAL_TOL else hi
    dual = lo if math.isfinite(lo) else hi if math.isfinite(hi) else 0.0
    return {"unit_mw": np.array(unit), "imported_mw": imported, "delivered_mw": np.array(delivered),
            "unserved_mw": np.array(unserved), "mining_mw": np.array(mining), "diesel_mw": diesel,
            "blackout_mw": blackout, "marginal_value_usd_per_mwh": dual,
            "objective_hourly_usd": obj}


def _dot(coefs: list[float], xs: list[float]) -> float:
    """Σ coefs·xs in order (the first product is the start, as numpy's row sums)."""
    if not xs:
        return 0.0
    acc = coefs[0] * xs[0]
    for c, x in zip(coefs[1:], xs[1:], strict=True):
        acc += c * x
    return acc
