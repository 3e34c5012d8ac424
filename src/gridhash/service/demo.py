"""Demo content for ``gridhash serve --demo``: something to click through at once.

* **Meter data**: the plant is taken to have run exactly as dispatched, so the
  dispatch of the scenario's hours from the start of yesterday (plant time) to
  the last hour that has ended is posted as meter readings by the operator.
  These are the model's numbers, replayed, not measurements; a real deployment
  gets its readings from the plant's meters.  Re-posting them at a later start
  stores nothing twice (ingestion is idempotent).
* **Statements** for yesterday's settlement period, ready for the signing
  parties to sign with their demo keys (held by the service in demo mode).
* **Plans**: today's and tomorrow's day-ahead plans, proposed by the operator and
  waiting for the owners' approvals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from gridhash.service.db import Plan
from gridhash.service.errors import ServiceError
from gridhash.service.meters import ReadingIn


def dispatched_readings(svc: Any, first: int, stop: int) -> list[ReadingIn]:
    """The dispatch of hours [first, stop) as meter readings (MWh per hour)."""
    plant = svc.plant
    run = plant.run()
    i, r = run.inputs, run.result

    def values(a: np.ndarray) -> list[float]:
        return [max(0.0, round(float(v), 3)) for v in np.asarray(a, dtype=float)[first:stop]]

    series: dict[str, list[float]] = {}
    for k, u in enumerate(i.unit_names):
        series[f"unit:{u}"] = values(r.unit_mw[k])
    for k, o in enumerate(i.offtake_names):
        series[f"offtake:{o}"] = values(r.delivered_mw[k])
    for k, c in enumerate(i.class_names):
        series[f"miner:{c}"] = values(r.mining_mw[k])
    series["import"] = values(r.imported_mw)
    series["diesel"] = values(r.diesel_mw)
    return [ReadingIn(meter, plant.hour_start(first + n), v)
            for meter, vals in series.items() for n, v in enumerate(vals)]


def prepare_demo(svc: Any) -> list[str]:
    """Replay meters, produce yesterday's statements, propose today's and tomorrow's plans."""
    from gridhash.service import meters, plans, statements

    plant = svc.plant
    operator = next((p.id for p in svc.agreement.parties if p.role == "operator"), None)
    if operator is None:
        return ["the agreement has no operator: no demo content"]
    caller = svc.caller_by_id(operator)
    now = svc.now()
    today = now.date()
    lines = []
    first = max(0, plant.hour_index(now.replace(hour=0, minute=0, second=0, microsecond=0)
                                    - timedelta(days=1)))
    stop = min(plant.hours, plant.hour_index(now))
    if stop > first:
        readings = dispatched_readings(svc, first, stop)
        stored = duplicates = 0
        for k in range(0, len(readings), 2000):
            try:
                res = meters.ingest(svc, caller, readings[k:k + 2000])
            except ServiceError as exc:
                lines.append(f"meter replay stopped: {exc.message}")
                break
            stored += res["stored"]
            duplicates += res["duplicates"]
        lines.append(f"replayed the dispatch of {stop - first} hours as meter readings "
                     f"({stored} stored, {duplicates} already there)")
        for period in range(first // plant.period_hours, plant.periods):
            p0, p1 = plant.period_span(period)
            if p0 < first or p1 > stop:
                continue
            try:
                statements.produce(svc, caller, period)
                lines.append(f"statements for period {period} produced; signing parties: "
                             f"{', '.join(plant.signers)}")
            except ServiceError as exc:
                lines.append(f"period {period}: {exc.message}")
    for day in (today, today + timedelta(days=1)):
        with svc.db.read() as s:
            exists = s.scalar(select(Plan.id).where(Plan.day == day).limit(1))
        if exists is not None:
            continue
        try:
            plan = plans.propose(svc, caller, day)
            lines.append(f"plan {plan['id']} for {day.isoformat()} proposed by {operator}; "
                         f"waiting for {', '.join(plan['waiting_for'])}")
        except ServiceError as exc:
            lines.append(f"no plan for {day.isoformat()}: {exc.message}")
    return lines
