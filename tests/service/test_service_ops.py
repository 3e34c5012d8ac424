"""Operations (issue 17), on SQLite and PostgreSQL: agent telemetry, /metrics, /api/ready,
JSON request logs with request and caller ids, token expiry and rotation."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from service_helpers import Harness, readings_for

pytest_plugins = ["service_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

REPORT = {"mw": 12.5, "asic_mw": 11.9, "hashrate_th_s": 52000.0, "cap_mw": 10.0,
          "machines": {"awake": 40, "asleep": 2, "unreachable": 1, "disobeying": 1},
          "seconds_to_under_cap": 3.25, "failsafe": None, "rejected_setpoints": 2,
          "last_rejection": "bad_signature", "disobeying": ["10.0.0.7"]}


def metrics(h: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = h.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_telemetry_is_stored_per_site_and_only_by_that_site(harness: Harness) -> None:
    h = harness
    r = h.post("/api/sites/S/telemetry", "site:S", REPORT)
    assert r.status_code == 201, r.text
    assert h.post("/api/sites/T/telemetry", "site:S", REPORT).status_code == 403
    assert h.post("/api/sites/S/telemetry", "op", REPORT).status_code == 403
    bad = h.post("/api/sites/S/telemetry", "site:S", {**REPORT, "mw": -1})
    assert bad.status_code == 422 and bad.json()["field"] == "mw"
    rows = h.get("/api/sites/S/telemetry", "audit").json()
    assert rows[0]["mw"] == 12.5 and rows[0]["machines"]["disobeying"] == 1
    assert rows[0]["report"]["last_rejection"] == "bad_signature"
    assert h.get("/api/sites/T/telemetry", "site:S").status_code == 403


def test_metrics_show_polls_caps_holds_meters_and_the_ledger(harness: Harness) -> None:
    h = harness
    assert h.get("/api/sites/S/setpoint", "site:S").status_code == 200
    h.post("/api/sites/S/telemetry", "site:S", REPORT)
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 2)})
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 2)})  # dups
    conflict = readings_for(h.svc, 0, 1, value=9.0)
    assert h.post("/api/meters/readings", "op", {"readings": conflict}).status_code == 409
    hold = h.post("/api/safety/holds", "watch", {"reason": "metrics"}).json()
    m = metrics(h)
    polled = m[("gridhash_site_seconds_since_poll", (("site", "S"),))]
    never = m[("gridhash_site_seconds_since_poll", (("site", "T"),))]  # since the start
    assert 0 <= polled < never < 600
    assert m[("gridhash_setpoint_validity_seconds", ())] == 60
    assert m[("gridhash_site_measured_mw", (("site", "S"),))] == 12.5
    assert m[("gridhash_site_over_cap", (("site", "S"),))] == 1.0
    assert m[("gridhash_sites_not_at_cap", ())] == 1
    assert m[("gridhash_site_machines", (("site", "S"), ("state", "disobeying")))] == 1
    assert m[("gridhash_site_seconds_to_under_cap", (("site", "S"),))] == 3.25
    assert m[("gridhash_holds_active", ())] == 1
    n = len(h.svc.plant.meters)
    assert m[("gridhash_meter_readings", ())] == 2 * n
    assert m[("gridhash_meter_readings_stored_total", ())] == 2 * n
    assert m[("gridhash_meter_readings_duplicates_total", ())] == 2 * n
    assert m[("gridhash_meter_conflicts_total", ())] == 1
    gaps = {k[1][0][1]: v for k, v in m.items() if k[0] == "gridhash_meter_gaps_open"}
    api = h.get("/api/meters/gaps", "audit").json()["meters"]
    assert gaps == {meter: info["missing"] for meter, info in api.items()}
    assert all(v == 10 for v in gaps.values())  # today 00:00-10:00, plant time 10:30
    assert m[("gridhash_ledger_entries", ())] == h.svc.log.ledger.size
    assert m[("gridhash_ledger_head_age_seconds", ())] >= 0
    assert any(k[0] == "http_requests_total" for k in m)  # the instrumentator's
    # the hold is not yet overdue: the report came before it and the grace has not passed
    assert m[("gridhash_site_hold_not_obeyed", (("site", "S"),))] == 0
    h.clock.advance(minutes=5)
    h.post("/api/sites/S/telemetry", "site:S", REPORT)  # still mining 5 min after the hold
    m = metrics(h)
    assert m[("gridhash_site_hold_not_obeyed", (("site", "S"),))] == 1
    h.post(f"/api/safety/holds/{hold['id']}/lift", "watch", {"reason": "done"})
    assert metrics(h)[("gridhash_holds_active", ())] == 0


def test_ready_names_the_failing_check(harness: Harness) -> None:
    h = harness
    r = h.client.get("/api/ready")
    assert r.status_code == 200, r.text
    assert set(r.json()["checks"]) == {"database", "migrations", "ledger_writable", "head_age"}
    h.svc.config.head_max_age_s = 0.0
    h.post("/api/safety/holds", "watch", {"reason": "a signed head"})
    r = h.client.get("/api/ready")
    assert r.status_code == 503 and "head_age" in r.json()["message"]
    h.svc.config.head_max_age_s = 900.0
    from alembic import command

    from gridhash.service.db import alembic_config

    cfg = alembic_config()
    with h.svc.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "0001")
    r = h.client.get("/api/ready")
    assert r.status_code == 503 and r.json()["checks"]["migrations"]["ok"] is False
    assert "migrations" in r.json()["message"] and "0001" in r.json()["message"]


def test_request_logs_are_json_with_ids_and_never_a_token(harness: Harness,
                                                          caplog: Any) -> None:
    from gridhash.service.ops import JsonFormatter

    h = harness
    with caplog.at_level(logging.INFO, logger="gridhash.service.access"):
        r = h.client.get("/api/me", headers={**h.h("own-a"), "X-Request-ID": "req-42"})
        r2 = h.client.get("/api/me", headers={"Authorization": "Bearer gh_not-a-token"})
    assert r.headers["X-Request-ID"] == "req-42" and len(r2.headers["X-Request-ID"]) == 16
    lines = [json.loads(JsonFormatter().format(rec)) for rec in caplog.records
             if rec.name == "gridhash.service.access"]
    first = next(x for x in lines if x["request_id"] == "req-42")
    assert first["caller"] == "own-a" and first["status"] == 200 and first["path"] == "/api/me"
    assert any(x["caller"] == "unauthenticated" and x["status"] == 401 for x in lines)
    text = "\n".join(json.dumps(x) for x in lines)
    assert h.tokens["own-a"] not in text and "gh_not-a-token" not in text


def test_tokens_rotate_expire_and_a_revoked_one_fails_at_once(harness: Harness) -> None:
    h = harness
    old = h.tokens["own-a"]
    assert h.get("/api/me", "own-a").status_code == 200  # cached from here on
    r = h.post("/api/tokens/rotate", "own-a", {"ttl_days": 30})
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert h.client.get("/api/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert h.client.get("/api/me", headers={"Authorization": f"Bearer {new}"}).json()["id"] \
        == "own-a"
    # the operator rotates a site's token; not a party's; others rotate only their own
    r = h.post("/api/tokens/rotate", "op", {"principal": "site:T"})
    assert r.status_code == 200 and r.json()["principal"] == "site:T"
    assert h.post("/api/tokens/rotate", "op", {"principal": "own-b"}).status_code == 403
    assert h.post("/api/tokens/rotate", "own-b", {"principal": "site:T"}).status_code == 403
    assert h.post("/api/tokens/rotate", "op", {"principal": "nobody"}).status_code == 404
    # expiry: the new token of own-a lasts 30 days (plant time)
    h.clock.advance(days=31)
    r = h.client.get("/api/me", headers={"Authorization": f"Bearer {new}"})
    assert r.status_code == 401 and "expired" in r.json()["message"]
    assert h.get("/api/me", "own-b").status_code == 200  # 365 days by default


def test_the_dashboard_chart_shows_what_the_agents_measured(harness: Harness) -> None:
    from gridhash.service.dashboard import plan_vs_actual

    h = harness
    h.post("/api/sites/S/telemetry", "site:S", REPORT)
    h.clock.advance(minutes=1)
    h.post("/api/sites/S/telemetry", "site:S", {**REPORT, "mw": 7.5})
    chart = plan_vs_actual(h.svc, h.clock().date())
    agent = next(t for t in chart["traces"] if t["name"] == "S agent (measured)")
    assert agent["y"][h.clock().hour] == pytest.approx(10.0)
    assert sum(v is not None for v in agent["y"]) == 1
