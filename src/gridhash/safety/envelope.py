"""State + events + rules → the hourly operating envelope the dispatch must obey.

The envelope says, for every hour: the mode each unit is in, how much it may
make (``unit_cap_mw``) and must make when it runs (``unit_min_mw``), where its
ramp limits apply, which lines are in service, what the diesel generators can
supply, whether mining is allowed and how much it may draw — and why.

How a rule acts (Technical-Specification style).  A condition that starts at
hour ``h0`` and holds through hour ``t`` has held for ``t − h0`` hours at ``t``
(0 in its first hour).  An action with completion time ``C`` applies from the
hour the condition has held ``C`` hours: a 72 h completion time is met by a
condition lasting 72 hours (hours ``h0 … h0+71``) and triggers when it lasts 73.
Planning knows the scenario's events, so when a required mode will be due (the
condition lasts to its deadline) the envelope starts the way down in time: the
unit reaches the intermediate modes early enough for each step's minimum time,
and its output falls at its ramp-down rate to reach zero when it must leave
power operation.  Nothing is anticipated before the condition begins: at its
onset a unit may have to run back faster than its ramp (the ramp row is lifted
for that hour, as for a trip).

Coming back: once no rule or outage holds a unit, it climbs one mode at a time,
spending each step's minimum time (:data:`gridhash.safety.rules.DEFAULT_TRANSITIONS`
unless the scenario overrides them): from cold shutdown it needs 32 h to make
power again.

Mining: blocked while any blocking rule acts; capped by rules; never more than
the output the envelope allows minus house load minus the margin; and whenever
the envelope holds output below what the units could make, mining gets only
what the grid cannot take (mining is shed first).  While mining is allowed the
plant imports nothing, so mining never runs on imported or diesel power.

Everything is computed on whole hourly arrays (run lengths with running
maxima/minima, windows with cumulative sums); the loops are over rules, actions
and modes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.safety.rules import RuleSet
from gridhash.safety.state import PlantState
from gridhash.scenario.grid import import_cap_mw
from gridhash.scenario.resolve import fleet_cap, offtake_caps
from gridhash.scenario.safety import MODES
from gridhash.scenario.series import hour_stamp

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.resolve import Inputs

P, HSB, HSD, CSD, RF = range(5)
_EPS = 1e-9


@dataclass(frozen=True)
class Activation:
    """A stretch of hours [start, end) during which something limited the plant."""

    rule: str  # rule name, or "" for mode transitions
    kind: str  # "action" | "approach" | "startup" | "runback"
    start: int
    end: int
    onset: int  # first hour of the condition (= start for startups)
    effect: str  # what was limited, in words
    condition: str  # the condition, or why


@dataclass(frozen=True, eq=False)
class Envelope:
    """The hourly operating envelope (see the module docstring)."""

    index: pd.DatetimeIndex | None
    unit_names: tuple[str, ...]
    unit_mode: np.ndarray  # (U, T) int, index into MODES
    unit_cap_mw: np.ndarray  # (U, T)
    unit_min_mw: np.ndarray  # (U, T)
    ramp_allowed: np.ndarray  # (U, T) bool
    line_in_service: np.ndarray  # (L, T) bool
    offtake_cap_mw: np.ndarray  # (O, T) lines in service and demand
    import_cap_mw: np.ndarray  # (T,)
    diesel_cap_mw: np.ndarray  # (T,)
    diesel_cost: float
    blackout_penalty: float
    mining_blocked: np.ndarray  # (T,) bool: a rule blocks mining
    mining_cap_mw: np.ndarray  # (T,) what mining may draw in all (≤ the fleet)
    max_net_output_mw: np.ndarray  # (T,) maximum net output: allowed generation − house load
    restricted: np.ndarray  # (T,) bool: some rule, approach, start-up, runback or shed limits
    margin_mw: float
    activations: tuple[Activation, ...]
    state: PlantState
    rules: RuleSet

    @property
    def hours(self) -> int:
        return self.unit_cap_mw.shape[1]

    @property
    def max_gross_output_mw(self) -> np.ndarray:
        """(T,) what the units may generate in all, house load included. [MW]"""
        return self.unit_cap_mw.sum(axis=0)

    @property
    def mining_allowed(self) -> np.ndarray:
        """(T,) bool: mining may draw something this hour."""
        return self.mining_cap_mw > _EPS

    @property
    def on_diesel(self) -> np.ndarray:
        return self.state.quantities["on_diesel"] > 0

    def restriction(self) -> np.ndarray:
        """(T,) object array of strings: what limited the plant each hour ('' when nothing).

        Each limit reads ``rule: effect [condition since ...; from to until]``.
        """
        parts: list[list[str]] = [[] for _ in range(self.hours)]
        for a in self.activations:
            label = f"{a.rule}: {a.effect}" if a.rule else a.effect
            label += (
                f" [{a.condition}; {hour_stamp(self.index, a.start)}"
                f" to {hour_stamp(self.index, a.end)}]"
            )
            for t in range(a.start, a.end):
                parts[t].append(label)
        return np.array(["; ".join(p) for p in parts], dtype=object)

    def rule_activations(self) -> dict[str, int]:
        """{rule: number of times its actions took effect} (approaches not counted)."""
        spans: dict[str, list[tuple[int, int]]] = {}
        for a in self.activations:
            if a.kind == "action" and a.rule:
                spans.setdefault(a.rule, []).append((a.start, a.end))
        out = {}
        for rule, s in spans.items():
            mask = np.zeros(self.hours + 1, dtype=bool)
            for a, b in s:
                mask[a:b] = True
            out[rule] = int((mask[1:] & ~mask[:-1]).sum() + mask[0])
        return dict(sorted(out.items()))


# --------------------------------------------------------------------------- #
# Array helpers
# --------------------------------------------------------------------------- #


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


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a (T,) mask."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))


@dataclass(frozen=True, eq=False)
class _Runs:
    """The hours a condition holds, one entry each, in (row, hour) order.

    For rows of a (rows, T) condition: ``pos`` the flat position row·T + hour,
    ``row`` and ``hour``, the ``onset`` (first hour) and ``end`` (last hour) of
    the run the hour belongs to, and ``elapsed`` = hour − onset, as :func:`runs`
    gives them for the true hours.  Conditions hold on a small part of a path, so
    this is much less work than whole-array running maxima.
    """

    pos: np.ndarray
    row: np.ndarray
    hour: np.ndarray
    onset: np.ndarray
    end: np.ndarray
    elapsed: np.ndarray
    hours: int

    @classmethod
    def of(cls, cond: np.ndarray) -> _Runs | None:
        """From a (rows, T) bool array; ``None`` when it never holds."""
        T = cond.shape[-1]
        pos = np.flatnonzero(cond)
        if not pos.size:
            return None
        row, hour = np.divmod(pos, T)
        starts = np.ones(pos.size, dtype=bool)
        starts[1:] = (pos[1:] != pos[:-1] + 1) | (hour[1:] == 0)
        run = np.cumsum(starts) - 1
        last = np.empty_like(starts)
        last[:-1] = starts[1:]
        last[-1] = True
        onset = hour[starts][run]
        return cls(pos=pos, row=row, hour=hour, onset=onset, end=hour[last][run],
                   elapsed=hour - onset, hours=T)

    def tile(self, rows: int) -> _Runs:
        """The runs of a one-row condition, repeated in each of ``rows`` rows."""
        if rows == 1:
            return self
        T = self.hours
        row = np.repeat(np.arange(rows), self.hour.size)

        def rep(a: np.ndarray) -> np.ndarray:
            return np.tile(a, rows)

        hour = rep(self.hour)
        return _Runs(pos=row * T + hour, row=row, hour=hour, onset=rep(self.onset),
                     end=rep(self.end), elapsed=rep(self.elapsed), hours=T)

    def unit_index(self, mask: np.ndarray, units: np.ndarray, U: int, T: int) -> np.ndarray:
        """Flat positions in a (rows, U, T) array of the hours in ``mask``, for ``units``:
        shape (hours in mask, len(units))."""
        base = self.row[mask] * (U * T) + self.hour[mask]
        return base[:, None] + np.asarray(units)[None, :] * T

    def avail(self, avail: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(hours in mask, U): a (rows, U, T) array at those hours."""
        return avail[self.row[mask], :, self.hour[mask]]

    def dense(self, mask: np.ndarray) -> np.ndarray:
        """(T,) bool of one row (explanations: one path only)."""
        out = np.zeros(self.hours, dtype=bool)
        out[self.hour[mask]] = True
        return out

    def dense_values(self, values: np.ndarray) -> np.ndarray:
        """(T,) of one row: ``values`` at the hours held, −1 elsewhere."""
        out = np.full(self.hours, -1, dtype=np.int64)
        out[self.hour] = values
        return out


# --------------------------------------------------------------------------- #
# The envelope
# --------------------------------------------------------------------------- #


def envelope_kwargs(inputs: Inputs, state: PlantState) -> dict[str, Any]:
    """The keyword arguments of :func:`envelope_arrays` for one plant state (one path)."""
    return {
        "quantities": state.quantities,
        "unit_available_mw": inputs.unit_available_mw,
        "unit_min_mw": inputs.unit_min_mw,
        "outage_depth": state.unit_outage_depth,
        "initial_depth": state.unit_initial_depth,
        "line_in_service": state.line_in_service,
        "margin_mw": state.margin_mw,
        "index": state.index,
    }


def compute_envelope(inputs: Inputs, state: PlantState, rules: RuleSet) -> Envelope:
    """Turn the plant state and the rules into the hourly operating envelope."""
    arrays, acts = envelope_arrays(inputs, rules, **envelope_kwargs(inputs, state), explain=True)
    return Envelope(
        index=state.index,
        unit_names=inputs.unit_names,
        unit_mode=arrays["unit_mode"].astype(np.int64),  # int8 inside; int64 as before
        unit_cap_mw=arrays["unit_cap_mw"],
        unit_min_mw=arrays["unit_min_mw"],
        ramp_allowed=arrays["ramp_allowed"],
        line_in_service=state.line_in_service,
        offtake_cap_mw=arrays["offtake_cap_mw"],
        import_cap_mw=arrays["import_cap_mw"],
        diesel_cap_mw=state.diesel_cap_mw,
        diesel_cost=state.diesel_cost,
        blackout_penalty=state.blackout_penalty,
        mining_blocked=arrays["mining_blocked"],
        mining_cap_mw=arrays["mining_cap_mw"],
        max_net_output_mw=arrays["max_output_mw"],
        restricted=arrays["restricted"],
        margin_mw=state.margin_mw,
        activations=tuple(sorted(acts, key=lambda a: (a.start, a.rule))),
        state=state,
        rules=rules,
    )


def envelope_arrays(
    inputs: Inputs,
    rules: RuleSet,
    *,
    quantities: dict[str, np.ndarray],
    unit_available_mw: np.ndarray,
    unit_min_mw: np.ndarray,
    outage_depth: np.ndarray,
    initial_depth: np.ndarray,
    line_in_service: np.ndarray,
    margin_mw: float,
    index: pd.DatetimeIndex | None = None,
    explain: bool = False,
) -> tuple[dict[str, np.ndarray], list[Activation]]:
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
    tr = rules.transitions
    unit_pos = {n: i for i, n in enumerate(inputs.unit_names)}
    ramp_dn = inputs.unit_ramp_down_mw
    cap_u = inputs.unit_capacity_mw
    acts: list[Activation] = []

    def when(t: int) -> str:
        return hour_stamp(index, t)

    # Rules act on the hours their conditions hold, a small part of each path: they
    # are worked out on those hours only (:class:`_Runs`, one entry per hour held)
    # and written into flat (paths·units·hours) arrays there.
    M = int(np.prod(lead, dtype=np.int64)) if lead else 1
    need = np.zeros((M, U, T), dtype=np.int8)  # deepest mode required, unit by unit
    need_all = np.zeros((M, T), dtype=np.int8)  # ... of every unit (most rules)
    # Output caps from rules and approaches, as (flat positions, values) applied to the
    # cap once it is known (a minimum, so the order does not matter).
    cap_rule: list[tuple[np.ndarray, np.ndarray | float]] = []
    blocked = np.zeros((M, T), dtype=bool)
    mining_cap_rule = np.full((M, T), np.inf)
    # Hours something limits the plant: the union of what the activations explain.
    restricted = np.zeros((M, T), dtype=bool)
    need_f, need_all_f = need.reshape(-1), need_all.reshape(-1)
    blocked_f, mcap_f, restricted_f = (blocked.reshape(-1), mining_cap_rule.reshape(-1),
                                      restricted.reshape(-1))
    avail_m = avail.reshape(M, U, T)

    def raise_need(r: _Runs, sel: np.ndarray, mask: np.ndarray, level: int) -> None:
        if not (len(sel) and mask.any()):
            return
        if len(sel) == U and U:  # every unit: once per hour
            at = r.pos[mask]
            need_all_f[at] = np.maximum(need_all_f[at], level)
        else:
            at = r.unit_index(mask, sel, U, T)
            need_f[at] = np.maximum(need_f[at], level)

    def lower_cap(r: _Runs, sel: np.ndarray, mask: np.ndarray, value: np.ndarray | float
                  ) -> None:
        """cap ≤ value ((hours in mask, len(sel)) or broadcastable) there."""
        if len(sel) and mask.any():
            cap_rule.append((r.unit_index(mask, sel, U, T), value))

    for rule, cond_spec in zip(rules.rules, rules.conditions, strict=True):
        # Conditions on quantities without a path axis (staff, cooling water, ...) are
        # worked out once and their runs repeated in every path.
        cond = np.asarray(cond_spec.evaluate(quantities), dtype=bool)
        if cond.ndim <= 1:
            r = _Runs.of(np.broadcast_to(cond, (1, T)))
            r = None if r is None else r.tile(M)
        else:
            r = _Runs.of(np.broadcast_to(cond, (*lead, T)).reshape(M, T))
        if r is None:
            continue
        t = r.hour
        for a in rule.actions:
            C = a.within_hours
            active = r.elapsed >= C
            D = r.onset + C
            persists = r.end >= D
            before = persists & ~active
            sel = (np.array([unit_pos[n] for n in a.units if n in unit_pos], dtype=np.int64)
                   if a.units else np.arange(U))
            slow = sel[np.isfinite(ramp_dn[sel])]
            restricted_f[r.pos[active]] = True
            if explain:
                for s, e in spans(r.dense(active)):
                    o = int(r.dense_values(r.onset)[s])
                    acts.append(
                        Activation(rule.name, "action", s, e, o,
                                   a.describe() if C == 0 else
                                   f"{a.describe().rsplit(' within', 1)[0]} (due {when(s)})",
                                   f"{cond_spec.text} since {when(o)}")
                    )
            if a.kind == "block_mining":
                blocked_f[r.pos[active]] = True
            elif a.kind == "mining_cap_mw":
                at = r.pos[active]
                mcap_f[at] = np.minimum(mcap_f[at], a.mining_cap_mw)
            elif a.kind == "max_output_fraction":
                f = a.max_output_fraction
                lower_cap(r, sel, active, f * cap_u[sel])
                steps = (D - t)[before]
                lower_cap(r, slow, before, f * cap_u[slow] + ramp_dn[slow] * steps[:, None])
                ramping = np.zeros_like(before)
                if before.any() and len(slow):
                    lim = (f * cap_u[slow] + ramp_dn[slow] * np.maximum(steps, 0)[:, None]
                           ).min(axis=1)
                    most = r.avail(avail_m, before)[:, sel].max(axis=1)
                    ramping[before] = lim < most - 1e-6
                restricted_f[r.pos[ramping]] = True
                if explain:
                    for s, e in spans(r.dense(ramping)):
                        acts.append(Activation(rule.name, "approach", s, e,
                                               int(r.dense_values(r.onset)[s]),
                                               f"ramping down to {f:.0%} by "
                                               f"{when(int(r.dense_values(D)[s]))}",
                                               cond_spec.text))
            else:  # mode
                m = MODES.index(a.mode)
                raise_need(r, sel, active, m)
                off = 0
                for j in range(m, 1, -1):  # reach mode j−1 early enough for the step j−1 → j
                    off += tr[(MODES[j - 1], MODES[j])]
                    raise_need(r, sel, persists & (t >= D - off) & (t < D), j - 1)
                first_nonpower = D - off
                zero_from = first_nonpower - tr[(MODES[P], MODES[HSB])]
                at_zero = persists & (t >= zero_from) & (t < first_nonpower)
                approach = persists & (t < zero_from)
                lower_cap(r, sel, at_zero, 0.0)
                steps = zero_from - t
                lower_cap(r, slow, approach, ramp_dn[slow] * steps[approach][:, None])
                down = persists & (t < D) & (t >= zero_from)
                if approach.any() and len(slow):
                    room = ramp_dn[slow] * np.maximum(steps[approach], 0)[:, None]
                    ramped = (room < r.avail(avail_m, approach)[:, slow] - 1e-6).any(axis=1)
                    down[approach] |= ramped
                restricted_f[r.pos[down]] = True
                if explain:
                    for s, e in spans(r.dense(down)):
                        acts.append(Activation(rule.name, "approach", s, e,
                                               int(r.dense_values(r.onset)[s]),
                                               f"going down to {a.mode} by "
                                               f"{when(int(r.dense_values(D)[s]))}",
                                               cond_spec.text))

    # Outages hold a unit down: tripped to hot shutdown, cold after the cooldown time.
    cool = tr[(MODES[HSD], MODES[CSD])]
    out_need = _outage_need(np.broadcast_to(outage_depth, avail.shape).reshape(M * U, T), cool)
    np.maximum(need, out_need.reshape(M, U, T), out=need)
    np.maximum(need, need_all[:, None, :], out=need)
    need = need.reshape(*lead, U, T)
    blocked = blocked.reshape(*lead, T)
    mining_cap_rule = mining_cap_rule.reshape(*lead, T)
    restricted = restricted.reshape(*lead, T)

    mode = climb(need, initial_depth, tr)
    # Start-ups: hours a unit is held below power by transition times alone.
    # (mode ≥ need everywhere, and differs from it only on the staircases after drops.)
    lifted = np.flatnonzero(mode != need)
    at = lifted[(need.reshape(-1)[lifted] == 0) & (avail.reshape(-1)[lifted] > 0)]
    restricted.reshape(-1)[at // (U * T) * T + at % T] = True
    if explain:
        starting = np.zeros(mode.shape, dtype=bool)
        starting.reshape(-1)[at] = True
        for u in range(U):
            for s, e in spans(starting[u]):
                acts.append(Activation("", "startup", s, e, s,
                                       f"{inputs.unit_names[u]} starting up from "
                                       f"{MODES[int(mode[u, s])]}", "mode transition times"))

    cap = np.where(mode == P, avail, 0.0)
    cap_f = cap.reshape(-1)
    for at, value in cap_rule:
        cap_f[at] = np.minimum(cap_f[at], value)
    np.maximum(cap, 0.0, out=cap)
    min_stable = unit_min_mw
    unit_min = np.minimum(min_stable, cap)
    below_min = cap < min_stable - _EPS
    # (Where cap = 0 the minimum is 0 already: cap ≥ 0 and min_stable ≥ 0.)
    np.copyto(unit_min, 0.0, where=below_min)
    ramp_ok = _ramp_allowed(cap, below_min, ramp_dn)

    # Lines, offtakes, imports --------------------------------------------------------
    line_cap = np.where(line_in_service, inputs.line_capacity_mw, 0.0)
    offtake_cap = offtake_caps(inputs, line_cap)
    house = inputs.house_load_mw
    import_cap = import_cap_mw(house, line_cap, inputs.import_limit_mw)

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
        if explain:
            for s, e in spans(runback):
                acts.append(Activation("", "runback", s, e, s,
                                       "runback: the grid cannot take the units' minimum output",
                                       "lines in service, house load and mining"))
    shed = held_back & ~blocked & (first_shed < fleet - _EPS)
    restricted |= runback | shed
    if explain:
        for s, e in spans(shed):
            acts.append(Activation("mining-first-shed", "action", s, e, s,
                                   "output held back: the grid takes what there is before "
                                   "mining", "output below what the units could make"))
    arrays = {
        "unit_mode": mode,
        "unit_cap_mw": cap,
        "unit_min_mw": unit_min,
        "ramp_allowed": ramp_ok,
        "offtake_cap_mw": offtake_cap,
        "import_cap_mw": import_cap,
        "mining_blocked": blocked,
        "mining_cap_mw": m_cap,
        "max_output_mw": np.maximum(0.0, allowed_out - house),
        "restricted": restricted,
    }
    return arrays, acts


def climb(need: np.ndarray, initial: np.ndarray, tr: dict[tuple[str, str], int]) -> np.ndarray:
    """The mode trajectory: at least ``need``, and back up only as fast as transitions allow.

    Released from mode L at hour s (the last hour something held it there), a unit
    stays in L for the L → L−1 minimum time, then in L−1 for its own, and so on:
    it is at depth ≥ k at hour t iff for some L ≥ k the last hour s ≤ t with
    need[s] ≥ L satisfies t − s ≤ Σ_{j=k..L} up(j → j−1).  The initial mode acts
    as the need of hour −1.

    The last hours at a level are the hours where the need drops (need[s] = a >
    need[s+1]), and the deepest release there, L = a, reaches furthest: depth ≥ k
    on s+1 … s + Σ_{j=k..a} up.  So the trajectory is the need, raised after each
    drop by a short staircase (at most Σ up hours); drops are few, and only their
    staircases are written.
    """
    shape = need.shape
    T = shape[-1]
    rows = need.reshape(-1, T)
    R = rows.shape[0]
    up = [0] + [tr[(MODES[j], MODES[j - 1])] for j in range(1, len(MODES))]
    cum = np.cumsum(up)  # cum[j] = Σ_{i≤j} up(i → i−1)
    # stair[a][d−1]: the depth d hours after a release from a = #{k ≥ 1 : d ≤ cum[a] − cum[k−1]}
    width = int(cum[-1])
    stair = np.zeros((len(MODES), max(width, 1)), dtype=need.dtype)
    for a in range(1, len(MODES)):
        for d in range(1, int(cum[a]) + 1):
            stair[a, d - 1] = sum(1 for k in range(1, a + 1) if d <= cum[a] - cum[k - 1])
    r, s = np.divmod(np.flatnonzero(rows[:, :-1] > rows[:, 1:]), max(T - 1, 1))  # (nonzero: slower)
    level = rows[r, s]
    init = np.broadcast_to(np.asarray(initial, dtype=need.dtype)[:, None],
                           (*shape[:-2], shape[-2], 1)).reshape(R)
    first = np.flatnonzero(init > rows[:, 0])  # released at hour −1 from the initial mode
    r = np.concatenate([first, r])
    s = np.concatenate([np.full(first.size, -1), s])
    level = np.concatenate([init[first], level]).astype(np.int64)
    out = rows.copy()
    if r.size and width:
        span = cum[level]  # hours each release's staircase lasts
        n = np.repeat(np.arange(r.size), span)
        d = np.arange(n.size) - np.repeat(np.cumsum(span) - span, span) + 1
        t = s[n] + d
        keep = t < T
        n, d, t = n[keep], d[keep], t[keep]
        np.maximum.at(out.reshape(-1), r[n] * T + t, stair[level[n], d - 1])
    return out.reshape(shape)


def _outage_need(out: np.ndarray, cool: int) -> np.ndarray:
    """(rows, T) int8: the mode an outage of depth ``out`` requires — hot shutdown for
    the first ``cool`` hours of each outage, its own depth after that.

    Outages are long and few: the depth is taken everywhere, then the first ``cool``
    hours after each start (while the outage lasts) are set to hot shutdown.
    """
    T = out.shape[-1]
    need = out.astype(np.int8)  # a copy
    on = need > 0
    if cool <= 0 or not on.any():
        return need
    start = on.copy()
    start[:, 1:] &= ~on[:, :-1]
    r, s = np.divmod(np.flatnonzero(start), T)  # (np.nonzero is slower on 2-D arrays)
    d = np.arange(cool)
    t = (s[:, None] + d[None, :]).ravel()
    rr = np.repeat(r, cool)
    keep = t < T
    at = rr[keep] * T + t[keep]
    at = at[on.reshape(-1)[at]]  # within the outage (a later start shares the value)
    need.reshape(-1)[at] = HSD
    return need


def _ramp_allowed(cap: np.ndarray, below_min: np.ndarray, ramp_dn: np.ndarray) -> np.ndarray:
    """Where the units' ramp limits apply between hour t−1 and t.

    Not at hour 0; not where the unit is off in either hour (a start at minimum
    stable output, or a trip); not where the envelope cuts the cap faster than the
    unit can ramp (a runback at a condition's onset); not where the cap changes
    across the minimum stable output (``below_min``: cap < minimum stable − ε; the
    unit passes through its low range on the way down or starts at minimum on the
    way up).  (For bools, ``x > y`` is ``x and not y``: one pass for each test.)
    """
    ok = np.zeros_like(cap, dtype=bool)
    a, b = cap[..., :-1], cap[..., 1:]
    on = cap > 0
    out = ok[..., 1:]
    np.logical_and(on[..., :-1], on[..., 1:], out=out)
    np.greater(out, b < a - ramp_dn[:, None] - 1e-6, out=out)  # not a runback
    low = np.logical_or(below_min[..., :-1], below_min[..., 1:])
    low &= np.abs(b - a) > 1e-6  # changed across the low range
    np.greater(out, low, out=out)
    return ok
