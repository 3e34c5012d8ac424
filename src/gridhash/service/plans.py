"""Day-ahead plans: proposed by the operator, approved by the parties, then active.

A plan for day D is the optimal dispatch of D (see :mod:`gridhash.service.plant`):
24 hourly setpoints per mining site plus grid deliveries per offtake.  States:

``proposed``   waiting for decisions
``active``     the agreement's approval rule is met: ``required`` approvals from
               parties of the rule's role, and no veto.  It supersedes an earlier
               active plan for the same day.  Mining sites follow it.
``rejected``   so many parties of the approval role rejected it that the rule can
               no longer be met
``vetoed``     a party listed in ``approval.vetoes`` vetoed it (also once active:
               its setpoints drop to zero at once)
``superseded`` a later plan for the same day became active

Owners and offtakers vote (approve or reject, once each); only votes from the
approval rule's role count towards it, the others are recorded.  Every step is
appended to the ledger.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridhash.service.auth import Caller
from gridhash.service.db import Decision, Plan, from_db, to_db
from gridhash.service.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError

OPEN = ("proposed",)


def _decision_view(d: Decision) -> dict[str, Any]:
    return {"party": d.party, "kind": d.kind, "decision": d.decision, "reason": d.reason,
            "at": from_db(d.at).isoformat()}


def plan_view(svc: Any, plan: Plan, decisions: list[Decision], *, data: bool = True
              ) -> dict[str, Any]:
    rule = svc.agreement.approval
    members = [p.id for p in svc.agreement.parties if p.role == rule.role]
    approvals = [d.party for d in decisions if d.decision == "approve" and d.party in members]
    out = {
        "id": plan.id,
        "day": plan.day.isoformat(),
        "status": plan.status,
        "proposed_by": plan.proposed_by,
        "proposed_at": from_db(plan.proposed_at).isoformat(),
        "decided_at": None if plan.decided_at is None else from_db(plan.decided_at).isoformat(),
        "rule": {"role": rule.role, "required": rule.required, "vetoes": list(rule.vetoes)},
        "approvals": approvals,
        "waiting_for": [p for p in members if p not in {d.party for d in decisions}]
        if plan.status == "proposed" else [],
        "decisions": [_decision_view(d) for d in decisions],
        "totals_mwh": plan.data.get("totals_mwh"),
    }
    if data:
        out["plan"] = plan.data
    return out


def _decisions(s: Session, plan_ids: list[int]) -> dict[int, list[Decision]]:
    out: dict[int, list[Decision]] = {i: [] for i in plan_ids}
    if plan_ids:
        for d in s.scalars(
            select(Decision).where(Decision.plan_id.in_(plan_ids)).order_by(Decision.id)
        ):
            out[d.plan_id].append(d)
    return out


def propose(svc: Any, caller: Caller, day: date) -> dict[str, Any]:
    caller.require("plans:propose", "propose plans")
    now = svc.now()
    if day < now.date():
        raise InvalidError(
            f"{day.isoformat()} is in the past (plant time {now.date().isoformat()}); a plan is "
            "for today or a later day", field="day", value=day.isoformat(),
        )
    data = svc.plant.plan_for_day(day)
    with svc.db.write() as s:
        plan = Plan(day=day, status="proposed", proposed_by=caller.id, proposed_at=to_db(now),
                    data=data)
        s.add(plan)
        s.flush()
        svc.log.record(s, "plan_proposed", {
            "plan": plan.id, "day": day.isoformat(), "by": caller.id,
            "sites_mw": data["sites"], "offtakes_mw": data["offtakes"],
            "totals_mwh": data["totals_mwh"],
        }, now)
        view = plan_view(svc, plan, [])
    svc.log.flush()
    return view


def list_plans(svc: Any, caller: Caller, *, day: date | None = None, status: str | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
    caller.require("read", "read plans")
    with svc.db.read() as s:
        q = select(Plan).order_by(Plan.id.desc()).limit(limit)
        if day is not None:
            q = q.where(Plan.day == day)
        if status is not None:
            q = q.where(Plan.status == status)
        plans = list(s.scalars(q))
        decisions = _decisions(s, [p.id for p in plans])
        return [plan_view(svc, p, decisions[p.id], data=False) for p in plans]


def get_plan(svc: Any, caller: Caller, plan_id: int) -> dict[str, Any]:
    caller.require("read", "read plans")
    with svc.db.read() as s:
        plan = s.get(Plan, plan_id)
        if plan is None:
            raise NotFoundError(f"no plan {plan_id}", field="plan_id")
        return plan_view(svc, plan, _decisions(s, [plan_id])[plan_id])


def active_plan(s: Session, day: date) -> Plan | None:
    return s.scalar(
        select(Plan).where(Plan.day == day, Plan.status == "active")
        .order_by(Plan.decided_at.desc(), Plan.id.desc()).limit(1)
    )


def _locked(s: Session, plan_id: int) -> Plan:
    plan = s.scalar(select(Plan).where(Plan.id == plan_id).with_for_update())
    if plan is None:
        raise NotFoundError(f"no plan {plan_id}", field="plan_id")
    return plan


def vote(svc: Any, caller: Caller, plan_id: int, decision: str, reason: str) -> dict[str, Any]:
    """An approval or rejection by an owner or offtaker (or a member of the approval role)."""
    rule = svc.agreement.approval
    if not (caller.can("plans:vote") or (caller.is_party and caller.role == rule.role
                                         and caller.role != "auditor")):
        raise ForbiddenError(
            f"{caller.id} ({caller.role}) may not approve or reject plans; allowed roles: "
            f"owner, offtaker{', ' + rule.role if rule.role not in ('owner', 'offtaker') else ''}",
            role=caller.role,
        )
    now = svc.now()
    try:
        with svc.db.write() as s:
            plan = _locked(s, plan_id)
            if plan.status not in OPEN:
                raise ConflictError(f"plan {plan_id} is {plan.status}; only a proposed plan takes "
                               "approvals or rejections", field="plan_id", status=plan.status)
            earlier = s.scalar(select(Decision).where(
                Decision.plan_id == plan_id, Decision.party == caller.id, Decision.kind == "vote"))
            if earlier is not None:
                raise ConflictError(f"{caller.id} already decided on plan {plan_id} "
                               f"({earlier.decision})", field="plan_id")
            s.add(Decision(plan_id=plan_id, party=caller.id, kind="vote", decision=decision,
                           reason=reason, at=to_db(now)))
            s.flush()
            svc.log.record(s, "plan_decision", {"plan": plan_id, "day": plan.day.isoformat(),
                                                  "party": caller.id, "decision": decision,
                                                  "reason": reason}, now)
            decisions = _decisions(s, [plan_id])[plan_id]
            _evaluate(svc, s, plan, decisions, now)
            view = plan_view(svc, plan, decisions)
    except IntegrityError:
        raise ConflictError(f"{caller.id} already decided on plan {plan_id}",
                       field="plan_id") from None
    svc.log.flush()
    return view


def _evaluate(svc: Any, s: Session, plan: Plan, decisions: list[Decision], now: Any) -> None:
    rule = svc.agreement.approval
    members = [p.id for p in svc.agreement.parties if p.role == rule.role]
    yes = {d.party for d in decisions if d.decision == "approve" and d.party in members}
    no = {d.party for d in decisions if d.decision == "reject" and d.party in members}
    if len(yes) >= rule.required:
        for other in s.scalars(select(Plan).where(
                Plan.day == plan.day, Plan.status == "active", Plan.id != plan.id)
                .with_for_update()):
            other.status = "superseded"
            other.decided_at = to_db(now)
            svc.log.record(s, "plan_superseded", {"plan": other.id, "by_plan": plan.id,
                                                    "day": plan.day.isoformat()}, now)
        plan.status = "active"
        plan.decided_at = to_db(now)
        svc.log.record(s, "plan_activated", {"plan": plan.id, "day": plan.day.isoformat(),
                                               "approvals": sorted(yes)}, now)
    elif len(members) - len(no) < rule.required:
        plan.status = "rejected"
        plan.decided_at = to_db(now)
        svc.log.record(s, "plan_rejected", {"plan": plan.id, "day": plan.day.isoformat(),
                                              "rejections": sorted(no)}, now)


def veto(svc: Any, caller: Caller, plan_id: int, reason: str) -> dict[str, Any]:
    """A veto on safety grounds by a party the approval rule lists; blocks the plan at once."""
    vetoes = svc.agreement.approval.vetoes
    if caller.id not in vetoes:
        raise ForbiddenError(f"{caller.id} ({caller.role}) may not veto plans; the agreement lets "
                        f"{', '.join(vetoes) or 'no party'} veto", role=caller.role)
    now = svc.now()
    try:
        with svc.db.write() as s:
            plan = _locked(s, plan_id)
            if plan.status not in ("proposed", "active"):
                raise ConflictError(f"plan {plan_id} is {plan.status}; only a proposed or "
                                    "active plan can be vetoed", field="plan_id",
                                    status=plan.status)
            s.add(Decision(plan_id=plan_id, party=caller.id, kind="veto", decision="veto",
                           reason=reason, at=to_db(now)))
            was = plan.status
            plan.status = "vetoed"
            plan.decided_at = to_db(now)
            s.flush()
            svc.log.record(s, "plan_vetoed", {"plan": plan_id, "day": plan.day.isoformat(),
                                                "party": caller.id, "reason": reason,
                                                "was": was}, now)
            view = plan_view(svc, plan, _decisions(s, [plan_id])[plan_id])
    except IntegrityError:
        raise ConflictError(f"{caller.id} already vetoed plan {plan_id}", field="plan_id") from None
    svc.log.flush()
    return view
