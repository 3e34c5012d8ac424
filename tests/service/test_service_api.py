"""The operations service end to end through its API, on SQLite and on PostgreSQL:
plans and approvals, setpoints, holds, meter data, statements, the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from service_helpers import NOW, SITES, Harness, make_harness, meter_ids, readings_for, setpoint_of

from gridhash.ledger.signing import PartyKey, generate_key
from gridhash.service.setpoints import verify_setpoint

pytest_plugins = ["service_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def propose(h: Harness, day: str = "2027-01-02") -> dict[str, Any]:
    r = h.post("/api/plans", "op", {"day": day})
    assert r.status_code == 201, r.text
    return r.json()


def approve(h: Harness, plan_id: int, *who: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for w in who:
        r = h.post(f"/api/plans/{plan_id}/approve", w, {"reason": f"ok by {w}"})
        assert r.status_code == 200, r.text
        body = r.json()
    return body


def test_health_me_and_openapi(harness: Harness) -> None:
    h = harness
    assert h.client.get("/api/health").json()["ok"] is True
    assert h.get("/api/me", "own-a").json() == {
        "id": "own-a", "kind": "party", "role": "owner", "name": "Party own-a", "site": None}
    assert h.get("/api/me", "site:S").json()["role"] == "site"
    spec = h.client.get("/openapi.json").json()
    assert "/api/sites/{site_id}/setpoint" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_missing_or_unknown_token_is_401_json(harness: Harness) -> None:
    r = harness.client.get("/api/plans")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = harness.client.get("/api/plans", headers={"Authorization": "Bearer gh_nope"})
    assert r.status_code == 401 and "unknown API token" in r.json()["message"]


def test_plan_needs_the_approval_rule_then_drives_setpoints(harness: Harness) -> None:
    h = harness
    plan = propose(h)
    assert plan["status"] == "proposed" and plan["waiting_for"] == ["own-a", "own-b"]
    data = plan["plan"]
    assert set(data["sites"]) == set(SITES)
    assert all(len(v) == 24 for v in data["sites"].values())
    assert all(len(v) == 24 for v in data["offtakes"].values())
    # Nothing is active yet: every site gets zero.
    sp = setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))
    assert sp["mw_cap"] == 0.0 and "no active plan" in sp["reason"]

    after_one = approve(h, plan["id"], "own-a")
    assert after_one["status"] == "proposed" and after_one["approvals"] == ["own-a"]
    # The offtaker's approval is recorded but the rule counts owners only.
    after_buyer = approve(h, plan["id"], "buyer")
    assert after_buyer["status"] == "proposed"
    assert [d["party"] for d in after_buyer["decisions"]] == ["own-a", "buyer"]
    active = approve(h, plan["id"], "own-b")
    assert active["status"] == "active" and active["approvals"] == ["own-a", "own-b"]

    for site in SITES:
        sp = setpoint_of(h.get(f"/api/sites/{site}/setpoint", f"site:{site}"))
        assert sp["mw_cap"] == data["sites"][site][NOW.hour]
        assert sp["plan_id"] == plan["id"] and sp["hold"] is False
        assert sp["valid_until"] == "2027-01-02T10:31:00Z"  # issued + 60 s, before 11:00
        envelope = h.get(f"/api/sites/{site}/setpoint", f"site:{site}").json()
        key = h.svc.log.service_key.public.raw.hex()
        assert verify_setpoint(envelope, key)["mw_cap"] == sp["mw_cap"]
        tampered = {**envelope,
                    "payload": envelope["payload"].replace('"hold":false', '"hold":true')}
        assert tampered != envelope and verify_setpoint(tampered, key) is None
        assert verify_setpoint(envelope, "00" * 32) is None
    # Near the end of the hour, validity stops at the hour's end.
    h.clock.set(NOW.replace(minute=59, second=30))
    late = setpoint_of(h.get("/api/sites/S/setpoint", "op"))
    assert late["valid_until"] == "2027-01-02T11:00:00Z"
    # Voting again, or on an active plan, is a conflict.
    r = h.post(f"/api/plans/{plan['id']}/approve", "own-a")
    assert r.status_code == 409 and r.json()["field"] == "plan_id"


def test_a_later_plan_supersedes_and_rejection_ends_a_plan(harness: Harness) -> None:
    h = harness
    first = propose(h)
    approve(h, first["id"], "own-a", "own-b")
    second = propose(h)
    approve(h, second["id"], "own-b", "own-a")
    assert h.get(f"/api/plans/{first['id']}", "audit").json()["status"] == "superseded"
    assert setpoint_of(h.get("/api/sites/T/setpoint", "audit"))["plan_id"] == second["id"]
    third = propose(h)
    r = h.post(f"/api/plans/{third['id']}/reject", "own-a", {"reason": "too much mining"})
    assert r.json()["status"] == "rejected"  # 2 of 2 owners needed: one no is final
    listed = h.get("/api/plans?status=active", "watch").json()
    assert [p["id"] for p in listed] == [second["id"]]


def test_a_veto_blocks_even_an_active_plan(harness: Harness) -> None:
    h = harness
    plan = propose(h)
    r = h.post(f"/api/plans/{plan['id']}/veto", "own-a", {"reason": "x"})
    assert r.status_code == 403
    approve(h, plan["id"], "own-a", "own-b")
    assert setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))["plan_id"] == plan["id"]
    r = h.post(f"/api/plans/{plan['id']}/veto", "watch", {"reason": "drone activity"})
    assert r.status_code == 200 and r.json()["status"] == "vetoed"
    sp = setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))
    assert sp["mw_cap"] == 0.0 and sp["plan_id"] is None
    r = h.post(f"/api/plans/{plan['id']}/veto", "watch", {"reason": "again"})
    assert r.status_code == 409
    r = h.post(f"/api/plans/{plan['id']}/veto", "watch", {"reason": ""})
    assert r.status_code == 422 and r.json()["field"] == "reason"


def test_a_safety_hold_stops_mining_at_once_and_plant_state_applies_the_rules(
        harness: Harness) -> None:
    h = harness
    plan = propose(h)
    approve(h, plan["id"], "own-a", "own-b")
    planned = plan["plan"]["sites"]["S"][NOW.hour]
    assert planned > 0, "the test plan should mine at 10:00"
    r = h.post("/api/safety/holds", "watch", {"reason": "strike reported near the site"})
    assert r.status_code == 201
    hold = r.json()
    sp = setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))
    assert sp["mw_cap"] == 0.0 and sp["hold"] is True and sp["hold_ids"] == [hold["id"]]
    assert sp["planned_mw"] == planned
    status = h.get("/api/safety", "own-b").json()
    assert status["mining_allowed"] is False and status["holds"][0]["id"] == hold["id"]
    h.clock.advance(minutes=1)
    r = h.post(f"/api/safety/holds/{hold['id']}/lift", "watch", {"reason": "all clear"})
    assert r.status_code == 200 and r.json()["active"] is False
    assert h.post(f"/api/safety/holds/{hold['id']}/lift", "watch").status_code == 409
    assert h.post("/api/safety/holds/999/lift", "watch").status_code == 404
    assert setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))["mw_cap"] == planned
    # One off-site line: the mining rules block mining until two are back.
    h.clock.advance(minutes=1)
    r = h.post("/api/plant-state", "op", {"offsite_lines": 1, "units": {"U1": "power_operation"}})
    assert r.status_code == 201
    sp = setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))
    assert sp["mw_cap"] == 0.0 and "mining-needs-two-offsite-lines" in sp["reason"]
    h.clock.advance(minutes=1)
    h.post("/api/plant-state", "op", {"offsite_lines": 2, "on_diesel": False})
    assert setpoint_of(h.get("/api/sites/S/setpoint", "site:S"))["mw_cap"] == planned
    r = h.post("/api/plant-state", "op", {"offsite_lines": 2, "units": {"U9": "hot_standby"}})
    assert r.status_code == 422 and r.json()["field"] == "units.U9"
    timeline = h.get("/api/safety", "audit").json()["timeline"]  # newest first
    assert [(e["event"], e["by"]) for e in timeline] == [
        ("plant_state", "op"), ("plant_state", "op"), ("hold_lifted", "watch"),
        ("hold_raised", "watch")]
    assert timeline[1]["text"] == "1 off-site line(s)" and timeline[2]["text"] == "all clear"


def test_plans_are_for_whole_days_of_the_horizon_from_today(harness: Harness) -> None:
    h = harness
    r = h.post("/api/plans", "op", {"day": "2027-01-01"})
    assert r.status_code == 422 and r.json()["field"] == "day" and "past" in r.json()["message"]
    r = h.post("/api/plans", "op", {"day": "2027-01-05"})
    assert r.status_code == 422 and r.json()["field"] == "day"
    r = h.post("/api/plans", "op", {"day": "not a date"})
    assert r.status_code == 422 and r.json()["field"] == "day"
    assert propose(h, "2027-01-04")["plan"]["start"] == "2027-01-04T00:00:00Z"


def test_meter_ingestion_is_idempotent_and_conflicts_name_the_reading(harness: Harness) -> None:
    h = harness
    batch = readings_for(h.svc, 0, 3)
    r = h.post("/api/meters/readings", "op", {"readings": batch})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == len(batch) and r.json()["duplicates"] == 0
    again = h.post("/api/meters/readings", "op", {"readings": batch}).json()
    assert again == {"batch": None, "received": len(batch), "stored": 0,
                     "duplicates": len(batch)}
    # A re-send that overlaps old and new readings stores only the new ones.
    more = readings_for(h.svc, 2, 5)
    res = h.post("/api/meters/readings", "op", {"readings": more}).json()
    assert res["stored"] == 2 * len(meter_ids(h.svc)) and res["duplicates"] == len(
        meter_ids(h.svc))
    # A conflicting value: 409 naming meter and interval; nothing of the batch is stored.
    fresh = readings_for(h.svc, 5, 6)
    bad = dict(batch[4], value=batch[4]["value"] + 0.5)
    r = h.post("/api/meters/readings", "op", {"readings": [*fresh, bad]})
    assert r.status_code == 409
    body = r.json()
    assert body["meter"] == bad["meter"] and body["interval_start"] == bad["interval_start"]
    assert bad["meter"] in body["message"] and bad["interval_start"] in body["message"]
    assert body["conflicts"][0]["stored"] == batch[4]["value"]
    summary = h.get("/api/meters", "audit").json()
    assert summary["readings"] == 5 * len(meter_ids(h.svc))
    # Two values for one key inside one batch.
    r = h.post("/api/meters/readings", "op",
               {"readings": [fresh[0], dict(fresh[0], value=fresh[0]["value"] + 1)]})
    assert r.status_code == 409 and r.json()["field"] == "readings[1].value"
    # The same reading twice inside one batch is one reading.
    r = h.post("/api/meters/readings", "op", {"readings": [fresh[0], fresh[0]]})
    assert r.json()["stored"] == 1 and r.json()["duplicates"] == 1


@pytest.mark.parametrize(("change", "field"), [
    ({"meter": "unit:U9"}, "readings[0].meter"),
    ({"interval_start": "2027-01-01T03:15:00Z"}, "readings[0].interval_start"),
    ({"interval_start": "2026-12-31T23:00:00Z"}, "readings[0].interval_start"),
    ({"interval_start": "2027-01-02T10:00:00Z"}, "readings[0].interval_start"),  # not ended
    ({"value": -1.0}, "readings[0].value"),
    ({"value": "many"}, "readings[0].value"),
    ({"extra": 1}, "readings[0].extra"),
])
def test_bad_readings_are_422_naming_the_field(harness: Harness, change: dict[str, Any],
                                               field: str) -> None:
    reading = dict(readings_for(harness.svc, 0, 1)[0], **change)
    r = harness.post("/api/meters/readings", "op", {"readings": [reading]})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert harness.get("/api/meters", "op").json()["readings"] == 0


def test_gaps_list_missing_intervals(harness: Harness) -> None:
    h = harness
    batch = [r for r in readings_for(h.svc, 24, 34)
             if not (r["meter"] == "offtake:city" and r["interval_start"] in (
                 "2027-01-02T03:00:00Z", "2027-01-02T04:00:00Z"))]
    h.post("/api/meters/readings", "op", {"readings": batch})
    gaps = h.get("/api/meters/gaps", "own-a").json()  # today up to the last ended hour (10:00)
    assert gaps["from"] == "2027-01-02T00:00:00Z" and gaps["to"] == "2027-01-02T10:00:00Z"
    assert gaps["meters"]["offtake:city"] == {
        "missing": 2, "ranges": [["2027-01-02T03:00:00Z", "2027-01-02T05:00:00Z"]]}
    assert gaps["meters"]["unit:U1"]["missing"] == 0
    assert gaps["missing"] == 2 and gaps["complete"] is False
    day1 = h.get("/api/meters/gaps", "audit",
                 params={"start": "2027-01-01T00:00:00Z", "end": "2027-01-01T06:00:00Z"}).json()
    assert all(m["missing"] == 6 for m in day1["meters"].values())
    r = h.get("/api/meters/gaps", "audit", params={"start": "yesterday"})
    assert r.status_code == 422 and r.json()["field"] == "start"


def _keys(tmp: Any) -> dict[str, PartyKey]:
    return {p: generate_key(tmp, p) for p in ("own-a", "own-b", "buyer")}


def test_statements_from_meters_signed_by_every_signer_and_verified(harness: Harness) -> None:
    from gridhash.ledger.verify import verify_ledger
    from gridhash.settlement.record import CHECKERS
    from gridhash.settlement.statements import settle_period

    h = harness
    r = h.post("/api/statements", "op", {"period": 0})
    assert r.status_code == 409 and r.json()["first_missing"]["interval_start"] == (
        "2027-01-01T00:00:00Z")
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 24)})
    r = h.post("/api/statements", "op", {"period": 0})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "awaiting_signatures" and doc["awaiting"] == ["own-a", "own-b", "buyer"]
    assert h.post("/api/statements", "op", {"period": 0}).status_code == 409
    assert h.post("/api/statements", "op", {"period": 1}).status_code == 409  # day 2 not metered
    # The statements are settle_period of the meter record built from the readings.
    plant = h.svc.plant
    record = plant.meter_record(0, {
        (x["meter"], plant.hour_index(datetime.fromisoformat(x["interval_start"]))): x["value"]
        for x in readings_for(h.svc, 0, 24)})
    assert record["offtakes"]["city"]["delivered_mwh"] == [1.0 + t / 100 for t in range(24)]
    expected = settle_period(record, h.svc.agreement)
    assert doc["statements"] == expected["statements"] and doc["pools"] == expected["pools"]
    for pool in expected["pools"]:
        assert sum(pool["allocated"].values()) == pool["total"]

    keys = _keys(h.folder / "party-keys")
    r = h.post("/api/statements/0/signatures/own-a", "own-a", {"signature": "ab" * 64})
    assert r.status_code == 409 and "public key" in r.json()["message"]
    for pid, key in keys.items():
        r = h.put(f"/api/parties/{pid}/key", pid, {"public_key": key.public.raw.hex()})
        assert r.status_code == 200 and r.json()["changed"] is True
    r = h.put("/api/parties/own-a/key", "own-a", {"public_key": keys["own-b"].public.raw.hex()})
    assert r.status_code == 409
    payload = h.get("/api/statements/0/signing-payload", "own-a").json()["payload"].encode()
    r = h.post("/api/statements/0/signatures/own-a", "own-a",
               {"signature": keys["own-b"].sign(payload).hex()})
    assert r.status_code == 422 and r.json()["field"] == "signature"
    r = h.post("/api/statements/0/signatures/own-b", "own-a",
               {"signature": keys["own-b"].sign(payload).hex()})
    assert r.status_code == 403
    r = h.post("/api/statements/0/signatures/own-a", "own-a", {})
    assert r.status_code == 422  # no demo keys: a signature is required
    for pid in ("own-a", "buyer", "own-b"):
        r = h.post(f"/api/statements/0/signatures/{pid}", pid,
                   {"signature": keys[pid].sign(payload).hex()})
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "signed"
    assert h.post("/api/statements/0/signatures/own-a", "own-a",
                  {"signature": keys["own-a"].sign(payload).hex()}).status_code == 409
    # Own statements only, for owners and offtakers.
    mine = h.get("/api/statements/0", "buyer").json()
    assert [s["party"] for s in mine["statements"]] == ["buyer"] and "pools" not in mine
    assert mine["statements"][0]["usd_owed_cents"] < 0  # the offtaker pays for its energy
    assert h.get("/api/statements/0/parties/own-a", "buyer").status_code == 403
    assert h.get("/api/statements/0/parties/buyer", "buyer").status_code == 200
    assert len(h.get("/api/statements/0", "audit").json()["statements"]) == 6
    # The ledger recomputes the statement from the meter entry and checks every signature.
    report = h.get("/api/ledger/verify", "audit").json()
    assert report["ok"], report
    assert report["checked"] == {"agreement": 4, "meter": 1, "statement": 1}
    offline = verify_ledger(h.svc.log.path, None, CHECKERS)
    assert offline.ok and offline.checked["statement"] == 1


def test_every_state_change_is_on_the_ledger(harness: Harness) -> None:
    from gridhash.ledger.bundle import ProofBundle

    h = harness
    plan = propose(h)
    approve(h, plan["id"], "own-a", "own-b")
    second = propose(h)
    h.post(f"/api/plans/{second['id']}/veto", "watch", {"reason": "unsafe"})
    hold = h.post("/api/safety/holds", "watch", {"reason": "drill"}).json()
    h.post(f"/api/safety/holds/{hold['id']}/lift", "watch", {})
    h.post("/api/plant-state", "op", {"offsite_lines": 2})
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 2)})
    status = h.get("/api/ledger", "audit").json()
    entries = h.get("/api/ledger/entries", "own-a", params={"limit": 1000}).json()
    assert len(entries) == status["size"] and status["unsigned_entries"] <= 1
    kinds = [e["kind"] for e in entries]
    assert kinds[:2] == ["scenario", "agreement"]
    for kind in ("plan_proposed", "plan_decision", "plan_activated", "plan_vetoed",
                 "hold_raised", "hold_lifted", "plant_state", "meter_batch"):
        assert kind in kinds, kind
    batch = next(e for e in entries if e["kind"] == "meter_batch")["payload"]
    assert len(batch["readings"]) == 2 * len(meter_ids(h.svc))
    seq = kinds.index("hold_raised")
    bundle = h.get(f"/api/ledger/entries/{seq}/proof", "watch").json()
    proof = ProofBundle.from_dict(bundle)
    proof.check([h.svc.log.service_key.public])  # raises ProofError if it does not hold
    assert proof.entry.kind == "hold_raised"
    assert h.get(f"/api/ledger/entries/{status['size'] + 5}/proof", "watch").status_code == 404


def test_errors_are_json_4xx_never_500(harness: Harness) -> None:
    h = harness
    cases = [
        h.client.post("/api/plans", headers={**h.h("op"), "content-type": "application/json"},
                      content=b"{not json"),
        h.post("/api/plans", "op", {"day": "2027-01-03", "extra": True}),
        h.post("/api/plans", "op", []),
        h.get("/api/plans/0", "op"),
        h.get("/api/plans/99999999999999999999", "op"),
        h.get("/api/plans?limit=0", "op"),
        h.post("/api/safety/holds", "watch", {"reason": "\u0000"}),
        h.post("/api/meters/readings", "op", {"readings": []}),
        h.get("/api/meters/readings", "op", params={"start": "99999-01-01"}),
        h.get("/api/statements/-1", "audit"),
        h.put("/api/parties/own-a/key", "own-a", {"public_key": "zz" * 32}),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        body = r.json()
        assert body["error"] and body["message"], body
        if r.status_code == 422:
            assert body["field"], body
    assert h.get("/api/plans/42", "op").status_code == 404
    assert h.get("/api/nowhere", "op").json()["error"] == "not_found"
    assert h.client.delete("/api/plans").status_code == 405
    assert h.get("/api/sites/nowhere/setpoint", "op").status_code == 404
    assert h.get("/api/statements/7", "audit").status_code == 404


def test_restart_keeps_everything_and_tokens_stay_valid(db_url: str, tmp_path: Any) -> None:
    from gridhash.service.core import SetupError

    first = make_harness(db_url, tmp_path)
    with first.client:
        plan = propose(first)
        first.post("/api/meters/readings", "op", {"readings": readings_for(first.svc, 0, 2)})
        size = first.svc.log.ledger.size
    second = make_harness(db_url, tmp_path)
    with second.client:
        assert second.tokens == {}  # issued once, at the first start
        second.tokens = first.tokens
        assert second.get(f"/api/plans/{plan['id']}", "own-a").json()["status"] == "proposed"
        assert second.get("/api/meters", "op").json()["readings"] == 2 * len(meter_ids(second.svc))
        assert second.svc.log.ledger.size == size
        assert second.get("/api/ledger/verify", "audit").json()["ok"]
    with pytest.raises(SetupError, match="svc-tiny"):
        from gridhash.service.config import ServiceConfig
        from gridhash.service.core import OperationsService

        OperationsService(ServiceConfig(db=db_url, ledger=tmp_path / "other.sqlite",
                                        keys=tmp_path / "keys", scenario="znpp"))


def test_events_appended_before_a_crash_are_matched_not_repeated(harness: Harness) -> None:
    """A crash after the ledger append but before the seq is stored: recovery matches."""
    from sqlalchemy import update

    from gridhash.service.db import LedgerEvent

    h = harness
    h.post("/api/safety/holds", "watch", {"reason": "one"})
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 1)})
    size = h.svc.log.ledger.size
    with h.svc.db.write() as s:  # forget the last two seqs, as a crash would
        s.execute(update(LedgerEvent).where(LedgerEvent.ledger_seq >= size - 2)
                  .values(ledger_seq=None))
    assert h.svc.log.recover() == 2
    assert h.svc.log.ledger.size == size
    h.post("/api/safety/holds", "watch", {"reason": "two"})
    assert h.svc.log.ledger.size == size + 1
    assert h.get("/api/ledger/verify", "audit").json()["ok"]


def test_demo_mode_signs_for_parties_and_reissues_tokens(db_url: str, tmp_path: Any) -> None:
    first = make_harness(db_url, tmp_path, demo=True)
    with first.client:
        assert set(first.svc.demo_keys) == {"own-a", "own-b", "buyer"}
        first.post("/api/meters/readings", "op", {"readings": readings_for(first.svc, 0, 24)})
        first.post("/api/statements", "op", {"period": 0})
        for pid in ("own-a", "own-b", "buyer"):
            r = first.post(f"/api/statements/0/signatures/{pid}", pid)
            assert r.status_code == 200, r.text
        assert r.json()["status"] == "signed"
        assert first.get("/api/ledger/verify", "audit").json()["ok"]
    second = make_harness(db_url, tmp_path, demo=True, clock=first.clock)
    with second.client:
        assert set(second.tokens) == set(first.tokens) and second.tokens != first.tokens
        assert second.client.get("/api/me", headers=first.h("op")).status_code == 401
        assert second.get("/api/me", "op").status_code == 200
        parties = {p["id"]: p for p in second.get("/api/parties", "audit").json()}
        assert parties["own-a"]["public_key"] == first.svc.demo_keys["own-a"].public.raw.hex()


def test_clock_offset_maps_today_onto_the_horizon() -> None:
    from datetime import UTC, datetime

    from gridhash.service.config import plant_clock_offset

    start = datetime(2027, 1, 1, tzinfo=UTC)
    real = datetime(2026, 11, 22, 5, 19, tzinfo=UTC)
    off = plant_clock_offset(start, 8760, real)
    assert (real + off).date().isoformat() == "2027-11-22" and (real + off).hour == 5
    assert plant_clock_offset(start, 8760, datetime(2027, 3, 1, tzinfo=UTC)) == timedelta(0)
    leap = plant_clock_offset(start, 8760, datetime(2028, 2, 29, 12, tzinfo=UTC))
    assert (datetime(2028, 2, 29, 12, tzinfo=UTC) + leap).date().isoformat() == "2027-02-28"
