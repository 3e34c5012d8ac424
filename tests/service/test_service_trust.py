"""The service's side of trust: request-size limit, documented answers, witness endpoints
(a witness run against the live service over HTTP), setpoints over exact bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import Harness, LiveServer, make_harness, readings_for

from gridhash.ledger.keyring import Keyring
from gridhash.ledger.note import Checkpoint
from gridhash.ledger.signing import generate_key
from gridhash.ledger.witness import UrlSource, WitnessAlarmError, witness

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Harness]:
    """The service on SQLite with a 64 KiB request-size limit."""
    h = make_harness(f"sqlite:///{tmp_path / 's.sqlite'}", tmp_path, max_body_bytes=65536)
    with h.client:
        yield h


def test_request_bodies_over_the_limit_are_refused_before_they_are_read(small: Harness) -> None:
    h = small
    big = {"readings": readings_for(h.svc, 0, 24) * 60}
    text = json.dumps(big)
    assert len(text) > 65536
    # Without a token: still 413, not 401 (the body is never parsed or authenticated).
    r = h.client.post("/api/meters/readings", content=text,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert "65536" in r.json()["message"]
    # Chunked (no Content-Length): refused as soon as the bytes received pass the limit.

    def chunks() -> Iterator[bytes]:
        data = text.encode()
        for i in range(0, len(data), 8192):
            yield data[i:i + 8192]

    r = h.client.post("/api/meters/readings", content=chunks(),
                      headers={**h.h("op"), "Content-Type": "application/json"})
    assert r.status_code == 413
    # Under the limit, the same endpoint works.
    ok = h.post("/api/meters/readings", "op", {"readings": readings_for(h.svc, 0, 2)})
    assert ok.status_code == 200, ok.text
    # The dashboard's forms are held to the same limit.
    r = h.client.post("/ui/safety/holds", content=b"reason=" + b"x" * 70000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413


def test_openapi_documents_the_answers_the_api_gives(small: Harness) -> None:
    spec = small.client.get("/openapi.json").json()

    def codes(method: str, path: str) -> set[str]:
        return set(spec["paths"][path][method]["responses"])

    assert {"401", "403", "404", "409", "413", "422"} <= codes(
        "post", "/api/plans/{plan_id}/approve")
    assert {"401", "403", "413", "422"} <= codes("get", "/api/ledger/entries")
    assert {"401", "403"}.isdisjoint(codes("get", "/api/ledger/checkpoint"))
    assert "409" in codes("post", "/api/meters/readings")
    schema = spec["paths"]["/api/plans"]["post"]["responses"]["403"]["content"]
    assert "ErrorOut" in json.dumps(schema)


def test_a_witness_follows_the_live_service_over_http(small: Harness, tmp_path: Path) -> None:
    h = small
    ring = Keyring.of([h.svc.log.service_key.public])
    key = generate_key(tmp_path / "w", "witness")
    state = tmp_path / "state"
    with LiveServer(h.client.app) as server:
        source = UrlSource(server.url)
        first = witness(source, state, key, ring)
        assert first.action == "first"
        assert h.post("/api/plans", "op", {"day": "2027-01-03"}).status_code == 201
        grown = witness(source, state, key, ring)
        assert grown.action == "extended" and grown.checkpoint.size > first.checkpoint.size
        text = Checkpoint.parse((state / "latest.txt").read_text())
        assert text.cosignatures("witness", key.public.raw)
        proof = h.client.get(f"/api/ledger/consistency?first={first.checkpoint.size}"
                             f"&second={grown.checkpoint.size}").json()
        assert proof["first_root"] == first.checkpoint.root.hex()
        assert h.client.get("/api/ledger/consistency?first=5&second=99999").status_code == 409
        # A key that is not the keyring's: the witness refuses the checkpoint.
        other = Keyring.of([generate_key(tmp_path / "x", "service").public])
        with pytest.raises(WitnessAlarmError, match="not signed as the keyring requires"):
            witness(source, tmp_path / "state2", key, other)


def test_a_setpoint_verifies_with_plain_cryptography_and_json(small: Harness) -> None:
    """What a site agent in any language does: no gridhash serialiser involved."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    h = small
    envelope = h.get("/api/sites/S/setpoint", "site:S").json()
    assert set(envelope) == {"payload", "signature", "key", "key_fingerprint"}
    pinned = h.svc.log.service_key.public.raw  # pinned by the agent out of band
    key = Ed25519PublicKey.from_public_bytes(pinned)
    key.verify(bytes.fromhex(envelope["signature"]), envelope["payload"].encode("utf-8"))
    setpoint = json.loads(envelope["payload"])
    assert setpoint["format"] == "gridhash-setpoint/2" and setpoint["site"] == "S"
    assert setpoint["mw_cap"] == 0.0
    # Re-serialised differently (spaces, another key order), it no longer verifies: the
    # signature is over the exact text, which is why the text travels with it.
    other = json.dumps(setpoint, indent=1)
    with pytest.raises(InvalidSignature):
        key.verify(bytes.fromhex(envelope["signature"]), other.encode("utf-8"))
