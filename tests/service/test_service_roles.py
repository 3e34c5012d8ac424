"""The whole permission matrix: every API endpoint × every role × the caller's own or
another party's (or site's) data; 401 without a token, 403 when the role does not allow
it, and anything but 401/403 when it does.  Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from service_helpers import Harness, readings_for

from gridhash.ledger.signing import generate_key
from gridhash.service.app import iter_routes

pytest_plugins = ["service_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

PARTY_ROLES = {"operator", "owner", "offtaker", "monitor", "auditor"}
READERS = PARTY_ROLES
STATEMENT_READERS = {"operator", "owner", "offtaker", "auditor"}
SIGNERS = {"owner", "offtaker"}
#: caller → role; "own-b" is the other party of every caller, site T the other site.
CALLERS = {"op": "operator", "own-a": "owner", "buyer": "offtaker", "watch": "monitor",
           "audit": "auditor", "site:S": "site"}
OTHER_PARTY = "own-b"

# (method, path) → (roles allowed on own data, roles allowed on another's data).
# Endpoints without a party or site in the path use the same set twice.
MATRIX: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("GET", "/api/me"): (READERS | {"site"},) * 2,
    ("GET", "/api/agreement"): (READERS,) * 2,
    ("GET", "/api/parties"): (READERS,) * 2,
    ("PUT", "/api/parties/{party}/key"): (SIGNERS, set()),
    ("GET", "/api/sites"): (READERS | {"site"},) * 2,
    ("GET", "/api/sites/{site_id}/setpoint"): (READERS | {"site"}, READERS),
    ("GET", "/api/plans"): (READERS,) * 2,
    ("POST", "/api/plans"): ({"operator"},) * 2,
    ("GET", "/api/plans/{plan_id}"): (READERS,) * 2,
    ("POST", "/api/plans/{plan_id}/approve"): (SIGNERS,) * 2,
    ("POST", "/api/plans/{plan_id}/reject"): (SIGNERS,) * 2,
    ("POST", "/api/plans/{plan_id}/veto"): ({"monitor"},) * 2,  # the monitor is in `vetoes`
    ("GET", "/api/safety"): (READERS,) * 2,
    ("POST", "/api/safety/holds"): ({"monitor"},) * 2,
    ("POST", "/api/safety/holds/{hold_id}/lift"): ({"monitor"},) * 2,
    ("POST", "/api/plant-state"): ({"operator"},) * 2,
    ("GET", "/api/meters"): (READERS,) * 2,
    ("POST", "/api/meters/readings"): ({"operator"},) * 2,
    ("GET", "/api/meters/readings"): (READERS,) * 2,
    ("GET", "/api/meters/gaps"): (READERS,) * 2,
    ("GET", "/api/statements"): (STATEMENT_READERS,) * 2,
    ("POST", "/api/statements"): ({"operator"},) * 2,
    ("GET", "/api/statements/{period}"): (STATEMENT_READERS,) * 2,
    ("GET", "/api/statements/{period}/signing-payload"): (STATEMENT_READERS,) * 2,
    ("GET", "/api/statements/{period}/parties/{party}"): (STATEMENT_READERS,
                                                          {"operator", "auditor"}),
    ("POST", "/api/statements/{period}/signatures/{party}"): (SIGNERS, set()),
    ("GET", "/api/ledger"): (READERS,) * 2,
    ("GET", "/api/ledger/entries"): (READERS,) * 2,
    ("GET", "/api/ledger/entries/{seq}/proof"): (READERS,) * 2,
    ("GET", "/api/ledger/verify"): (READERS,) * 2,
    # issue 17: agents' telemetry (own site), token rotation (the body names site T)
    ("POST", "/api/sites/{site_id}/telemetry"): ({"site"}, set()),
    ("GET", "/api/sites/{site_id}/telemetry"): (READERS | {"site"}, READERS),
    ("POST", "/api/tokens/rotate"): ({"operator"},) * 2,
}
PUBLIC = {("GET", "/api/health"), ("GET", "/api/ready")}
TELEMETRY = {"mw": 1.5, "hashrate_th_s": 400.0, "cap_mw": 2.0,
             "machines": {"awake": 3, "asleep": 1, "unreachable": 0, "disobeying": 0}}


def _setup(h: Harness) -> dict[str, Any]:
    """State for every endpoint to act on: a plan, a hold, a statement, registered keys."""
    plan = h.post("/api/plans", "op", {"day": "2027-01-03"}).json()
    hold = h.post("/api/safety/holds", "watch", {"reason": "matrix"}).json()
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 24)})
    assert h.post("/api/statements", "op", {"period": 0}).status_code == 201
    keys = {p: generate_key(h.folder / "k", p) for p in ("own-a", "own-b", "buyer")}
    return {"plan": plan["id"], "hold": hold["id"], "keys": keys}


def _request(h: Harness, method: str, path: str, caller: str, own: bool,
             state: dict[str, Any], token: bool = True) -> Any:
    party = caller if own else OTHER_PARTY
    site = "S" if own else "T"
    url = (path.replace("{party}", party).replace("{site_id}", site)
           .replace("{plan_id}", str(state["plan"])).replace("{hold_id}", str(state["hold"]))
           .replace("{period}", "0").replace("{seq}", "1"))
    body: Any = None
    if path == "/api/parties/{party}/key":
        key = state["keys"].get(party)
        body = {"public_key": (key.public.raw.hex() if key else "00" * 32)}
    elif path == "/api/plans":
        body = {"day": "2027-01-03"}
    elif path.endswith("/veto"):
        body = {"reason": "matrix veto"}
    elif path in ("/api/safety/holds", ):
        body = {"reason": "matrix hold"}
    elif path == "/api/sites/{site_id}/telemetry" and method == "POST":
        body = TELEMETRY
    elif path == "/api/tokens/rotate":
        body = {"principal": "site:T"}
    elif path == "/api/plant-state":
        body = {"offsite_lines": 2}
    elif path == "/api/meters/readings":
        body = {"readings": readings_for(h.svc, 24, 25)}
    elif path == "/api/statements" and method == "POST":
        body = {"period": 0}
    elif path.endswith("/signatures/{party}"):
        key = state["keys"].get(party)
        payload = h.get("/api/statements/0/signing-payload", "audit").json()["payload"]
        body = {"signature": (key.sign(payload.encode()).hex() if key else "00" * 64)}
    headers = h.h(caller) if token else {}
    return h.client.request(method, url, headers=headers, json=body)


def test_the_matrix_covers_every_endpoint(harness: Harness) -> None:
    routes = set(iter_routes(harness.client.app))
    assert routes == set(MATRIX) | PUBLIC


def test_every_endpoint_every_role_own_and_other_data(harness: Harness) -> None:
    h = harness
    state = _setup(h)
    problems = []
    for (method, path), (own_roles, other_roles) in MATRIX.items():
        r = _request(h, method, path, "op", True, state, token=False)
        if r.status_code != 401:
            problems.append(f"{method} {path} without a token: {r.status_code}")
        scoped = "{party}" in path or "{site_id}" in path
        for caller, role in CALLERS.items():
            for own in ((True, False) if scoped else (True,)):
                allowed = role in (own_roles if own else other_roles)
                r = _request(h, method, path, caller, own, state)
                what = f"{method} {path} as {caller} ({role}, {'own' if own else 'other'})"
                if allowed and r.status_code in (401, 403):
                    problems.append(f"{what}: expected allowed, got {r.status_code} {r.text}")
                elif allowed and r.status_code >= 500:
                    problems.append(f"{what}: server error {r.status_code}")
                elif not allowed and r.status_code != 403:
                    problems.append(f"{what}: expected 403, got {r.status_code} {r.text[:200]}")
                elif not allowed:
                    body = r.json()
                    if body.get("error") != "forbidden" or not body.get("message"):
                        problems.append(f"{what}: 403 body {body}")
    assert not problems, "\n".join(problems)
    # Allowed calls did what they were allowed to, forbidden ones nothing: own-a and buyer
    # registered keys and signed; nobody could do it for own-b.
    statement = h.get("/api/statements/0", "audit").json()
    assert statement["signed_by"] == ["own-a", "buyer"] and statement["awaiting"] == ["own-b"]
    parties = {p["id"]: p["public_key"] for p in h.get("/api/parties", "audit").json()}
    assert parties["own-b"] is None and parties["own-a"] and parties["op"] is None
    assert h.get("/api/ledger/verify", "audit").json()["ok"]


def test_the_dashboard_follows_the_same_rules(harness: Harness) -> None:
    h = harness
    _setup(h)
    client = h.client
    client.cookies.clear()
    assert client.get("/ui", follow_redirects=False).status_code == 303
    for caller, role in CALLERS.items():
        if role == "site":
            continue
        client.cookies.set("gridhash_token", h.tokens[caller])
        for page in ("/ui", "/ui/plans", "/ui/safety", "/ui/ledger"):
            assert client.get(page).status_code == 200, (caller, page)
        r = client.get("/ui/statements")
        assert r.status_code == (200 if role in STATEMENT_READERS else 403), (caller, role)
        r = client.post("/ui/safety/holds", data={"reason": "ui"}, follow_redirects=False)
        assert r.status_code == (303 if role == "monitor" else 403), (caller, role)
    client.cookies.clear()
