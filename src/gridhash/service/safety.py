"""Safety holds, the plant's reported state, and whether mining may run now.

A monitor's **safety hold** overrides every plan the moment it is raised:
every site's setpoint is 0 MW from the next poll (and a site that cannot poll
falls to 0 when its last setpoint expires, at most ``setpoint_ttl_s`` later).
It stays until a monitor lifts it.

The operator reports the plant's **state** (off-site lines in service, diesel,
unit modes).  The shipped mining rules apply to the latest report at once:
no mining on diesel (``mining-not-on-diesel``) and none on a single off-site
line (``mining-needs-two-offsite-lines``), as in docs/safety.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridhash.service.auth import Caller
from gridhash.service.db import Decision, Hold, PlantState, from_db, to_db
from gridhash.service.errors import ConflictError, NotFoundError


def hold_view(h: Hold) -> dict[str, Any]:
    return {
        "id": h.id, "raised_by": h.raised_by, "raised_at": from_db(h.raised_at).isoformat(),
        "reason": h.reason, "active": h.lifted_at is None, "lifted_by": h.lifted_by,
        "lifted_at": None if h.lifted_at is None else from_db(h.lifted_at).isoformat(),
        "lift_reason": h.lift_reason,
    }


def state_view(p: PlantState) -> dict[str, Any]:
    return {"id": p.id, "reported_by": p.reported_by, "at": from_db(p.at).isoformat(),
            "offsite_lines": p.offsite_lines, "on_diesel": p.on_diesel, "units": p.units,
            "note": p.note}


def active_holds(s: Session) -> list[Hold]:
    return list(s.scalars(select(Hold).where(Hold.lifted_at.is_(None)).order_by(Hold.id)))


def latest_state(s: Session) -> PlantState | None:
    return s.scalar(select(PlantState).order_by(PlantState.at.desc(), PlantState.id.desc())
                    .limit(1))


def mining_blocks(holds: list[Hold], state: PlantState | None) -> list[str]:
    """Why mining may not run now (empty when it may)."""
    out = [f"safety hold {h.id} raised by {h.raised_by}: {h.reason}" for h in holds]
    if state is not None:
        if state.on_diesel:
            out.append("mining-not-on-diesel: the plant reported house load on diesel")
        elif state.offsite_lines <= 1:
            out.append(f"mining-needs-two-offsite-lines: the plant reported "
                       f"{state.offsite_lines} off-site line(s) in service")
    return out


def raise_hold(svc: Any, caller: Caller, reason: str) -> dict[str, Any]:
    caller.require("safety:hold", "raise a safety hold")
    now = svc.now()
    with svc.db.write() as s:
        hold = Hold(raised_by=caller.id, raised_at=to_db(now), reason=reason)
        s.add(hold)
        s.flush()
        svc.log.record(s, "hold_raised", {"hold": hold.id, "by": caller.id, "reason": reason,
                                            "at": now.isoformat()}, now)
        view = hold_view(hold)
    svc.log.flush()
    return view


def lift_hold(svc: Any, caller: Caller, hold_id: int, reason: str) -> dict[str, Any]:
    caller.require("safety:hold", "lift a safety hold")
    now = svc.now()
    with svc.db.write() as s:
        hold = s.scalar(select(Hold).where(Hold.id == hold_id).with_for_update())
        if hold is None:
            raise NotFoundError(f"no safety hold {hold_id}", field="hold_id")
        if hold.lifted_at is not None:
            raise ConflictError(f"safety hold {hold_id} was already lifted by {hold.lifted_by}",
                           field="hold_id")
        hold.lifted_by, hold.lifted_at, hold.lift_reason = caller.id, to_db(now), reason
        svc.log.record(s, "hold_lifted", {"hold": hold_id, "by": caller.id, "reason": reason,
                                            "at": now.isoformat()}, now)
        view = hold_view(hold)
    svc.log.flush()
    return view


def report_state(svc: Any, caller: Caller, offsite_lines: int, on_diesel: bool,
                 units: dict[str, str], note: str) -> dict[str, Any]:
    caller.require("plant:report", "report the plant's state")
    unknown = sorted(set(units) - {u.name for u in svc.plant.loaded.scenario.plant.units})
    if unknown:
        from gridhash.service.errors import InvalidError

        raise InvalidError(f"unknown unit {unknown[0]!r}", field=f"units.{unknown[0]}",
                      expected=", ".join(u.name for u in svc.plant.loaded.scenario.plant.units))
    now = svc.now()
    with svc.db.write() as s:
        state = PlantState(reported_by=caller.id, at=to_db(now), offsite_lines=offsite_lines,
                           on_diesel=on_diesel, units=units, note=note)
        s.add(state)
        s.flush()
        svc.log.record(s, "plant_state", {"report": state.id, "by": caller.id,
                                            "offsite_lines": offsite_lines,
                                            "on_diesel": on_diesel, "units": units,
                                            "note": note, "at": now.isoformat()}, now)
        view = state_view(state)
    svc.log.flush()
    return view


def timeline(s: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Holds raised and lifted, plant states and vetoes, newest first."""
    events: list[tuple[datetime, dict[str, Any]]] = []
    for h in s.scalars(select(Hold).order_by(Hold.id.desc()).limit(limit)):
        events.append((from_db(h.raised_at), {"event": "hold_raised", "hold": h.id,
                                              "by": h.raised_by, "text": h.reason}))
        if h.lifted_at is not None:
            events.append((from_db(h.lifted_at), {"event": "hold_lifted", "hold": h.id,
                                                  "by": h.lifted_by, "text": h.lift_reason}))
    for p in s.scalars(select(PlantState).order_by(PlantState.id.desc()).limit(limit)):
        text = f"{p.offsite_lines} off-site line(s){', on diesel' if p.on_diesel else ''}"
        events.append((from_db(p.at), {"event": "plant_state", "report": p.id,
                                       "by": p.reported_by,
                                       "text": text + (f"; {p.note}" if p.note else "")}))
    for d in s.scalars(select(Decision).where(Decision.kind == "veto")
                       .order_by(Decision.id.desc()).limit(limit)):
        events.append((from_db(d.at), {"event": "plan_vetoed", "plan": d.plan_id,
                                       "by": d.party, "text": d.reason}))
    events.sort(key=lambda e: e[0], reverse=True)
    return [{"at": at.isoformat(), **e} for at, e in events[:limit]]


def status(svc: Any, caller: Caller) -> dict[str, Any]:
    caller.require("read", "read the safety status")
    from gridhash.service.plans import active_plan

    now = svc.now()
    with svc.db.read() as s:
        holds = active_holds(s)
        state = latest_state(s)
        blocks = mining_blocks(holds, state)
        plan = active_plan(s, now.date())
        restriction = ""
        if plan is not None:
            restriction = plan.data["restrictions"][now.hour]
        return {
            "plant_time": now.isoformat(),
            "mining_allowed": not blocks,
            "blocked_by": blocks,
            "holds": [hold_view(h) for h in holds],
            "plant_state": None if state is None else state_view(state),
            "scenario_restriction_now": restriction,
            "timeline": timeline(s),
        }
