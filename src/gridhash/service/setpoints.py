"""What each mining site may draw now: a MW cap with a time it is valid until.

The cap is the active plan's setpoint for the site in the current hour, or 0 MW
when a safety hold is raised, the reported plant state blocks mining, or no plan
is active for today.  ``valid_until`` is at most ``setpoint_ttl_s`` after the
setpoint was issued and never past the end of the hour.  A site agent polls
well before then; one that cannot reach the service must drop to zero mining
when ``valid_until`` passes (docs/service.md, "Contract for site agents").

Signatures over exact bytes
    The response is an envelope ``{"payload": "<JSON text>", "signature":
    "<hex>", "key": "<hex>", "key_fingerprint": "..."}``.  ``signature`` is the
    service's Ed25519 signature over the UTF-8 bytes of the ``payload`` string,
    exactly as sent; the payload's own ``"format": "gridhash-setpoint/2"`` field
    separates it from anything else the key signs.  An agent in any language
    verifies the signature over those bytes with the service key it pinned,
    and only then parses the text: nothing is re-serialised (docs/service.md,
    "Contract for site agents").
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from gridhash.ledger.signing import PartyKey
from gridhash.service.auth import Caller
from gridhash.service.errors import ForbiddenError, NotFoundError
from gridhash.service.plant import HOUR, stamp
from gridhash.service.safety import active_holds, latest_state, mining_blocks

SETPOINT_FORMAT = "gridhash-setpoint/2"


def setpoint(svc: Any, caller: Caller, site: str) -> dict[str, Any]:
    caller.require("setpoint:read", "read setpoints")
    if caller.role == "site" and caller.site != site:
        raise ForbiddenError(f"{caller.id} may read only its own site's setpoint ({caller.site})",
                        role=caller.role)
    if site not in svc.plant.sites:
        raise NotFoundError(f"no mining site {site!r}; sites: {', '.join(svc.plant.sites)}",
                       field="site_id")
    from gridhash.service.plans import active_plan

    now = svc.now()
    hour = svc.plant.hour_index(now)
    hour_start = svc.plant.hour_start(hour)
    valid_until = min(now + timedelta(seconds=svc.config.setpoint_ttl_s), hour_start + HOUR)
    with svc.db.read() as s:
        holds = active_holds(s)
        blocks = mining_blocks(holds, latest_state(s))
        plan = active_plan(s, now.date())
        planned = None if plan is None else plan.data["sites"][site][now.hour]
        plan_id = None if plan is None else plan.id
        limit = None if plan is None else (
            (plan.data.get("site_limits") or {}).get(site) or [None] * 24)[now.hour]
    if blocks:
        mw, reason = 0.0, "; ".join(blocks)
    elif plan is None:
        mw, reason = 0.0, f"no active plan for {now.date().isoformat()}"
    else:
        mw, reason = float(planned), f"plan {plan_id} ({now.date().isoformat()}), hour {now.hour}"
        if limit is not None:  # the plan holds the site at 0: say which rule
            reason += f": {limit['detail']}"
    body = {
        "format": SETPOINT_FORMAT,
        "site": site,
        "mw_cap": mw,
        "issued_at": stamp(now),
        "valid_until": stamp(valid_until),
        "hour_start": stamp(hour_start),
        "plan_id": plan_id,
        "planned_mw": planned,
        "hold": bool(holds),
        "hold_ids": [h.id for h in holds],
        "reason": reason,
        # the plan's limit on the site this hour (its rule and why), null where none
        "limit": None if blocks or plan is None else limit,
    }
    return signed_envelope(body, svc.log.service_key)


def signed_envelope(document: dict[str, Any], key: PartyKey) -> dict[str, Any]:
    """``{"payload": <JSON text>, "signature": <hex Ed25519 over its UTF-8 bytes>, "key",
    "key_fingerprint"}``: the exact bytes signed travel with the signature."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return {"payload": text, "signature": key.sign(text.encode("utf-8")).hex(),
            "key": key.public.raw.hex(), "key_fingerprint": key.public.fingerprint}


def verify_setpoint(envelope: dict[str, Any], service_key_hex: str) -> dict[str, Any] | None:
    """A site agent's check: the payload text was signed by the service key it pinned.

    Returns the parsed setpoint when the signature holds over the exact payload bytes
    and the payload is a setpoint; None otherwise.
    """
    from gridhash.ledger.signing import verify

    try:
        text = envelope["payload"]
        ok = isinstance(text, str) and verify(bytes.fromhex(service_key_hex),
                                              bytes.fromhex(envelope["signature"]),
                                              text.encode("utf-8"))
    except (KeyError, ValueError, TypeError):
        return None
    if not ok:
        return None
    data = json.loads(text)
    return data if isinstance(data, dict) and data.get("format") == SETPOINT_FORMAT else None
