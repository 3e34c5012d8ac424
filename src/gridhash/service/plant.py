"""The plant the service runs: its scenario, agreement, hours, meters and dispatch.

Day-ahead plans are slices of the optimal dispatch of the scenario's whole
horizon (``run_scenario(..., agreement=NAME)`` with the safety envelope),
computed once per process and cached: about 2.3 s for the ``znpp`` year on
2 cores.  Solving the year rather than a single day keeps every day's plan
consistent with the days around it (unit ramps, mode transitions, diesel fuel,
events that begin the day before).

Meters are hourly, in MWh per interval, one per quantity settlement reads:

====================  ==================================================
``unit:<unit>``       net generation of a unit
``offtake:<offtake>`` energy delivered to an offtake
``miner:<site>/<model>`` energy drawn by a miner class (cooling included)
``import``            energy imported for house load
``diesel``            house load supplied by the diesel generators
====================  ==================================================

:meth:`Plant.meter_record` turns a settlement period's readings into the
record :func:`gridhash.settlement.statements.settle_period` reads: the metered
energies with the scenario's prices (the agreement's price terms applied), the
BTC earned per MWh by each class in each hour, and the costs of what was
metered.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.service.errors import InvalidError

if TYPE_CHECKING:
    from gridhash.pipeline import Run
    from gridhash.scenario.agreement import Agreement
    from gridhash.scenario.load import LoadedScenario

HOUR = timedelta(hours=1)


def stamp(dt: datetime) -> str:
    """``2027-01-01T05:00:00Z`` (UTC, seconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(x: float) -> float:
    """A plan value as published: rounded to 1 kW, never negative zero or below."""
    v = round(float(x), 3)
    return v if v > 0 else 0.0


@dataclass(frozen=True)
class MeterDef:
    id: str
    kind: str  # unit | offtake | miner | import | diesel
    name: str
    site: str | None = None


class Plant:
    """A scenario and one of its agreements, as the service runs them."""

    def __init__(self, scenario: str | Path | LoadedScenario | None,
                 agreement: str | None) -> None:
        from gridhash.scenario.load import LoadedScenario, load_scenario
        from gridhash.settlement.apply import find_agreement

        self.loaded: LoadedScenario = (
            scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
        )
        self.agreement: Agreement = find_agreement(self.loaded, agreement)[1]
        horizon = self.loaded.scenario.horizon
        self.start: datetime = horizon.start.astimezone(UTC)
        self.hours: int = horizon.hours
        self.end: datetime = self.start + self.hours * HOUR
        self.period_hours: int = self.agreement.settlement_period_hours
        self._lock = threading.Lock()
        self._run: Run | None = None
        #: Called once the dispatch is computed (the service freezes the heap then).
        self.after_run: Callable[[], None] | None = None

    # ------------------------------------------------------------------ names
    @property
    def name(self) -> str:
        return self.loaded.name

    @cached_property
    def sites(self) -> list[str]:
        return [s.name for s in self.loaded.scenario.mining.sites]

    @cached_property
    def classes(self) -> list[tuple[str, str]]:
        """(label, site) of each miner class, in the scenario's order."""
        return [(e.label, e.site) for e in self.loaded.scenario.mining.fleet]

    @cached_property
    def meters(self) -> dict[str, MeterDef]:
        sc = self.loaded.scenario
        out = [MeterDef(f"unit:{u.name}", "unit", u.name) for u in sc.plant.units]
        out += [MeterDef(f"offtake:{o.name}", "offtake", o.name) for o in sc.grid.offtakes]
        out += [MeterDef(f"miner:{label}", "miner", label, site) for label, site in self.classes]
        out += [MeterDef("import", "import", "import"), MeterDef("diesel", "diesel", "diesel")]
        return {m.id: m for m in out}

    @property
    def signers(self) -> list[str]:
        """Parties who sign statements (owners and offtakers), in the agreement's order."""
        return [p.id for p in self.agreement.parties if p.role in ("owner", "offtaker")]

    # ------------------------------------------------------------------ time
    def hour_index(self, dt: datetime) -> int:
        """Hour of the horizon that ``dt`` (aware) falls in; may lie outside [0, hours)."""
        return math.floor((dt - self.start) / HOUR)

    def hour_start(self, index: int) -> datetime:
        return self.start + index * HOUR

    def in_horizon(self, dt: datetime) -> bool:
        return self.start <= dt < self.end

    def day_start_index(self, day: date, field: str = "day") -> int:
        """First hour of ``day`` (UTC), which must lie whole inside the horizon."""
        begin = datetime.combine(day, time(0), UTC)
        first = self.hour_index(begin)
        if begin != self.hour_start(first) or first < 0 or first + 24 > self.hours:
            last = (self.end - HOUR).date()
            raise InvalidError(
                f"{day.isoformat()} is not a whole day of the scenario's horizon "
                f"({self.start.date().isoformat()} to {last.isoformat()})",
                field=field,
                value=day.isoformat(),
            )
        return first

    @property
    def periods(self) -> int:
        return math.ceil(self.hours / self.period_hours)

    def period_span(self, period: int) -> tuple[int, int]:
        """Hours [first, stop) of settlement period ``period``."""
        if not 0 <= period < self.periods:
            raise InvalidError(
                f"period {period} is outside the horizon (0 to {self.periods - 1})",
                field="period",
                value=period,
            )
        first = period * self.period_hours
        return first, min(first + self.period_hours, self.hours)

    # ------------------------------------------------------------------ dispatch
    def run(self) -> Run:
        """The dispatch of the whole horizon under the agreement (computed once)."""
        with self._lock:
            if self._run is None:
                from gridhash.pipeline import run_scenario

                self._run = run_scenario(self.loaded, agreement=self.agreement.name)
                if self.after_run is not None:
                    self.after_run()
            return self._run

    def plan_for_day(self, day: date) -> dict[str, Any]:
        """The day-ahead plan for ``day``: 24 hourly setpoints per site and grid deliveries,
        with the day's accounts (energy, money, penalties apart), read from the run's
        accounts (:mod:`gridhash.accounts`)."""
        from gridhash.accounts import PENALTIES

        h0 = self.day_start_index(day)
        run = self.run()
        i, env = run.inputs, run.envelope
        acc = run.accounts.hour_slice(h0, h0 + 24)

        def series(line: str) -> list[float]:
            return [_clean(v) for v in np.asarray(acc.hourly(line)[0], dtype=float)]

        sites = {s: np.zeros(24) for s in i.site_names}
        for k, label in enumerate(i.class_names):
            sites[i.site_names[int(i.class_site[k])]] += acc.hourly(f"mining_mwh:{label}")[0]
        restrictions = ([""] * 24 if env is None
                        else [str(x) for x in env.restriction()[h0:h0 + 24]])
        from gridhash.scenario.resolve import site_limits
        t = {k: float(v[0]) for k, v in acc.totals().items()}
        return {
            "scenario": self.name,
            "agreement": self.agreement.name,
            "day": day.isoformat(),
            "start": stamp(self.hour_start(h0)),
            "first_hour": h0,
            "hours": [stamp(self.hour_start(h0 + k)) for k in range(24)],
            "sites": {s: [_clean(v) for v in mw] for s, mw in sites.items()},
            # What each site may draw, and why it may draw nothing where something holds
            # it at 0 (its outage, its demand-response rule: which rule, levels, hours).
            "site_cap_mw": {s: [_clean(v) for v in i.site_capacity_mw[k, h0:h0 + 24]]
                            for k, s in enumerate(i.site_names)},
            "site_limits": site_limits(i, h0, h0 + 24),
            "classes": {c: series(f"mining_mwh:{c}") for c in i.class_names},
            "offtakes": {o: series(f"grid_mwh:{o}") for o in i.offtake_names},
            "units": {u: series(f"generated_mwh:{u}") for u in i.unit_names},
            "generation_mw": series("generated_mwh"),
            "grid_mw": series("grid_mwh"),
            "mining_mw": series("mining_mwh"),
            "unserved_firm_mw": series("unserved_firm_mwh"),
            "mining_cap_mw": None if env is None else [
                _clean(v) for v in env.mining_cap_mw[h0:h0 + 24]],
            "restrictions": restrictions,
            "totals_mwh": {
                "generation": round(t["generated_mwh"], 3),
                "grid": round(t["grid_mwh"], 3),
                "mining": round(t["mining_mwh"], 3),
                "unserved_firm": round(t["unserved_firm_mwh"], 3),
                "diesel": round(t["diesel_mwh"], 3),
                "house_load_unsupplied": round(t["house_load_unsupplied_mwh"], 3),
            },
            # Planned money (revenue − costs, fixed costs pro rata) and, apart, the
            # penalties (not money).
            "money_usd": {"revenue": round(t["revenue_usd"], 2),
                          "costs": round(t["cost_usd"], 2),
                          "net": round(t["net_usd"], 2)},
            "penalty_usd": {p: round(t[f"penalty_usd:{p}"], 2) for p in PENALTIES},
            "btc": round(t["btc_mined"], 8),
        }

    # ------------------------------------------------------------------ settlement
    def meter_record(self, period: int, readings: dict[tuple[str, int], float]) -> dict[str, Any]:
        """The record ``settle_period`` reads, from metered energies ``{(meter, hour): MWh}``.

        Every meter must have a reading for every hour of the period (see
        :meth:`missing`).  The metered energies are accounted at the plan's rates
        (prices with the agreement's terms applied, BTC per MWh, costs) by the same
        accounts as the plan (:mod:`gridhash.accounts`).
        """
        import dataclasses

        from gridhash.settlement.statements import meter_record

        first, stop = self.period_span(period)
        run = self.run()
        i = run.inputs
        planned = run.accounts.hour_slice(first, stop)

        def metered(meter: str) -> np.ndarray:
            return np.array([float(readings[(meter, t)]) for t in range(first, stop)])

        def stack(meters: list[str]) -> np.ndarray:
            return np.stack([metered(m) for m in meters])[None] if meters else np.zeros(
                (1, 0, stop - first))

        delivered = stack([f"offtake:{o}" for o in i.offtake_names])
        firm = np.asarray(i.offtake_firm_mw, dtype=float)[None, :, first:stop]
        flows = dataclasses.replace(
            planned.flows,
            unit=stack([f"unit:{u}" for u in i.unit_names]),
            imported=metered("import")[None],
            diesel=metered("diesel")[None],
            delivered=delivered,
            unserved=np.maximum(0.0, firm - delivered),
            mining=stack([f"miner:{label}" for label in i.class_names]),
        )
        acc = dataclasses.replace(planned, flows=flows)
        return meter_record(acc, period, self.hour_start(first).strftime("%Y-%m-%dT%H:%MZ"))
