"""Plant state hour by hour: the scenario's safety part and its events on the horizon.

:func:`resolve_state` is the I/O edge (it reads series through the scenario's
resolver and checks events against the horizon); everything it returns is a
plain array on the scenario's hourly index, which :mod:`gridhash.safety.envelope`
turns into the operating envelope.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gridhash.errors import ScenarioError
from gridhash.scenario.safety import MODES

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.resolve import Inputs
    from gridhash.scenario.safety import Safety


@dataclass(frozen=True)
class EventRecord:
    """An event placed on the horizon: hours [start, end)."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, eq=False)
class PlantState:
    """Hourly plant state: the quantities rules test, plus what the envelope needs."""

    index: pd.DatetimeIndex | None
    quantities: dict[str, np.ndarray]  # name -> (T,)
    line_in_service: np.ndarray  # (L, T) bool, planned outages and cuts applied
    offsite: np.ndarray  # (L,) bool: the line is an off-site circuit
    unit_initial_depth: np.ndarray  # (U,) int, index into MODES
    unit_outage_depth: np.ndarray  # (U, T) int: 0, or the mode an outage holds the unit in
    diesel_cap_mw: np.ndarray  # (T,) what the diesel generators can supply
    diesel_cost: float
    margin_mw: float
    blackout_penalty: float
    provided: frozenset[str]  # scenario fields given (for rules needing them)
    events: tuple[EventRecord, ...] = field(default=())
    # What the line-dependent quantities are recomputed from (for many paths at once).
    line_voltage_kv: np.ndarray | None = None  # (L,) 0 where unknown
    delivery_days: np.ndarray | None = None  # (T,) diesel delivered at each hour
    fuel0: float = 0.0
    generator_mw: float = 0.0
    resupply_lead_hours: float = 0.0  # responsive fuel deliveries (resupply_deliveries)
    resupply_days: float = 0.0

    def with_lines(
        self, line_in_service: np.ndarray, house_load_mw: np.ndarray,
        only: Collection[str] | None = None,
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Quantities and diesel cap for other line states, e.g. (N, L, T) risk paths.

        Quantities that do not depend on the lines are taken unchanged.  With ``only``
        (e.g. the quantities a rule set reads), the line-dependent quantities outside
        it are left out rather than computed; ``on_diesel`` is always there.
        """
        assert self.line_voltage_kv is not None and self.delivery_days is not None
        q, diesel = line_quantities(
            line_in_service, self.offsite, self.line_voltage_kv, self.delivery_days,
            self.fuel0, self.quantities["diesel_generators"], self.generator_mw, house_load_mw,
            kv_max=only is None or "offsite_kv_max" in only,
            resupply=(self.resupply_lead_hours, self.resupply_days),
        )
        names = [k for k in self.quantities if k.startswith("line:")]
        for i, name in enumerate(names):
            if only is None or name in only:
                q[name] = line_in_service[..., i, :].astype(float)
        out = {k: v for k, v in self.quantities.items()
               if k not in q and not k.startswith("line:") and k != "offsite_kv_max"}
        return {**out, **q}, diesel


def line_quantities(
    in_service: np.ndarray,
    offsite: np.ndarray,
    volts: np.ndarray,
    delivery: np.ndarray,
    fuel0: float,
    generators: np.ndarray,
    generator_mw: float,
    house: np.ndarray,
    *,
    kv_max: bool = True,
    resupply: tuple[float, float] = (0.0, 0.0),
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The quantities that follow from which lines are in service ((..., L, T) arrays).

    ``kv_max=False`` leaves ``offsite_kv_max`` out (nothing reads it).  ``resupply``:
    (lead time [h], delivery [days]) of the fuel deliveries that answer a loss of
    off-site power (:func:`resupply_deliveries`), added to the dated ``delivery``.
    """
    off = in_service & offsite[:, None]
    n_off = off.sum(axis=-2).astype(float)
    on_diesel = n_off == 0
    delivery = delivery + resupply_deliveries(on_diesel, *resupply)
    fuel = fuel_levels(fuel0, delivery, on_diesel / 24.0)
    diesel_cap = np.where(on_diesel & (fuel > 0), np.minimum(house, generators * generator_mw), 0.0)
    q = {"offsite_lines": n_off}
    if kv_max:
        q["offsite_kv_max"] = (np.where(off, volts[:, None], 0.0).max(axis=-2)
                               if in_service.shape[-2] else np.zeros_like(n_off))
    q |= {"on_diesel": on_diesel.astype(float), "diesel_fuel_days": fuel}
    return q, diesel_cap

    @property
    def hours(self) -> int:
        return self.line_in_service.shape[1]


def _hour_of(ev, index: pd.DatetimeIndex) -> int:
    if ev.hour is not None:
        return int(ev.hour)
    import pandas as pd

    return round((pd.Timestamp(ev.start) - index[0]) / pd.Timedelta(hours=1))


def _stamp(index: pd.DatetimeIndex | None, t: int) -> str:
    if index is None:
        return f"hour {t}"
    import pandas as pd

    return (index[0] + pd.Timedelta(hours=t)).strftime("%Y-%m-%dT%H:%MZ")


def resupply_deliveries(on_diesel: np.ndarray, lead_hours: float, days: float) -> np.ndarray:
    """Fuel delivered in response to losses of off-site power, hour by hour.

    In every run of hours on diesel (every off-site line lost), a delivery of
    ``days`` days of running arrives ``lead_hours`` after the run began and then one
    every ``days`` days (each lasts until the next) for as long as the run lasts;
    none arrives after the lines are back.  Hours are whole: the lead is rounded to
    the nearest hour and the interval to at least one hour.

    Parameters
    ----------
    on_diesel : numpy.ndarray
        (..., T) bool: every off-site line lost that hour (paths on leading axes).
    lead_hours : float
        From the loss to the first delivery. [h]
    days : float
        Size of each delivery (0: none). [day of running on diesel]

    Returns
    -------
    numpy.ndarray
        (..., T) fuel delivered at each hour. [day]
    """
    on = np.asarray(on_diesel, dtype=bool)
    out = np.zeros(on.shape)
    if days <= 0 or not on.any():
        return out
    T = on.shape[-1]
    idx = np.broadcast_to(np.arange(T), on.shape)
    before = np.zeros_like(on)
    before[..., 1:] = on[..., :-1]
    begins = on & ~before
    start = np.maximum.accumulate(np.where(begins, idx, 0), axis=-1)
    elapsed = idx - start  # hours since the run began (meaningful where on)
    lead = round(lead_hours)
    every = max(1, round(days * 24.0))
    due = on & (elapsed >= lead) & ((elapsed - lead) % every == 0)
    out[due] = days
    return out


def fuel_levels(fuel0: float, delivery: np.ndarray, burn: np.ndarray) -> np.ndarray:
    """Fuel at the start of each hour (after that hour's delivery), never below zero.

    ``P(t) = max(0, P(t−1) + delivery(t) − burn(t))`` with ``P(−1) = fuel0``, in
    closed form (the running minimum of the unfloored sum; no loop over hours).
    """
    S = np.cumsum(np.subtract(delivery, burn), axis=-1)
    S += fuel0
    low = np.minimum.accumulate(S, axis=-1)
    np.minimum(low, 0.0, out=low)
    S -= low  # P(t), the level at the end of hour t
    level = low  # reused: the level at the start of each hour, after its delivery
    level[..., 0] = fuel0
    level[..., 1:] = S[..., :-1]
    level += delivery
    level[level < 1e-9] = 0.0  # float residue of an emptied tank is empty
    return level


def resolve_state(loaded: LoadedScenario, inputs: Inputs) -> PlantState:
    """The scenario's ``safety`` part as hourly arrays (the scenario must have one)."""
    from gridhash.scenario.resolve import _Resolver

    sc = loaded.scenario
    safety: Safety | None = sc.safety
    if safety is None:
        raise ValueError("the scenario has no safety part")
    src = loaded.source
    index = inputs.index
    T = inputs.hours
    lines = inputs.line_names
    units = inputs.unit_names

    provided: set[str] = set()
    if safety.cooling.level_m is not None:
        provided.add("safety.cooling.level_m")
    if safety.cooling.minimum_m is not None:
        provided.add("safety.cooling.minimum_m")
    if safety.staff.on_shift is not None:
        provided.add("safety.staff.on_shift")
    if safety.staff.minimum is not None:
        provided.add("safety.staff.minimum")

    # Off-site circuits -----------------------------------------------------------
    if safety.offsite.lines is None:
        offsite = np.ones(len(lines), dtype=bool)
    else:
        offsite = np.zeros(len(lines), dtype=bool)
        for i, name in enumerate(safety.offsite.lines):
            if name not in lines:
                raise ScenarioError(
                    f"unknown line {name!r}",
                    source=src,
                    field=f"safety.offsite.lines[{i}]",
                    value=name,
                    expected=f"one of grid.lines: {', '.join(lines)}",
                )
            offsite[lines.index(name)] = True

    # Events ----------------------------------------------------------------------
    in_service = inputs.line_capacity_mw > 0
    delivery = np.zeros(T)
    levels: dict[str, np.ndarray] = {}
    r = _Resolver(loaded, index)
    if safety.cooling.level_m is not None:
        levels["cooling_water"] = r.series(safety.cooling, "level_m", "safety.cooling")
    levels["diesel_generators"] = np.full(T, float(safety.diesel.generators))
    if safety.staff.on_shift is not None:
        levels["staff"] = np.full(T, float(safety.staff.on_shift))
    flags = {
        "monitoring_down": np.zeros(T, dtype=bool),
        "comms_down": np.zeros(T, dtype=bool),
        "safety_hold": np.zeros(T, dtype=bool),
        "physical_damage": np.zeros(T, dtype=bool),
    }
    records: list[EventRecord] = []
    for i, ev in enumerate(safety.events):
        where = f"safety.events[{i}]"
        h = _hour_of(ev, index)
        span = ev.hours or 1
        if h < 0 or h + span > T:
            raise ScenarioError(
                f"the {ev.kind} event lies outside the horizon "
                f"(hours {h} to {h + span} of 0 to {T})",
                source=src,
                field=where,
                value=str(ev.start) if ev.start is not None else ev.hour,
                expected=f"an event within {_stamp(index, 0)} .. {_stamp(index, T)}",
            )
        sl = slice(h, h + span)
        text = ev.kind
        if ev.kind == "line_cut":
            if ev.line not in lines:
                raise ScenarioError(
                    f"unknown line {ev.line!r} in a line_cut event",
                    source=src,
                    field=f"{where}.line",
                    value=ev.line,
                    expected=f"one of grid.lines: {', '.join(lines)}",
                )
            in_service[lines.index(ev.line), sl] = False
            text = f"line {ev.line} cut for {span} h"
        elif ev.kind == "diesel_delivery":
            delivery[h] += ev.days
            text = f"diesel delivery of {ev.days:g} days"
        elif ev.kind in ("diesel_generators", "staff", "cooling_water"):
            if ev.kind not in levels:
                need = {"staff": "safety.staff.on_shift", "cooling_water": "safety.cooling.level_m"}
                raise ScenarioError(
                    f"a {ev.kind} event needs a level to return to after it",
                    source=src,
                    field=where,
                    value=ev.kind,
                    expected=f"{need[ev.kind]} to be set",
                )
            if ev.kind != "cooling_water" and (ev.value < 0 or ev.value != int(ev.value)):
                raise ScenarioError(
                    f"a {ev.kind} event's value is a count",
                    source=src,
                    field=f"{where}.value",
                    value=ev.value,
                    expected="a whole number ≥ 0",
                )
            levels[ev.kind][sl] = ev.value
            unit = " m" if ev.kind == "cooling_water" else ""
            text = f"{ev.kind.replace('_', ' ')} at {ev.value:g}{unit} for {span} h"
        else:
            flags[ev.kind][sl] = True
            text = f"{ev.kind.replace('_', ' ')} for {span} h"
        if ev.reason:
            text += f" — {ev.reason}"
        records.append(EventRecord(ev.kind, h, h + span if ev.hours else h + 1, text))

    # Quantities ------------------------------------------------------------------
    volts = np.array(
        [0.0 if line.voltage_kv is None else line.voltage_kv for line in sc.grid.lines]
    )
    d = safety.diesel
    lq, diesel_cap = line_quantities(
        in_service, offsite, volts, delivery, d.fuel_days, levels["diesel_generators"],
        d.generator_mw, inputs.house_load_mw,
        resupply=(d.resupply_lead_hours, d.resupply_days),
    )
    q: dict[str, np.ndarray] = {
        **lq,
        "offsite_lines_required": np.full(T, float(safety.offsite.required)),
        "diesel_generators": levels["diesel_generators"],
        "diesel_generators_required": np.full(T, float(d.required)),
        "diesel_fuel_required_days": np.full(T, float(d.required_fuel_days)),
        "radiation_monitoring": (~flags["monitoring_down"] & safety.monitoring.radiation).astype(
            float
        ),
        "communications": (~flags["comms_down"] & safety.monitoring.communications).astype(float),
        "safety_hold": flags["safety_hold"].astype(float),
        "physical_damage": flags["physical_damage"].astype(float),
    }
    if "cooling_water" in levels:
        q["cooling_water_level_m"] = levels["cooling_water"]
    if safety.cooling.minimum_m is not None:
        q["cooling_water_min_m"] = np.full(T, float(safety.cooling.minimum_m))
    if "staff" in levels:
        q["staff_on_shift"] = levels["staff"]
    if safety.staff.minimum is not None:
        q["staff_minimum"] = np.full(T, float(safety.staff.minimum))
    for i, name in enumerate(lines):
        q[f"line:{name}"] = in_service[i].astype(float)

    # Units: initial modes and the modes outages hold them in ------------------------
    avail = inputs.unit_available_mw
    initial = np.where(avail[:, 0] > 0, 0, MODES.index("cold_shutdown")).astype(np.int64)
    for i, su in enumerate(safety.units):
        if su.name not in units:
            raise ScenarioError(
                f"unknown unit {su.name!r}",
                source=src,
                field=f"safety.units[{i}].name",
                value=su.name,
                expected=f"one of plant.units: {', '.join(units)}",
            )
        initial[units.index(su.name)] = MODES.index(su.initial_mode)
    outage_depth = _outage_depth(loaded, inputs)

    return PlantState(
        index=index,
        quantities=q,
        line_in_service=in_service,
        offsite=offsite,
        unit_initial_depth=initial,
        unit_outage_depth=outage_depth,
        diesel_cap_mw=diesel_cap,
        diesel_cost=d.cost_usd_per_mwh,
        margin_mw=safety.mining_margin_mw,
        blackout_penalty=safety.blackout_penalty_usd_per_mwh,
        provided=frozenset(provided),
        events=tuple(sorted(records, key=lambda e: e.start)),
        line_voltage_kv=volts,
        delivery_days=delivery,
        fuel0=float(d.fuel_days),
        resupply_lead_hours=float(d.resupply_lead_hours),
        resupply_days=float(d.resupply_days),
        generator_mw=float(d.generator_mw),
    )


def _outage_depth(loaded: LoadedScenario, inputs: Inputs) -> np.ndarray:
    """(U, T) mode an outage holds each unit in (0 where the unit is available).

    A unit that becomes unavailable trips to hot shutdown and cools down to cold
    shutdown after the hot → cold minimum time (the shipped 12 h; see
    :data:`gridhash.safety.rules.DEFAULT_TRANSITIONS`); outage windows whose reason
    mentions refuelling hold it in refuelling after that.
    """
    from gridhash.scenario.series import window_mask

    out_mask = inputs.unit_available_mw <= 0
    depth = np.where(out_mask, MODES.index("cold_shutdown"), 0).astype(np.int64)
    sc = loaded.scenario
    for u, unit in enumerate(sc.plant.units):
        for w in unit.outages:
            if "refuel" in w.reason.lower():
                m = window_mask([w], inputs.index, field="plant.units", source=loaded.source)
                depth[u, m] = MODES.index("refuelling")
    return depth
