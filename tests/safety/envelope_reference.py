"""The safety envelope as first written: dense (paths, units, hours) arrays throughout.

A frozen copy of ``gridhash.safety.envelope.envelope_arrays`` before it was made
event-sparse (rules evaluated on the hours their conditions hold, session 3), kept
as the oracle the property tests compare the production code with.  Explanations
are left out; the arithmetic is the original's, line for line.  Do not "fix" it to
match the production code: a difference is what the tests are for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gridhash.scenario.resolve import fleet_cap, offtake_caps
from gridhash.scenario.safety import MODES

P, HSB, HSD, CSD, RF = range(5)
_EPS = 1e-9


def runs(cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each hour: hours the condition has held so far (−1 where false) and the
    last hour of its run (−1 where false)."""
    T = cond.shape[-1]
    idx = np.arange(T, dtype=np.int32)
    last_false = np.maximum.accumulate(np.where(cond, np.int32(-1), idx), axis=-1)
    elapsed = np.where(cond, idx - last_false - 1, -1)
    next_false = np.minimum.accumulate(
        np.where(cond, np.int32(T), idx)[..., ::-1], axis=-1
    )[..., ::-1]
    return elapsed, np.where(cond, next_false - 1, -1)



def reference_envelope_arrays(
    inputs: Any,
    rules: Any,
    *,
    quantities: dict[str, np.ndarray],
    unit_available_mw: np.ndarray,
    unit_min_mw: np.ndarray,
    outage_depth: np.ndarray,
    initial_depth: np.ndarray,
    line_in_service: np.ndarray,
    margin_mw: float,
    index: Any = None,
    explain: bool = False,
) -> tuple[dict[str, np.ndarray], list[Any]]:
    """The envelope's arrays, for one path or many at once.

    Every array may carry leading path axes: quantities (..., T), availability,
    minimums and outage depths (..., U, T), lines (..., L, T).  With ``explain``
    (one path only) the activations that explain each limit are returned too.
    Static parts (capacities, ramps, demand, house load, the fleet) come from
    ``inputs``.
    """
    avail = unit_available_mw
    T = avail.shape[-1]
    U = avail.shape[-2]
    lead = avail.shape[:-2]
    explain = explain and not lead
    idx = np.arange(T)
    tr = rules.transitions
    unit_pos = {n: i for i, n in enumerate(inputs.unit_names)}
    ramp_dn = inputs.unit_ramp_down_mw_per_h
    cap_u = inputs.unit_capacity_mw
    q = {k: np.broadcast_to(v, (*lead, T)) for k, v in quantities.items()}
    need = np.zeros((*lead, U, T), dtype=np.int8)  # deepest mode required
    cap_rule = np.full((*lead, U, T), np.inf)  # output caps from rules and approaches
    blocked = np.zeros((*lead, T), dtype=bool)
    mining_cap_rule = np.full((*lead, T), np.inf)
    # Hours something limits the plant: the union of what the activations explain.
    restricted = np.zeros((*lead, T), dtype=bool)

    # Rules act on few hours of each path: update the (..., U, T) arrays only there.
    def raise_need(sel: np.ndarray, mask: np.ndarray, level: int) -> None:
        nz = np.nonzero(mask)
        if not nz[-1].size:
            return
        for u in sel:
            pos = (*nz[:-1], u, nz[-1])
            need[pos] = np.maximum(need[pos], level)

    def lower_cap(sel: np.ndarray, mask: np.ndarray, value: Callable[[int, tuple], Any]) -> None:
        nz = np.nonzero(mask)
        if not nz[-1].size:
            return
        for u in sel:
            pos = (*nz[:-1], u, nz[-1])
            cap_rule[pos] = np.minimum(cap_rule[pos], value(int(u), nz))

    for rule, cond_spec in zip(rules.rules, rules.conditions, strict=True):
        cond = np.asarray(cond_spec.evaluate(q), dtype=bool)
        if not cond.any():
            continue
        elapsed, run_end = runs(cond)
        onset = idx - elapsed
        for a in rule.actions:
            C = a.within_hours
            active = cond & (elapsed >= C)
            D = onset + C
            persists = cond & (run_end >= D)
            before = persists & (elapsed < C)
            sel = (np.array([unit_pos[n] for n in a.units if n in unit_pos], dtype=np.int64)
                   if a.units else np.arange(U))
            restricted |= active
            if a.kind == "block_mining":
                blocked |= active
            elif a.kind == "mining_cap_mw":
                mining_cap_rule = np.where(active, np.minimum(mining_cap_rule, a.mining_cap_mw),
                                           mining_cap_rule)
            elif a.kind == "max_output_fraction":
                f = a.max_output_fraction
                lower_cap(sel, active, lambda u, nz, f=f: f * cap_u[u])
                steps = D - idx
                slow = [u for u in sel if np.isfinite(ramp_dn[u])]
                lower_cap(np.array(slow, dtype=np.int64), before,
                          lambda u, nz, f=f, steps=steps: f * cap_u[u] + ramp_dn[u] * steps[nz])
                ramping = np.zeros_like(before)
                if before.any() and slow and len(sel):
                    lim = np.min([f * cap_u[u] + ramp_dn[u] * np.maximum(steps, 0)
                                  for u in slow], axis=0)
                    ramping = before & (lim < avail[..., sel, :].max(axis=-2) - 1e-6)
                restricted |= ramping
            else:  # mode
                m = MODES.index(a.mode)
                raise_need(sel, active, m)
                off = 0
                for j in range(m, 1, -1):  # reach mode j−1 early enough for the step j−1 → j
                    off += tr[(MODES[j - 1], MODES[j])]
                    raise_need(sel, persists & (idx >= D - off) & (idx < D), j - 1)
                first_nonpower = D - off
                zero_from = first_nonpower - tr[(MODES[P], MODES[HSB])]
                at_zero = persists & (idx >= zero_from) & (idx < first_nonpower)
                approach = persists & (idx < zero_from)
                lower_cap(sel, at_zero, lambda u, nz: 0.0)
                steps = zero_from - idx
                slow = [u for u in sel if np.isfinite(ramp_dn[u])]
                lower_cap(np.array(slow, dtype=np.int64), approach,
                          lambda u, nz, steps=steps: ramp_dn[u] * steps[nz])
                down = persists & (idx < D) & (idx >= zero_from)
                if approach.any():
                    ramped = np.zeros_like(approach)
                    for u in slow:
                        ramped |= ramp_dn[u] * np.maximum(steps, 0) < avail[..., u, :] - 1e-6
                    down |= approach & ramped
                restricted |= down
    # Outages hold a unit down: tripped to hot shutdown, cold after the cooldown time.
    out = outage_depth
    out_el, _ = runs(out > 0)
    cool = tr[(MODES[HSD], MODES[CSD])]
    out_need = np.where(out > 0, np.where(out_el < cool, HSD, out), 0)
    need = np.maximum(need, out_need)

    mode = climb(need, initial_depth, tr)
    # Start-ups: hours a unit is held below power by transition times alone.
    starting = (mode > 0) & (need == 0) & (avail > 0)
    restricted |= starting.any(axis=-2)
    cap = np.where(mode == P, avail, 0.0)
    cap = np.maximum(np.minimum(cap, cap_rule), 0.0)
    min_stable = unit_min_mw
    unit_min = np.where((cap >= min_stable - _EPS) & (cap > 0), np.minimum(min_stable, cap), 0.0)
    ramp_ok = _ramp_allowed(cap, min_stable, ramp_dn)

    # Lines, offtakes, imports --------------------------------------------------------
    line_cap = np.where(line_in_service, inputs.line_capacity_mw, 0.0)
    offtake_cap = offtake_caps(inputs, line_cap)
    house = inputs.house_load_mw
    import_cap = np.minimum(house, line_cap.sum(axis=-2))

    # Mining ---------------------------------------------------------------------------
    allowed_out = cap.sum(axis=-2)
    m_cap = np.maximum(0.0, allowed_out - house - margin_mw)
    held_back = (cap < avail - 1e-6).any(axis=-2)
    first_shed = np.maximum(0.0, allowed_out - house - margin_mw - offtake_cap.sum(axis=-2))
    m_cap = np.where(held_back, np.minimum(m_cap, first_shed), m_cap)
    m_cap = np.minimum(m_cap, mining_cap_rule)
    fleet = fleet_cap(inputs)
    m_cap = np.where(blocked, 0.0, np.minimum(m_cap, fleet))
    import_cap = np.where(m_cap > _EPS, 0.0, import_cap)
    # Load rejection: where the grid, house load and mining together cannot take the
    # units' minimum stable output (a line cut with mining blocked), the units run
    # back below it (or trip to hot standby); the LP has no unit commitment, so the
    # minimum is lifted for that hour and ramps are lifted into and out of it.
    absorb = house + offtake_cap.sum(axis=-2) + m_cap
    runback = unit_min.sum(axis=-2) > absorb + 1e-6
    if runback.any():
        unit_min = np.where(runback[..., None, :], 0.0, unit_min)
        lifted = runback.copy()
        lifted[..., 1:] |= runback[..., :-1]
        ramp_ok &= ~lifted[..., None, :]
    shed = held_back & ~blocked & (first_shed < fleet - _EPS)
    restricted |= runback | shed
    arrays = {
        "unit_mode": mode,
        "unit_cap_mw": cap,
        "unit_min_mw": unit_min,
        "ramp_allowed": ramp_ok,
        "offtake_cap_mw": offtake_cap,
        "import_cap_mw": import_cap,
        "mining_blocked": blocked,
        "mining_cap_mw": m_cap,
        "max_net_output_mw": np.maximum(0.0, allowed_out - house),
        "restricted": restricted,
    }
    return arrays, []



def climb(need: np.ndarray, initial: np.ndarray, tr: dict[tuple[str, str], int]) -> np.ndarray:
    """The mode trajectory: at least ``need``, and back up only as fast as transitions allow.

    Released from mode L at hour s (the last hour something held it there), a unit
    stays in L for the L → L−1 minimum time, then in L−1 for its own, and so on:
    it is at depth ≥ k at hour t iff for some L ≥ k the last hour s ≤ t with
    need[s] ≥ L satisfies t − s ≤ Σ_{j=k..L} up(j → j−1).  The initial mode acts
    as the need of hour −1.  One running maximum per level, no loop over hours.
    """
    T = need.shape[-1]
    first = np.broadcast_to(initial[:, None], (*need.shape[:-1], 1)).astype(need.dtype)
    ext = np.concatenate([first, need], axis=-1)
    idx = np.arange(-1, T, dtype=np.int32)
    never = np.int32(-(1 << 30))
    up = [0] + [tr[(MODES[j], MODES[j - 1])] for j in range(1, len(MODES))]
    cum = np.cumsum(up)  # cum[j] = Σ_{i≤j} up(i → i−1)
    # With a_L = (hours since last held at ≥ L) − cum[L], depth ≥ k iff
    # min_{L≥k} a_L ≤ −cum[k−1]: suffix minima, one comparison per level.
    suffix: np.ndarray | None = None
    depth = np.zeros(need.shape, dtype=need.dtype)
    for L in range(len(MODES) - 1, 0, -1):
        last = np.maximum.accumulate(np.where(ext >= L, idx, never), axis=-1)
        a = (idx - last)[..., 1:] - np.int32(cum[L])
        suffix = a if suffix is None else np.minimum(a, suffix, out=a)
        depth += suffix <= -np.int32(cum[L - 1])
    return np.maximum(depth, need)



def _ramp_allowed(cap: np.ndarray, min_stable: np.ndarray, ramp_dn: np.ndarray) -> np.ndarray:
    """Where the units' ramp limits apply between hour t−1 and t.

    Not at hour 0; not where the unit is off in either hour (a start at minimum
    stable output, or a trip); not where the envelope cuts the cap faster than the
    unit can ramp (a runback at a condition's onset); not where the cap changes
    across the minimum stable output (the unit passes through its low range on
    the way down or starts at minimum on the way up).
    """
    ok = np.zeros_like(cap, dtype=bool)
    a, b = cap[..., :-1], cap[..., 1:]
    changed = np.abs(b - a) > 1e-6
    low = (a < min_stable[..., :-1] - _EPS) | (b < min_stable[..., 1:] - _EPS)
    runback = b < a - ramp_dn[:, None] - 1e-6
    ok[..., 1:] = (a > 0) & (b > 0) & ~runback & ~(changed & low)
    return ok
