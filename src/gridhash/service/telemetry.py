"""What the sites' agents report: measured MW and hashrate, machines, time to get under a cap.

``POST /api/sites/{site}/telemetry`` (the site's own token) stores one report;
``GET /api/sites/{site}/telemetry`` lists the latest.  The service also keeps,
in memory, when each site last polled its setpoint (:func:`note_poll`), for
``/metrics`` (``gridhash_site_seconds_since_poll``).  The dashboard's
plan-vs-actual chart shows the agents' hourly mean MW beside the metered values
(:func:`hourly_traces`).  docs/agent.md describes the agent's side.
"""

from __future__ import annotations

import threading
import time
import weakref
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from gridhash.service.auth import Caller
from gridhash.service.db import SiteTelemetry, from_db, to_db
from gridhash.service.errors import ForbiddenError, NotFoundError

_polls: weakref.WeakKeyDictionary[Any, dict[str, float]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class MachinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    awake: int = Field(ge=0, le=1_000_000)
    asleep: int = Field(ge=0, le=1_000_000)
    unreachable: int = Field(ge=0, le=1_000_000)
    disobeying: int = Field(ge=0, le=1_000_000)


class TelemetryIn(BaseModel):
    """One agent report (``gridhash.agent.run.Agent.telemetry``)."""

    model_config = ConfigDict(extra="ignore")
    at: str | None = Field(default=None, max_length=64, description="agent's plant time")
    mw: float = Field(ge=0, le=100_000, description="measured site draw, cooling included [MW]")
    asic_mw: float | None = Field(default=None, ge=0, le=100_000)
    hashrate_th_s: float = Field(ge=0, le=1e9, description="[TH/s]")
    cap_mw: float = Field(ge=0, le=100_000, description="the cap the agent applies [MW]")
    machines: MachinesIn
    setpoint_issued_at: str | None = Field(default=None, max_length=64)
    plan_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    failsafe: str | None = Field(default=None, max_length=500)
    demand_response: str | None = Field(default=None, max_length=200,
                                        description="why the site's own DR rule curtails")
    seconds_to_under_cap: float | None = Field(default=None, ge=0, le=1e7)
    rejected_setpoints: int = Field(default=0, ge=0, le=2**31 - 1)
    last_rejection: str | None = Field(default=None, max_length=64)
    disobeying: list[str] = Field(default_factory=list, max_length=1000)
    unreachable: list[str] = Field(default_factory=list, max_length=1000)


def note_poll(svc: Any, site: str) -> None:
    """Remember when ``site`` last asked for its setpoint (monotonic seconds)."""
    with _lock:
        _polls.setdefault(svc, {})[site] = time.monotonic()


def note_start(svc: Any) -> None:
    """Remember when the service started (a site that never polls since is as silent)."""
    with _lock:
        _polls.setdefault(svc, {})[""] = time.monotonic()


def seconds_since_poll(svc: Any) -> dict[str, float | None]:
    """Seconds since each site's last poll, or since the service started when it has not
    polled since (``None``: neither is known)."""
    with _lock:
        polls = dict(_polls.get(svc, {}))
    now = time.monotonic()
    since = {site: polls.get(site, polls.get("")) for site in svc.plant.sites}
    return {site: (None if t is None else now - t) for site, t in since.items()}


def _check_site(svc: Any, caller: Caller, site: str, write: bool) -> None:
    if write:
        caller.require("telemetry:write", "report telemetry")
    else:
        caller.require("setpoint:read", "read telemetry")
    if caller.role == "site" and caller.site != site:
        raise ForbiddenError(f"{caller.id} may report and read only its own site ({caller.site})",
                             role=caller.role)
    if site not in svc.plant.sites:
        raise NotFoundError(f"no mining site {site!r}; sites: {', '.join(svc.plant.sites)}",
                            field="site_id")


def _row(r: SiteTelemetry) -> dict[str, Any]:
    return {"site": r.site, "received_at": from_db(r.received_at).isoformat(), "mw": r.mw,
            "hashrate_th_s": r.hashrate_th_s, "cap_mw": r.cap_mw,
            "machines": {"awake": r.awake, "asleep": r.asleep, "unreachable": r.unreachable,
                         "disobeying": r.disobeying},
            "seconds_to_under_cap": r.seconds_to_under_cap, "failsafe": r.failsafe,
            "report": r.data}


def record(svc: Any, caller: Caller, site: str, body: TelemetryIn) -> dict[str, Any]:
    """Store one report from ``site``'s agent."""
    _check_site(svc, caller, site, write=True)
    m = body.machines
    row = SiteTelemetry(site=site, received_at=to_db(svc.now()), mw=body.mw,
                        hashrate_th_s=body.hashrate_th_s, cap_mw=body.cap_mw,
                        awake=m.awake, asleep=m.asleep, unreachable=m.unreachable,
                        disobeying=m.disobeying, seconds_to_under_cap=body.seconds_to_under_cap,
                        failsafe=body.failsafe, data=body.model_dump(mode="json"))
    with svc.db.write() as s:
        s.add(row)
        s.flush()
        out = _row(row)
    return out


def latest(svc: Any, caller: Caller, site: str, limit: int = 60) -> list[dict[str, Any]]:
    """The site's latest reports, newest first."""
    _check_site(svc, caller, site, write=False)
    with svc.db.read() as s:
        rows = s.scalars(select(SiteTelemetry).where(SiteTelemetry.site == site)
                         .order_by(SiteTelemetry.id.desc()).limit(limit)).all()
        return [_row(r) for r in rows]


def latest_per_site(svc: Any) -> dict[str, dict[str, Any]]:
    """Each site's newest report (for /metrics and the alert rules); sites without one left out."""
    with svc.db.read() as s:
        newest = (select(SiteTelemetry.site, func.max(SiteTelemetry.id).label("id"))
                  .group_by(SiteTelemetry.site).subquery())
        rows = s.scalars(select(SiteTelemetry).join(newest, SiteTelemetry.id == newest.c.id))
        return {r.site: _row(r) for r in rows}


def hourly_traces(svc: Any, day: date) -> list[dict[str, Any]]:
    """Plotly traces: each site's mean agent-reported MW per hour of ``day``."""
    begin = datetime.combine(day, datetime.min.time(), UTC)
    hour = func.strftime("%H", SiteTelemetry.received_at) if svc.db.is_sqlite else func.extract(
        "hour", SiteTelemetry.received_at)
    with svc.db.read() as s:
        rows = s.execute(select(SiteTelemetry.site, hour, func.avg(SiteTelemetry.mw))
                         .where(SiteTelemetry.received_at >= to_db(begin),
                                SiteTelemetry.received_at < to_db(begin + timedelta(days=1)))
                         .group_by(SiteTelemetry.site, hour)).all()
    series: dict[str, list[float | None]] = {}
    for site, h, mw in rows:
        series.setdefault(site, [None] * 24)[int(h)] = float(mw)
    hours = [f"{h:02d}:00" for h in range(24)]
    return [{"x": hours, "y": series[site], "name": f"{site} agent (measured)",
             "type": "scatter", "mode": "markers", "marker": {"symbol": "diamond"}}
            for site in svc.plant.sites if site in series]
