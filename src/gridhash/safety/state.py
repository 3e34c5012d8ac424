"""Plant state hour by hour: the quantities the safety rules test.

:func:`plant_state` is a pure function of the scenario's ``safety`` part as
resolved by :func:`gridhash.scenario.resolve_safety.resolve_safety` (lines in
service, levels, flags, events placed on the horizon); :func:`resolve_state`
does both.  :mod:`gridhash.safety.envelope` turns the state into the operating
envelope.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from gridhash.scenario.resolve_safety import EventRecord, SafetyInputs, resolve_safety

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.scenario.load import LoadedScenario
    from gridhash.scenario.resolve import Inputs

__all__ = ["EventRecord", "PlantState", "fuel_levels", "line_quantities", "plant_state",
           "resolve_state", "restock_hours_after_losses", "resupply_deliveries"]


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
    restock_hours: float | None = None  # tanks topped up after each loss (restock_hours)

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
            restock_hours=self.restock_hours,
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
    restock_hours: float | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The quantities that follow from which lines are in service ((..., L, T) arrays).

    ``kv_max=False`` leaves ``offsite_kv_max`` out (nothing reads it).  ``resupply``:
    (lead time [h], delivery [days]) of the fuel deliveries that answer a loss of
    off-site power (:func:`resupply_deliveries`), added to the dated ``delivery``.
    ``restock_hours``: the tanks are topped back up to ``fuel0`` this long after each
    loss ends (:func:`restock_hours_after_losses`); None: never.
    """
    off = in_service & offsite[:, None]
    n_off = off.sum(axis=-2).astype(float)
    on_diesel = n_off == 0
    delivery = delivery + resupply_deliveries(on_diesel, *resupply)
    restock = (None if restock_hours is None
               else restock_hours_after_losses(on_diesel, restock_hours))
    fuel = fuel_levels(fuel0, delivery, on_diesel / 24.0, restock)
    diesel_cap = np.where(on_diesel & (fuel > 0), np.minimum(house, generators * generator_mw), 0.0)
    q = {"offsite_lines": n_off}
    if kv_max:
        q["offsite_kv_max"] = (np.where(off, volts[:, None], 0.0).max(axis=-2)
                               if in_service.shape[-2] else np.zeros_like(n_off))
    q |= {"on_diesel": on_diesel.astype(float), "diesel_fuel_days": fuel}
    return q, diesel_cap


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


def restock_hours_after_losses(on_diesel: np.ndarray, hours: float) -> np.ndarray:
    """(..., T) bool: the hours at whose start the tanks are topped back up, ``hours``
    after each loss of off-site power ends.

    A loss ends at the first hour back on off-site power (a run of ``on_diesel`` hours
    followed by one that is not); the restock is at that hour plus ``hours`` (rounded
    to whole hours), if it falls within the horizon, whatever happens meanwhile.
    """
    on = np.asarray(on_diesel, dtype=bool)
    out = np.zeros(on.shape, dtype=bool)
    lag = round(hours)
    T = on.shape[-1]
    if T < 2 or lag >= T:
        return out
    back = on[..., :-1] & ~on[..., 1:]  # back[..., t]: hour t + 1 is the first hour back
    out[..., lag + 1:] = back[..., : T - lag - 1]
    return out


def fuel_levels(
    fuel0: float, delivery: np.ndarray, burn: np.ndarray, restock: np.ndarray | None = None,
) -> np.ndarray:
    """Fuel at the start of each hour (after that hour's delivery), never below zero.

    ``P(t) = max(0, P(t−1) + delivery(t) − burn(t))`` with ``P(−1) = fuel0``, in
    closed form (the running minimum of the unfloored sum; no loop over hours).
    With ``restock`` ((..., T) bool), the tanks are topped back up to ``fuel0`` at
    the start of each such hour, before its delivery: ``P(t−1) ← max(P(t−1),
    fuel0)``.  Each hour is then a map ``p ↦ max(a, p + x)`` (``a`` = 0, or
    ``fuel0`` where the next hour restocks), and a chain of such maps is one of
    them, so the level is still one cumulative sum and one running maximum:
    ``P(t) = C(t) + max(fuel0, max_{u≤t} (a(u) − C(u)))`` with ``C`` the
    cumulative sum of delivery − burn.  (A plain loop over hours is the oracle in
    the tests.)
    """
    if restock is not None and np.any(restock):
        C = np.cumsum(np.subtract(delivery, burn), axis=-1)
        a = np.zeros(C.shape)
        a[..., :-1][restock[..., 1:]] = fuel0  # topped up at the end of the hour before
        a -= C
        spare = np.maximum.accumulate(a, axis=-1)
        np.maximum(spare, fuel0, out=spare)
        P = np.add(C, spare, out=C)  # P(t), the level at the end of hour t
    else:
        P = np.cumsum(np.subtract(delivery, burn), axis=-1)
        P += fuel0
        spare = np.minimum.accumulate(P, axis=-1)
        np.minimum(spare, 0.0, out=spare)
        P -= spare  # P(t), the level at the end of hour t
    level = spare  # reused: the level at the start of each hour, after its delivery
    level[..., 0] = fuel0
    level[..., 1:] = P[..., :-1]
    level += delivery
    level[level < 1e-9] = 0.0  # float residue of an emptied tank is empty
    return level


def resolve_state(loaded: LoadedScenario, inputs: Inputs) -> PlantState:
    """The scenario's ``safety`` part as hourly arrays (the scenario must have one)."""
    return plant_state(resolve_safety(loaded, inputs), inputs.house_load_mw)


def plant_state(si: SafetyInputs, house_load_mw: np.ndarray) -> PlantState:
    """The hourly quantities rules test, and what the envelope needs, from the resolved
    ``safety`` part and the house load (T,) [MW]."""
    d = si.safety.diesel
    lq, diesel_cap = line_quantities(
        si.line_in_service, si.offsite, si.line_voltage_kv, si.delivery_days, d.fuel_days,
        si.levels["diesel_generators"], d.generator_mw, house_load_mw,
        resupply=(d.resupply_lead_hours, d.resupply_days),
        restock_hours=d.restock_hours,
    )
    return PlantState(
        index=si.index,
        quantities={**lq, **_quantities(si)},
        line_in_service=si.line_in_service,
        offsite=si.offsite,
        unit_initial_depth=si.unit_initial_depth,
        unit_outage_depth=si.unit_outage_depth,
        diesel_cap_mw=diesel_cap,
        diesel_cost=d.cost_usd_per_mwh,
        margin_mw=si.safety.mining_margin_mw,
        blackout_penalty=si.safety.blackout_penalty_usd_per_mwh,
        provided=si.provided,
        events=si.events,
        line_voltage_kv=si.line_voltage_kv,
        delivery_days=si.delivery_days,
        fuel0=float(d.fuel_days),
        generator_mw=float(d.generator_mw),
        resupply_lead_hours=float(d.resupply_lead_hours),
        resupply_days=float(d.resupply_days),
        restock_hours=None if d.restock_hours is None else float(d.restock_hours),
    )


def _quantities(si: SafetyInputs) -> dict[str, np.ndarray]:
    """(T,) the quantities that do not follow from the off-site circuits (those are
    :func:`line_quantities`), and one ``line:NAME`` per line (1 in service)."""
    safety = si.safety
    T = si.index.size
    flags, levels = si.flags, si.levels

    def const(x: float) -> np.ndarray:
        return np.full(T, float(x))

    q: dict[str, np.ndarray] = {
        "offsite_lines_required": const(safety.offsite.required),
        "diesel_generators": levels["diesel_generators"],
        "diesel_generators_required": const(safety.diesel.required),
        "diesel_fuel_required_days": const(safety.diesel.required_fuel_days),
        "radiation_monitoring": (~flags["monitoring_down"] & safety.monitoring.radiation)
        .astype(float),
        "communications": (~flags["comms_down"] & safety.monitoring.communications)
        .astype(float),
        "safety_hold": flags["safety_hold"].astype(float),
        "physical_damage": flags["physical_damage"].astype(float),
    }
    if "cooling_water" in levels:
        q["cooling_water_level_m"] = levels["cooling_water"]
    if safety.cooling.minimum_m is not None:
        q["cooling_water_min_m"] = const(safety.cooling.minimum_m)
    if "staff" in levels:
        q["staff_on_shift"] = levels["staff"]
    if safety.staff.minimum is not None:
        q["staff_minimum"] = const(safety.staff.minimum)
    for i, name in enumerate(si.line_names):
        q[f"line:{name}"] = si.line_in_service[i].astype(float)
    return q
