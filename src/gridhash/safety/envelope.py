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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.safety.rules import RuleSet
from gridhash.safety.state import PlantState
from gridhash.scenario.arrays import declare
from gridhash.scenario.grid import import_cap_mw
from gridhash.scenario.resolve import fleet_cap, offtake_caps
from gridhash.scenario.safety import MODES
from gridhash.scenario.series import hour_stamp

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.resolve import Inputs
    from gridhash.scenario.safety import Action

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


@declare("envelope", frozen=True, eq=False)
class Envelope:
    """The hourly operating envelope (see the module docstring): its arrays from the table
    (:mod:`gridhash.scenario.arrays`, stage ``envelope``), and how it came about."""

    index: pd.DatetimeIndex | None
    unit_names: tuple[str, ...]
    diesel_cost: float  # [USD/MWh]
    blackout_penalty: float  # [USD/MWh]
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
        max_net_output_mw=arrays["max_net_output_mw"],
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
    ``inputs``.  The steps: what the rules require (:func:`_apply_rules`), the
    units' modes (:func:`_unit_modes`) and bounds (:func:`_unit_bounds`), what
    the lines in service let the offtakes take and the plant import, the mining
    cap (:func:`_mining_cap`) and runbacks (:func:`_runback`).
    """
    avail = unit_available_mw
    lead = avail.shape[:-2]
    req = _Required.empty(lead, *avail.shape[-2:], explain=explain and not lead, index=index)
    _apply_rules(req, inputs, rules, quantities, avail)
    mode = _unit_modes(req, inputs, rules, avail, outage_depth, initial_depth)
    cap, unit_min, ramp_ok = _unit_bounds(req, mode, avail, unit_min_mw,
                                          inputs.unit_ramp_down_mw_per_h)
    line_cap = np.where(line_in_service, inputs.line_capacity_mw, 0.0)
    offtake_cap = offtake_caps(inputs, line_cap)
    import_cap = import_cap_mw(inputs.house_load_mw, line_cap, inputs.import_limit_mw)
    m_cap = _mining_cap(req, inputs, cap, avail, offtake_cap, margin_mw)
    import_cap = np.where(m_cap > _EPS, 0.0, import_cap)
    unit_min, ramp_ok = _runback(req, inputs, unit_min, ramp_ok, offtake_cap, m_cap)
    arrays = {
        "unit_mode": mode,
        "unit_cap_mw": cap,
        "unit_min_mw": unit_min,
        "ramp_allowed": ramp_ok,
        "offtake_cap_mw": offtake_cap,
        "import_cap_mw": import_cap,
        "mining_blocked": req.blocked,
        "mining_cap_mw": m_cap,
        "max_net_output_mw": np.maximum(0.0, cap.sum(axis=-2) - inputs.house_load_mw),
        "restricted": req.restricted,
    }
    return arrays, req.acts


@dataclass(eq=False)
class _Required:
    """What the rules require, path by path, as they are applied (M paths, flattened).

    Rules act on the hours their conditions hold, a small part of each path: they
    are worked out on those hours only (:class:`_Runs`, one entry per hour held)
    and written into flat (paths·units·hours) arrays there; :func:`_unit_modes`
    gives the arrays back their leading path axes.
    """

    lead: tuple[int, ...]
    U: int
    T: int
    need: np.ndarray  # (M, U, T) int8: deepest mode required, unit by unit
    need_all: np.ndarray  # (M, T) int8: ... of every unit (most rules)
    #: Output caps from rules and approaches, as (flat positions, values) applied to the
    #: cap once it is known (a minimum, so the order does not matter).
    cap_rule: list[tuple[np.ndarray, np.ndarray | float]]
    blocked: np.ndarray  # (M, T) bool: mining blocked
    mining_cap: np.ndarray  # (M, T) the rules' cap on mining [MW]
    restricted: np.ndarray  # (M, T) bool: hours something limits the plant
    explain: bool
    index: pd.DatetimeIndex | None
    acts: list[Activation]

    @classmethod
    def empty(cls, lead: tuple[int, ...], U: int, T: int, *, explain: bool,
              index: pd.DatetimeIndex | None) -> _Required:
        M = int(np.prod(lead, dtype=np.int64)) if lead else 1
        return cls(lead=lead, U=U, T=T, need=np.zeros((M, U, T), dtype=np.int8),
                   need_all=np.zeros((M, T), dtype=np.int8), cap_rule=[],
                   blocked=np.zeros((M, T), dtype=bool), mining_cap=np.full((M, T), np.inf),
                   restricted=np.zeros((M, T), dtype=bool), explain=explain, index=index,
                   acts=[])

    def when(self, t: int) -> str:
        return hour_stamp(self.index, t)

    def raise_need(self, r: _Runs, sel: np.ndarray, mask: np.ndarray, level: int) -> None:
        """Units ``sel`` at least in mode ``level`` at the run's hours in ``mask``."""
        if not (len(sel) and mask.any()):
            return
        if len(sel) == self.U and self.U:  # every unit: once per hour
            at, flat = r.pos[mask], self.need_all.reshape(-1)
        else:
            at, flat = r.unit_index(mask, sel, self.U, self.T), self.need.reshape(-1)
        flat[at] = np.maximum(flat[at], level)

    def lower_cap(self, r: _Runs, sel: np.ndarray, mask: np.ndarray,
                  value: np.ndarray | float) -> None:
        """cap ≤ value ((hours in mask, len(sel)) or broadcastable) there."""
        if len(sel) and mask.any():
            self.cap_rule.append((r.unit_index(mask, sel, self.U, self.T), value))

    def restrict(self, r: _Runs, mask: np.ndarray) -> None:
        self.restricted.reshape(-1)[r.pos[mask]] = True

    def explain_runs(self, r: _Runs, mask: np.ndarray, rule: str, kind: str,
                     text: Callable[[int, int], tuple[str, str]]) -> None:
        """One activation per span of ``mask``: ``text(start, onset)`` → (effect, condition)."""
        for s, e in spans(r.dense(mask)):
            o = int(r.dense_values(r.onset)[s])
            self.acts.append(Activation(rule, kind, s, e, o, *text(s, o)))


@dataclass(frozen=True, eq=False)
class _Acting:
    """An action on the hours its rule's condition holds: when it is due, when before."""

    r: _Runs
    sel: np.ndarray  # the units it applies to
    slow: np.ndarray  # ... those with a ramp-down limit
    active: np.ndarray  # in force (the condition has held ``within_hours``)
    due: np.ndarray  # the hour it is due (onset + within_hours)
    persists: np.ndarray  # the condition lasts until it is due
    before: np.ndarray  # ... and it is not due yet: the approach

    @classmethod
    def of(cls, r: _Runs, a: Action, sel: np.ndarray, ramp_dn: np.ndarray) -> _Acting:
        C = a.within_hours
        active = r.elapsed >= C
        due = r.onset + C
        persists = r.end >= due
        return cls(r=r, sel=sel, slow=sel[np.isfinite(ramp_dn[sel])], active=active, due=due,
                   persists=persists, before=persists & ~active)


def _apply_rules(req: _Required, inputs: Inputs, rules: RuleSet,
                 quantities: dict[str, np.ndarray], avail: np.ndarray) -> None:
    """Each rule's actions where its condition holds (and the approach before them)."""
    M, U, T = req.need.shape
    unit_pos = {n: i for i, n in enumerate(inputs.unit_names)}
    avail_m = avail.reshape(M, U, T)
    for rule, cond_spec in zip(rules.rules, rules.conditions, strict=True):
        # Conditions on quantities without a path axis (staff, cooling water, ...) are
        # worked out once and their runs repeated in every path.
        cond = np.asarray(cond_spec.evaluate(quantities), dtype=bool)
        if cond.ndim <= 1:
            r = _Runs.of(np.broadcast_to(cond, (1, T)))
            r = None if r is None else r.tile(M)
        else:
            r = _Runs.of(np.broadcast_to(cond, (*req.lead, T)).reshape(M, T))
        if r is None:
            continue
        for a in rule.actions:
            sel = (np.array([unit_pos[n] for n in a.units if n in unit_pos], dtype=np.int64)
                   if a.units else np.arange(U))
            act = _Acting.of(r, a, sel, inputs.unit_ramp_down_mw_per_h)
            req.restrict(r, act.active)
            if req.explain:
                _explain_action(req, act, a, rule.name, cond_spec.text)
            if a.kind == "block_mining":
                req.blocked.reshape(-1)[r.pos[act.active]] = True
            elif a.kind == "mining_cap_mw":
                at, flat = r.pos[act.active], req.mining_cap.reshape(-1)
                flat[at] = np.minimum(flat[at], a.mining_cap_mw)
            elif a.kind == "max_output_fraction":
                _cut_output(req, act, a, inputs, avail_m, rule.name, cond_spec.text)
            else:
                _go_down(req, act, a, inputs, rules, avail_m, rule.name, cond_spec.text)


def _explain_action(req: _Required, act: _Acting, a: Action, rule: str, condition: str) -> None:
    def text(s: int, o: int) -> tuple[str, str]:
        effect = a.describe()
        if a.within_hours:
            effect = f"{effect.rsplit(' within', 1)[0]} (due {req.when(s)})"
        return effect, f"{condition} since {req.when(o)}"

    req.explain_runs(act.r, act.active, rule, "action", text)


def _cut_output(req: _Required, act: _Acting, a: Action, inputs: Inputs, avail_m: np.ndarray,
                rule: str, condition: str) -> None:
    """At most a fraction of capacity once due, ramping down to it at the ramp rate before."""
    r, sel, slow = act.r, act.sel, act.slow
    f, cap_u = a.max_output_fraction, inputs.unit_capacity_mw
    ramp_dn = inputs.unit_ramp_down_mw_per_h
    req.lower_cap(r, sel, act.active, f * cap_u[sel])
    steps = (act.due - r.hour)[act.before]
    req.lower_cap(r, slow, act.before, f * cap_u[slow] + ramp_dn[slow] * steps[:, None])
    ramping = np.zeros_like(act.before)
    if act.before.any() and len(slow):
        lim = (f * cap_u[slow] + ramp_dn[slow] * np.maximum(steps, 0)[:, None]).min(axis=1)
        most = r.avail(avail_m, act.before)[:, sel].max(axis=1)
        ramping[act.before] = lim < most - 1e-6
    req.restrict(r, ramping)
    if req.explain:
        due = r.dense_values(act.due)
        req.explain_runs(r, ramping, rule, "approach", lambda s, o: (
            f"ramping down to {f:.0%} by {req.when(int(due[s]))}", condition))


def _go_down(req: _Required, act: _Acting, a: Action, inputs: Inputs, rules: RuleSet,
             avail_m: np.ndarray, rule: str, condition: str) -> None:
    """A mode (or deeper) once due; each mode on the way reached in time for the next
    step, output at zero before leaving power and ramping down to zero before that."""
    r, sel, slow, t, tr = act.r, act.sel, act.slow, act.r.hour, rules.transitions
    ramp_dn = inputs.unit_ramp_down_mw_per_h
    m = MODES.index(a.mode)
    req.raise_need(r, sel, act.active, m)
    off = 0
    for j in range(m, 1, -1):  # reach mode j−1 early enough for the step j−1 → j
        off += tr[(MODES[j - 1], MODES[j])]
        req.raise_need(r, sel, act.persists & (t >= act.due - off) & (t < act.due), j - 1)
    first_nonpower = act.due - off
    zero_from = first_nonpower - tr[(MODES[P], MODES[HSB])]
    at_zero = act.persists & (t >= zero_from) & (t < first_nonpower)
    approach = act.persists & (t < zero_from)
    req.lower_cap(r, sel, at_zero, 0.0)
    steps = zero_from - t
    req.lower_cap(r, slow, approach, ramp_dn[slow] * steps[approach][:, None])
    down = act.persists & (t < act.due) & (t >= zero_from)
    if approach.any() and len(slow):
        room = ramp_dn[slow] * np.maximum(steps[approach], 0)[:, None]
        down[approach] |= (room < r.avail(avail_m, approach)[:, slow] - 1e-6).any(axis=1)
    req.restrict(r, down)
    if req.explain:
        due = r.dense_values(act.due)
        req.explain_runs(r, down, rule, "approach", lambda s, o: (
            f"going down to {a.mode} by {req.when(int(due[s]))}", condition))


def _unit_modes(req: _Required, inputs: Inputs, rules: RuleSet, avail: np.ndarray,
                outage_depth: np.ndarray, initial_depth: np.ndarray) -> np.ndarray:
    """(..., U, T) each unit's mode: what rules and outages require, and back up no
    faster than the transition times allow (start-ups count as restrictions)."""
    M, U, T = req.need.shape
    tr = rules.transitions
    need = req.need
    # Outages hold a unit down: tripped to hot shutdown, cold after the cooldown time.
    cool = tr[(MODES[HSD], MODES[CSD])]
    out_need = _outage_need(np.broadcast_to(outage_depth, avail.shape).reshape(M * U, T), cool)
    np.maximum(need, out_need.reshape(M, U, T), out=need)
    np.maximum(need, req.need_all[:, None, :], out=need)
    lead = req.lead
    need = need.reshape(*lead, U, T)
    req.blocked = req.blocked.reshape(*lead, T)
    req.mining_cap = req.mining_cap.reshape(*lead, T)
    req.restricted = req.restricted.reshape(*lead, T)

    mode = climb(need, initial_depth, tr)
    # Start-ups: hours a unit is held below power by transition times alone.
    # (mode ≥ need everywhere, and differs from it only on the staircases after drops.)
    lifted = np.flatnonzero(mode != need)
    at = lifted[(need.reshape(-1)[lifted] == 0) & (avail.reshape(-1)[lifted] > 0)]
    req.restricted.reshape(-1)[at // (U * T) * T + at % T] = True
    if req.explain:
        starting = np.zeros(mode.shape, dtype=bool)
        starting.reshape(-1)[at] = True
        for u in range(U):
            for s, e in spans(starting[u]):
                req.acts.append(Activation("", "startup", s, e, s,
                                           f"{inputs.unit_names[u]} starting up from "
                                           f"{MODES[int(mode[u, s])]}", "mode transition times"))
    return mode


def _unit_bounds(req: _Required, mode: np.ndarray, avail: np.ndarray, min_stable: np.ndarray,
                 ramp_dn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unit's cap (available at power, within the rules' caps), minimum and the
    hours its ramp limits apply."""
    cap = np.where(mode == P, avail, 0.0)
    cap_f = cap.reshape(-1)
    for at, value in req.cap_rule:
        cap_f[at] = np.minimum(cap_f[at], value)
    np.maximum(cap, 0.0, out=cap)
    unit_min = np.minimum(min_stable, cap)
    below_min = cap < min_stable - _EPS
    # (Where cap = 0 the minimum is 0 already: cap ≥ 0 and min_stable ≥ 0.)
    np.copyto(unit_min, 0.0, where=below_min)
    return cap, unit_min, _ramp_allowed(cap, below_min, ramp_dn)


def _mining_cap(req: _Required, inputs: Inputs, cap: np.ndarray, avail: np.ndarray,
                offtake_cap: np.ndarray, margin_mw: float) -> np.ndarray:
    """(..., T) what mining may draw: the output allowed less house load and margin; where
    output is held back, only what the grid leaves (mining is shed first); the rules'
    caps and blocks; the fleet."""
    house = inputs.house_load_mw
    allowed_out = cap.sum(axis=-2)
    m_cap = np.maximum(0.0, allowed_out - house - margin_mw)
    held_back = (cap < avail - 1e-6).any(axis=-2)
    first_shed = np.maximum(0.0, allowed_out - house - margin_mw - offtake_cap.sum(axis=-2))
    m_cap = np.where(held_back, np.minimum(m_cap, first_shed), m_cap)
    m_cap = np.minimum(m_cap, req.mining_cap)
    fleet = fleet_cap(inputs)
    m_cap = np.where(req.blocked, 0.0, np.minimum(m_cap, fleet))
    shed = held_back & ~req.blocked & (first_shed < fleet - _EPS)
    req.restricted |= shed
    if req.explain:
        for s, e in spans(shed):
            req.acts.append(Activation("mining-first-shed", "action", s, e, s,
                                       "output held back: the grid takes what there is before "
                                       "mining", "output below what the units could make"))
    return m_cap


def _runback(req: _Required, inputs: Inputs, unit_min: np.ndarray, ramp_ok: np.ndarray,
             offtake_cap: np.ndarray, m_cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Load rejection: where the grid, house load and mining together cannot take the
    units' minimum stable output (a line cut with mining blocked), the units run back
    below it (or trip to hot standby); the LP has no unit commitment, so the minimum
    is lifted for that hour and ramps are lifted into and out of it."""
    absorb = inputs.house_load_mw + offtake_cap.sum(axis=-2) + m_cap
    runback = unit_min.sum(axis=-2) > absorb + 1e-6
    if runback.any():
        unit_min = np.where(runback[..., None, :], 0.0, unit_min)
        lifted = runback.copy()
        lifted[..., 1:] |= runback[..., :-1]
        ramp_ok &= ~lifted[..., None, :]
        req.restricted |= runback
        if req.explain:
            for s, e in spans(runback):
                req.acts.append(Activation("", "runback", s, e, s,
                                           "runback: the grid cannot take the units' minimum "
                                           "output", "lines in service, house load and mining"))
    return unit_min, ramp_ok


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
