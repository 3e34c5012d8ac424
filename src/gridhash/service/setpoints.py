"""What each mining site may draw now: a MW cap with a time it is valid until.

The cap is the active plan's setpoint for the site in the current hour, or 0 MW
when a safety hold is raised, the reported plant state blocks mining, or no plan
is active for today.  ``valid_until`` is at most ``setpoint_ttl_s`` after the
setpoint was issued and never past the end of the hour.  A site agent polls
well before then; one that cannot reach the service must drop to zero mining
when ``valid_until`` passes (docs/service.md, "Contract for site agents").

Each setpoint is signed with the service's Ed25519 key over
``b"gridhash-setpoint v1\\n" + canonical_json(setpoint without "signature")``
so an agent can tell it came from the service (the key is in the response and
in ``GET /api/ledger``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gridhash.ledger.canonical import canonical_json
from gridhash.service.auth import Caller
from gridhash.service.errors import ForbiddenError, NotFoundError
from gridhash.service.plant import HOUR, stamp
from gridhash.service.safety import active_holds, latest_state, mining_blocks

SETPOINT_DOMAIN = b"gridhash-setpoint v1\n"


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
    if blocks:
        mw, reason = 0.0, "; ".join(blocks)
    elif plan is None:
        mw, reason = 0.0, f"no active plan for {now.date().isoformat()}"
    else:
        mw, reason = float(planned), f"plan {plan_id} ({now.date().isoformat()}), hour {now.hour}"
    body = {
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
    }
    key = svc.log.service_key
    body["signature"] = key.sign(SETPOINT_DOMAIN + canonical_json(body)).hex()
    body["service_key"] = key.public.raw.hex()
    return body


def verify_setpoint(body: dict[str, Any], service_key_hex: str) -> bool:
    """A site agent's check: the setpoint was signed by the service key it trusts."""
    from gridhash.ledger.signing import verify

    unsigned = {k: v for k, v in body.items() if k not in ("signature", "service_key")}
    try:
        return verify(bytes.fromhex(service_key_hex), bytes.fromhex(body["signature"]),
                      SETPOINT_DOMAIN + canonical_json(unsigned))
    except (KeyError, ValueError):
        return False
