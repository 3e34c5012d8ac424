"""Schemathesis against the service's OpenAPI spec: generated requests, valid and invalid,
for every operation, on SQLite and on PostgreSQL; no response may be a server error, and
every response passes all of schemathesis's checks (no undocumented status code, bodies
and content types as documented).

Bounded and reproducible: a fixed number of examples per operation and generation mode
(``derandomize=True``, no example database).  Each operation is called with the token of
a party allowed to use it, so the generated data reaches the code behind the role checks.

``positive_data_acceptance`` runs too: a request the document allows must be accepted.
The few 422 answers that depend on the service's state rather than on the request are
allowed per operation in ``schemathesis.toml`` (beside this file), and each such 422 must
be the documented rule (:data:`STATEFUL_422`), nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from service_helpers import Harness, readings_for

pytest_plugins = ["service_fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

EXAMPLES = 8
CONFIG = Path(__file__).with_name("schemathesis.toml")
#: The 422 answers schemathesis.toml allows to a request the document allows: per operation,
#: the field and message of the one rule that depends on the service's state.
STATEFUL_422 = {
    "POST /api/plans": (r"day", r"is in the past \(plant time"),
    "POST /api/meters/readings": (r"readings\[\d+\]\.interval_start",
                                  r"has not ended yet \(plant time|outside the scenario's horizon"),
    "GET /api/meters/gaps": (r"end", r"the window spans more than \d+ hours"),
    "POST /api/statements/{period}/signatures/{party}": (r"signature", r"does not verify"),
}
#: Generating a batch of readings is slow (a list of objects): fewer examples.
FEWER = {("POST", "/api/meters/readings"): 4}
#: Who calls each operation (default: the auditor, who reads everything).
CALLER = {
    ("POST", "/api/plans"): "op",
    ("POST", "/api/plans/{plan_id}/approve"): "own-a",
    ("POST", "/api/plans/{plan_id}/reject"): "own-b",
    ("POST", "/api/plans/{plan_id}/veto"): "watch",
    ("POST", "/api/safety/holds"): "watch",
    ("POST", "/api/safety/holds/{hold_id}/lift"): "watch",
    ("POST", "/api/plant-state"): "op",
    ("POST", "/api/meters/readings"): "op",
    ("POST", "/api/statements"): "op",
    ("PUT", "/api/parties/{party}/key"): "own-a",
    ("POST", "/api/statements/{period}/signatures/{party}"): "buyer",
    ("GET", "/api/statements/{period}/parties/{party}"): "buyer",
    ("GET", "/api/sites/{site_id}/setpoint"): "site:S",
    ("POST", "/api/sites/{site_id}/telemetry"): "site:S",
    # rotating revokes the caller's token: a principal no other operation uses
    ("POST", "/api/tokens/rotate"): "site:T",
}


def _prepare(h: Harness) -> None:
    """Something for the generated ids to find: plans, a hold, readings, a statement."""
    for day in ("2027-01-02", "2027-01-03"):
        assert h.post("/api/plans", "op", {"day": day}).status_code == 201
    assert h.post("/api/safety/holds", "watch", {"reason": "fuzz"}).status_code == 201
    h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 24)})
    assert h.post("/api/statements", "op", {"period": 0}).status_code == 201


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str],
          failures: list[str]) -> None:
    key = f"{operation.method.upper()} {operation.path} ({mode.value})"
    examples = FEWER.get((operation.method.upper(), operation.path), EXAMPLES)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check, with its request
            failures.append(f"{key}: check failed: {str(exc)[:400]} for "
                            f"{case.path_parameters} {case.query} {case.body!r}"[:800])
            return
        if response.status_code >= 500:
            failures.append(f"{key}: {response.status_code} {response.text[:300]} for "
                            f"{case.path_parameters} {case.query} {case.body!r}"[:800])
            return
        assert 200 <= response.status_code < 500, (key, response.status_code)
        if response.status_code >= 400:
            body = response.json()
            assert body.get("error") and body.get("message"), (key, body)
        if response.status_code == 422 and mode is GenerationMode.POSITIVE:
            # Allowed by schemathesis.toml for this operation only, and only for its rule.
            field, message = STATEFUL_422[f"{operation.method.upper()} {operation.path}"]
            assert re.fullmatch(field, body.get("field") or ""), (key, body)
            assert re.search(message, body["message"]), (key, body)

    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE, key


def test_no_generated_request_gets_a_server_error(harness: Harness) -> None:
    h = harness
    _prepare(h)
    schema = schemathesis.openapi.from_asgi("/openapi.json", h.client.app,
                                            config=SchemathesisConfig.from_path(CONFIG))
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = h.h(CALLER.get((operation.method.upper(), operation.path), "audit"))
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, headers, failures)
    assert operations >= 30
    assert not failures, "\n".join(failures[:20])
    assert h.get("/api/ledger/verify", "audit").json()["ok"]
