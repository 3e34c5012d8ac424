"""A site's setpoint as the agent trusts it: signed by the PINNED service key, fresh, its own.

The wire format (docs/agent.md, "Setpoints"; the service's
:func:`gridhash.service.setpoints.signed_envelope`) is
``{"payload": "<JSON text>", "signature": "<hex>", "key", "key_fingerprint"}``:
the exact signed bytes.  The signature is Ed25519 over ``payload``'s UTF-8
bytes, checked with the key the agent was installed with (``--service-key``),
never the ``key`` a response carries; only then is the text parsed.  Nothing
outside ``payload`` is read.  (The retired format 1, fields beside a signature
over their re-serialised canonical JSON, is refused as malformed.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gridhash.errors import GridhashError
from gridhash.ledger.signing import verify


class SetpointError(GridhashError):
    """A setpoint that must not be obeyed: bad signature, malformed, another site's, stale."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason  # bad_signature | malformed | wrong_site | stale | replayed
        super().__init__(message)


@dataclass(frozen=True)
class Setpoint:
    """A verified setpoint: the most the site may draw [MW], cooling included, until when."""

    site: str
    mw_cap: float
    issued_at: datetime
    valid_until: datetime
    plan_id: int | None
    hold: bool
    reason: str
    fields: dict[str, Any]

    def valid_at(self, plant_now: datetime) -> bool:
        """Whether the cap still holds at ``plant_now`` (plant time, aware UTC)."""
        return self.issued_at <= plant_now < self.valid_until or (
            # a clock a little behind the service's still accepts a just-issued setpoint
            plant_now < self.issued_at and (self.issued_at - plant_now).total_seconds() <= 5
        )


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise SetpointError("malformed", f"setpoint field {field!r}: {value!r} is not a time")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SetpointError("malformed",
                               f"setpoint field {field!r}: {value!r} is not an ISO time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_key(hex_key: str) -> bytes:
    """The pinned service key: 64 hex digits (raw Ed25519 public key)."""
    try:
        raw = bytes.fromhex(hex_key.strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        from gridhash.errors import InputError

        raise InputError("not an Ed25519 public key", field="--service-key", value=hex_key,
                         expected="64 hex digits (GET /api/ledger: service_key)")
    return raw


def signed_fields(body: Any, key: bytes) -> dict[str, Any]:
    """The setpoint's fields, once the signature over them verifies with ``key`` (pinned)."""
    if not isinstance(body, dict) or not isinstance(body.get("signature"), str):
        raise SetpointError("malformed", "setpoint without a signature")
    try:
        signature = bytes.fromhex(body["signature"])
    except ValueError:
        raise SetpointError("bad_signature", "setpoint signature is not hex") from None
    if not isinstance(body.get("payload"), str):
        raise SetpointError("malformed", "setpoint without a signed payload (expected "
                            '{"payload": "<JSON text>", "signature": "<hex>", ...})')
    data = body["payload"].encode("utf-8")
    if not verify(key, signature, data):
        raise SetpointError("bad_signature",
                            "setpoint signature does not verify with the pinned key")
    try:
        fields = json.loads(data)
    except ValueError:
        raise SetpointError("malformed", "signed setpoint payload is not JSON") from None
    if not isinstance(fields, dict):
        raise SetpointError("malformed", "signed setpoint payload is not an object")
    return fields


def verified_setpoint(body: Any, key: bytes, site: str) -> Setpoint:
    """Verify ``body`` with the pinned ``key`` and read it; raises :class:`SetpointError`."""
    f = signed_fields(body, key)
    if f.get("site") != site:
        raise SetpointError("wrong_site",
                               f"setpoint is for site {f.get('site')!r}, not {site!r}")
    cap = f.get("mw_cap")
    if isinstance(cap, bool) or not isinstance(cap, int | float) or not cap >= 0:
        raise SetpointError("malformed", f"setpoint mw_cap {cap!r} is not a number >= 0")
    issued, until = parse_time(f.get("issued_at"), "issued_at"), parse_time(
        f.get("valid_until"), "valid_until")
    plan = f.get("plan_id")
    return Setpoint(site=site, mw_cap=float(cap), issued_at=issued, valid_until=until,
                    plan_id=plan if isinstance(plan, int) else None,
                    hold=bool(f.get("hold")), reason=str(f.get("reason", "")), fields=f)
