"""``GET /metrics``: the service's state in the Prometheus text format (issue 17).

HTTP metrics (requests, latency, sizes by handler) come from
prometheus-fastapi-instrumentator; gridhash's own gauges are computed when
Prometheus scrapes (:class:`GridhashCollector`), from the database, the ledger
and what the site agents report:

=============================================  =============================================
``gridhash_site_seconds_since_poll{site}``     since the site's agent last polled (or the start)
``gridhash_setpoint_validity_seconds``         how long a setpoint is valid (``setpoint_ttl_s``)
``gridhash_site_measured_mw{site}``            the agent's latest measured draw, cooling included
``gridhash_site_cap_mw{site}``                 the cap the agent applied in that report
``gridhash_site_over_cap{site}``               1 when that draw is above that cap
``gridhash_sites_not_at_cap``                  how many sites are over their cap
``gridhash_site_machines{site,state}``         machines awake / asleep / unreachable / disobeying
``gridhash_site_telemetry_age_seconds{site}``  since the agent's latest report
``gridhash_site_seconds_to_under_cap{site}``   the agent's latest time from a new cap to under it
``gridhash_site_hold_not_obeyed{site}``        1 when a hold is active and the site still mines
``gridhash_holds_active``                      safety holds not lifted
``gridhash_plans{day,status}``                 plans per day (yesterday onwards) and status
``gridhash_meter_readings``                    readings in the database
``gridhash_meter_readings_stored_total``       readings stored (this process)
``gridhash_meter_readings_duplicates_total``   readings received again, stored once (this process)
``gridhash_meter_conflicts_total``             batches refused for a conflict (this process)
``gridhash_meter_gaps_open{meter}``            missing hourly readings today, per meter
``gridhash_ledger_entries``                    ledger size
``gridhash_ledger_unsigned_entries``           entries after the newest signed head
``gridhash_ledger_head_age_seconds``           age of the newest signed tree head
=============================================  =============================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Response

log = logging.getLogger("gridhash.service")
#: A hold is "not obeyed" when the site still mines this long after it was raised [s]
#: (beyond the setpoint's validity): one poll and the agent's report.
HOLD_GRACE_S = 90.0


class GridhashCollector:
    """Computes gridhash's gauges at scrape time."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc
        self.conflicts = 0
        self.stored = 0
        self.duplicates = 0

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        svc = self.svc
        g = GaugeMetricFamily
        try:
            yield from self._collect(svc, g, CounterMetricFamily)
        except Exception:  # a scrape never fails the service; the log says why
            log.exception("metrics collection failed")

    def _collect(self, svc: Any, g: Any, counter: Any) -> Iterator[Any]:
        from sqlalchemy import func, select

        from gridhash.service import telemetry
        from gridhash.service.auth import Caller
        from gridhash.service.db import MeterBatch, Plan, from_db
        from gridhash.service.meters import gaps
        from gridhash.service.ops import head_age_s
        from gridhash.service.safety import active_holds

        now = svc.now()
        polls = g("gridhash_site_seconds_since_poll",
                  "Seconds since the site's agent last polled its setpoint (since the service "
                  "started when it has not polled since)", labels=["site"])
        for site, age in telemetry.seconds_since_poll(svc).items():
            if age is not None:
                polls.add_metric([site], age)
        yield polls
        yield g("gridhash_setpoint_validity_seconds", "How long a setpoint stays valid",
                value=svc.config.setpoint_ttl_s)

        with svc.db.read() as s:
            holds = active_holds(s)
            plans = s.execute(select(Plan.day, Plan.status, func.count()).where(
                Plan.day >= now.date() - timedelta(days=1)).group_by(Plan.day, Plan.status)).all()
            rows = s.scalar(select(func.coalesce(func.sum(MeterBatch.stored), 0)))
        reports = telemetry.latest_per_site(svc)
        first_hold = min((from_db(h.raised_at) for h in holds), default=None)
        mw, cap, over, machines, age, under, disobey = (
            g("gridhash_site_measured_mw", "Site draw the agent measured, cooling included [MW]",
              labels=["site"]),
            g("gridhash_site_cap_mw", "Cap the agent applied in its latest report [MW]",
              labels=["site"]),
            g("gridhash_site_over_cap", "1 when the site's measured draw is above its cap",
              labels=["site"]),
            g("gridhash_site_machines", "Machines by state, as the agent reported",
              labels=["site", "state"]),
            g("gridhash_site_telemetry_age_seconds", "Seconds since the agent's latest report",
              labels=["site"]),
            g("gridhash_site_seconds_to_under_cap",
              "Agent's latest time from a new cap to the site under it [s]", labels=["site"]),
            g("gridhash_site_hold_not_obeyed",
              "1 when a safety hold is active and the site still mines", labels=["site"]),
        )
        n_over = 0
        for site, r in reports.items():
            received = _parse(r["received_at"])
            is_over = r["mw"] > r["cap_mw"] + standby_mw(r)
            n_over += is_over
            mw.add_metric([site], r["mw"])
            cap.add_metric([site], r["cap_mw"])
            over.add_metric([site], float(is_over))
            for state, n in r["machines"].items():
                machines.add_metric([site, state], n)
            age.add_metric([site], max(0.0, (now - received).total_seconds()))
            if r["seconds_to_under_cap"] is not None:
                under.add_metric([site], r["seconds_to_under_cap"])
            mining = r["machines"]["awake"] + r["machines"]["disobeying"] > 0 or (
                r["mw"] > standby_mw(r))
            late = first_hold is not None and (now - first_hold).total_seconds() > (
                svc.config.setpoint_ttl_s + HOLD_GRACE_S)
            disobey.add_metric([site], float(bool(holds) and late and mining
                                             and received >= first_hold))
        yield from (mw, cap, over, machines, age, under, disobey)
        yield g("gridhash_sites_not_at_cap", "Sites whose measured draw is above their cap",
                value=n_over)
        yield g("gridhash_holds_active", "Safety holds not lifted", value=len(holds))
        plan_g = g("gridhash_plans", "Plans per day and status", labels=["day", "status"])
        for day, status, n in plans:
            plan_g.add_metric([day.isoformat(), status], n)
        yield plan_g
        yield g("gridhash_meter_readings", "Meter readings in the database", value=rows)
        yield counter("gridhash_meter_readings_stored",
                      "Meter readings stored (since this process started)", value=self.stored)
        yield counter("gridhash_meter_readings_duplicates",
                      "Meter readings received again and stored once (since this process "
                      "started)", value=self.duplicates)
        yield counter("gridhash_meter_conflicts",
                      "Meter batches refused for a conflicting value (since this process started)",
                      value=self.conflicts)
        auditor = Caller("metrics", "party", "auditor", "metrics")
        gap_g = g("gridhash_meter_gaps_open", "Missing hourly readings today, per meter",
                  labels=["meter"])
        for meter, info in gaps(svc, auditor)["meters"].items():
            gap_g.add_metric([meter], info["missing"])
        yield gap_g
        status = svc.log.status()
        yield g("gridhash_ledger_entries", "Entries in the ledger", value=status["size"])
        yield g("gridhash_ledger_unsigned_entries", "Entries after the newest signed tree head",
                value=status["unsigned_entries"])
        head_age = head_age_s(svc)
        if head_age is not None:
            yield g("gridhash_ledger_head_age_seconds",
                    "Seconds since the newest signed tree head", value=head_age)


def _parse(stamp: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(stamp)


def standby_mw(report: dict[str, Any]) -> float:
    """What sleeping machines may still draw (50 W each, cooling counted) [MW]."""
    return report["machines"]["asleep"] * 50.0 * 1.05 / 1e6


class MeterCountMiddleware:
    """Pure ASGI: counts what ``POST /api/meters/readings`` answered (stored, duplicates,
    conflicts), reading only that route's response body."""

    def __init__(self, app: Any, collector: GridhashCollector) -> None:
        self.app, self.collector = app, collector

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" \
                or scope.get("path") != "/api/meters/readings":
            await self.app(scope, receive, send)
            return
        status, body = [0], bytearray()

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and status[0] == 200:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, watch)
        if status[0] == 409:
            self.collector.conflicts += 1
        elif status[0] == 200:
            try:
                result = json.loads(bytes(body))
                self.collector.stored += int(result.get("stored", 0))
                self.collector.duplicates += int(result.get("duplicates", 0))
            except (ValueError, TypeError, AttributeError):
                pass


def install_metrics(app: FastAPI, svc: Any) -> GridhashCollector:
    """``/metrics`` on ``app``: HTTP metrics and :class:`GridhashCollector`, own registry."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_fastapi_instrumentator import Instrumentator

    registry = CollectorRegistry()
    collector = GridhashCollector(svc)
    registry.register(collector)
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app)

    app.add_middleware(MeterCountMiddleware, collector=collector)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return collector
