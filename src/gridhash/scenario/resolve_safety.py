"""Resolve the scenario's ``safety`` part onto the hourly index.

The scenario's part of the safety model: series read, events placed on the
horizon, the lines in service hour by hour, the units' initial modes and the
modes their outages hold them in.  Every name it looks up has been checked by
the schema (:class:`gridhash.scenario.models.Scenario`), so this only places.
:func:`gridhash.safety.state.plant_state` turns the result into the quantities
the rules test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gridhash.scenario.resolve import Inputs, _Resolver
from gridhash.scenario.safety import MODES
from gridhash.scenario.series import window_mask

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.safety import Event, Safety

#: Flags events raise for their hours (kind → name of the flag).
FLAG_EVENTS = ("monitoring_down", "comms_down", "safety_hold", "physical_damage")
#: Events that set a level for their hours (kind → the level they set).
LEVEL_EVENTS = ("diesel_generators", "staff", "cooling_water")


@dataclass(frozen=True)
class EventRecord:
    """An event placed on the horizon: hours [start, end)."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, eq=False)
class SafetyInputs:
    """The scenario's ``safety`` part on the hourly index (T hours, L lines, U units)."""

    safety: Safety  # the part itself: required counts, diesel, margins, penalties
    index: pd.DatetimeIndex
    line_names: tuple[str, ...]
    line_in_service: np.ndarray  # (L, T) bool: planned outages and line_cut events applied
    offsite: np.ndarray  # (L,) bool: the line is an off-site circuit
    line_voltage_kv: np.ndarray  # (L,) [kV], 0 where unknown
    delivery_days: np.ndarray  # (T,) [day] diesel delivered at each hour
    levels: dict[str, np.ndarray]  # LEVEL_EVENTS kind → (T,) level (absent: not given)
    flags: dict[str, np.ndarray]  # FLAG_EVENTS kind → (T,) bool
    unit_initial_depth: np.ndarray  # (U,) int, index into MODES
    unit_outage_depth: np.ndarray  # (U, T) int: 0, or the mode an outage holds the unit in
    provided: frozenset[str]  # optional scenario fields given (rules may need them)
    events: tuple[EventRecord, ...] = field(default=())


def resolve_safety(loaded: LoadedScenario, inputs: Inputs) -> SafetyInputs:
    """The scenario's ``safety`` part on ``inputs``' hours (the scenario must have one)."""
    safety = loaded.scenario.safety
    if safety is None:
        raise ValueError("the scenario has no safety part")
    r = _Resolver(loaded, inputs.index)
    levels = _levels(safety, r, inputs.hours)
    in_service, delivery, flags, events = _place_events(safety, inputs, levels)
    lines = loaded.scenario.grid.lines
    return SafetyInputs(
        safety=safety,
        index=inputs.index,
        line_names=inputs.line_names,
        line_in_service=in_service,
        offsite=_offsite(safety, inputs.line_names),
        line_voltage_kv=np.array([line.voltage_kv or 0.0 for line in lines], dtype=float),
        delivery_days=delivery,
        levels=levels,
        flags=flags,
        unit_initial_depth=_initial_depth(safety, inputs),
        unit_outage_depth=_outage_depth(loaded, inputs),
        provided=_provided(safety),
        events=tuple(sorted(events, key=lambda e: e.start)),
    )


def _provided(safety: Safety) -> frozenset[str]:
    """The optional fields the scenario gives (rules that read them need them)."""
    optional = {
        "safety.cooling.level_m": safety.cooling.level_m,
        "safety.cooling.minimum_m": safety.cooling.minimum_m,
        "safety.staff.on_shift": safety.staff.on_shift,
        "safety.staff.minimum": safety.staff.minimum,
    }
    return frozenset(k for k, v in optional.items() if v is not None)


def _offsite(safety: Safety, lines: tuple[str, ...]) -> np.ndarray:
    """(L,) which lines are off-site circuits (all of them unless the scenario lists some)."""
    if safety.offsite.lines is None:
        return np.ones(len(lines), dtype=bool)
    return np.isin(np.array(lines, dtype=object), safety.offsite.lines)


def _levels(safety: Safety, r: _Resolver, T: int) -> dict[str, np.ndarray]:
    """(T,) levels before events: cooling water, operable diesel generators, staff."""
    levels = {"diesel_generators": np.full(T, float(safety.diesel.generators))}
    if safety.cooling.level_m is not None:
        # a writable copy: the events set levels in place (a value given as one number
        # resolves to a read-only broadcast view)
        levels["cooling_water"] = np.array(r.series(safety.cooling, "level_m", "safety.cooling"))
    if safety.staff.on_shift is not None:
        levels["staff"] = np.full(T, float(safety.staff.on_shift))
    return levels


def event_hour(ev: Event, index: pd.DatetimeIndex) -> int:
    """The hour (from the start of ``index``) an event begins."""
    if ev.hour is not None:
        return int(ev.hour)
    import pandas as pd

    return round((pd.Timestamp(ev.start) - index[0]) / pd.Timedelta(hours=1))


def _place_events(
    safety: Safety, inputs: Inputs, levels: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[EventRecord]]:
    """Lines in service, diesel deliveries and flags with the events applied (``levels``
    in place), and each event as placed and described."""
    T = inputs.hours
    lines = inputs.line_names
    in_service = inputs.line_capacity_mw > 0
    delivery = np.zeros(T)
    flags = {k: np.zeros(T, dtype=bool) for k in FLAG_EVENTS}
    records: list[EventRecord] = []
    for ev in safety.events:
        h = event_hour(ev, inputs.index)
        span = ev.hours or 1
        sl = slice(h, h + span)
        if ev.kind == "line_cut":
            in_service[lines.index(ev.line), sl] = False
            text = f"line {ev.line} cut for {span} h"
        elif ev.kind == "diesel_delivery":
            delivery[h] += ev.days
            text = f"diesel delivery of {ev.days:g} days"
        elif ev.kind in LEVEL_EVENTS:
            levels[ev.kind][sl] = ev.value
            unit = " m" if ev.kind == "cooling_water" else ""
            text = f"{ev.kind.replace('_', ' ')} at {ev.value:g}{unit} for {span} h"
        else:
            flags[ev.kind][sl] = True
            text = f"{ev.kind.replace('_', ' ')} for {span} h"
        if ev.reason:
            text += f" — {ev.reason}"
        records.append(EventRecord(ev.kind, h, h + span if ev.hours else h + 1, text))
    return in_service, delivery, flags, records


def _initial_depth(safety: Safety, inputs: Inputs) -> np.ndarray:
    """(U,) each unit's mode at the first hour: the scenario's, else power operation if
    the unit is available then, else cold shutdown."""
    avail = inputs.unit_available_mw
    initial = np.where(avail[:, 0] > 0, 0, MODES.index("cold_shutdown")).astype(np.int64)
    for su in safety.units:
        initial[inputs.unit_names.index(su.name)] = MODES.index(su.initial_mode)
    return initial


def _outage_depth(loaded: LoadedScenario, inputs: Inputs) -> np.ndarray:
    """(U, T) mode an outage holds each unit in (0 where the unit is available).

    A unit that becomes unavailable trips to hot shutdown and cools down to cold
    shutdown after the hot → cold minimum time (the shipped 12 h; see
    :data:`gridhash.safety.rules.DEFAULT_TRANSITIONS`); outage windows whose reason
    mentions refuelling hold it in refuelling after that.
    """
    out_mask = inputs.unit_available_mw <= 0
    depth = np.where(out_mask, MODES.index("cold_shutdown"), 0).astype(np.int64)
    for u, unit in enumerate(loaded.scenario.plant.units):
        for w in unit.outages:
            if "refuel" in w.reason.lower():
                m = window_mask([w], inputs.index, field="plant.units", source=loaded.source)
                depth[u, m] = MODES.index("refuelling")
    return depth
