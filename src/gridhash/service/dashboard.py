"""The dashboard: server-rendered pages (Jinja2), charts by plotly.js served locally.

Login is a form that takes a party's API token and sets it as an HttpOnly,
SameSite=Strict cookie (so other sites cannot post forms with it); the pages
call the same functions as the API with the same role checks, so a page shows
only what the party may read, and its buttons only what it may do:

=================  ==========================================================
``/ui``            plan vs actual for today, safety status, approvals waiting
                   for this party, ledger status
``/ui/plans``      plans with their approvals; approve / reject (owners,
                   offtakers), veto (parties the rule lists), propose (operator)
``/ui/safety``     mining allowed or not and why, holds, timeline; raise and
                   lift holds (monitor)
``/ui/statements`` a party's own statements (owners, offtakers), all of them
                   (operator, auditor); sign (demo mode)
``/ui/ledger``     size, signed head, latest entries, verification on request
=================  ==========================================================

Each page names its API twin (``GET /api/ledger`` for ``/ui/ledger``) and
checks exactly the permission the API's route table gives that operation; a
page that shows more (the ledger page's verification) checks that operation's
twin too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gridhash.service import plans, safety, statements, telemetry
from gridhash.service.auth import Caller
from gridhash.service.db import Plan, Reading, to_db
from gridhash.service.errors import InvalidError, ServiceError, UnauthorizedError

COOKIE = "gridhash_token"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

router = APIRouter(include_in_schema=False)


def _svc(request: Request) -> Any:
    return request.app.state.service


def _caller(request: Request, twin: str | None = None) -> Caller:
    """The logged-in caller; with ``twin`` (``"GET /api/ledger"``), 403 unless the caller may
    call that API operation: a page checks exactly what its API twin checks."""
    caller = _svc(request).authenticate(request.cookies.get(COOKIE))
    if twin is not None:
        from gridhash.service.app import authorize

        authorize(caller, twin)
    return caller


def _page(request: Request, name: str, caller: Caller | None, status: int = 200,
          **context: Any) -> HTMLResponse:
    svc = _svc(request)
    nav = []
    if caller is not None:
        from gridhash.service.app import ROUTE_BY_KEY

        pages = [("/ui", "Overview", "GET /api/safety"), ("/ui/plans", "Plans", "GET /api/plans"),
                 ("/ui/safety", "Safety", "GET /api/safety"),
                 ("/ui/statements", "Statements", "GET /api/statements"),
                 ("/ui/ledger", "Ledger", "GET /api/ledger")]
        nav = [(path, label) for path, label, twin in pages
               if caller.can(ROUTE_BY_KEY[twin].action or "whoami")]
    return TEMPLATES.TemplateResponse(request, name, {
        "caller": caller, "nav": nav, "path": request.url.path,
        "scenario": svc.plant.name, "agreement": svc.agreement.name,
        "plant_time": svc.now().strftime("%Y-%m-%d %H:%M UTC"),
        "clock_offset_days": svc.clock_offset.days, "demo": svc.config.demo,
        "message": request.query_params.get("msg", ""),
        **context,
    }, status_code=status)


def error_page(request: Request, exc: ServiceError) -> Response:
    if isinstance(exc, UnauthorizedError):
        return RedirectResponse("/ui/login", status_code=303)
    try:
        caller = _caller(request)
    except ServiceError:
        caller = None
    return _page(request, "error.html", caller, status=exc.status, error=exc)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _back(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?msg={quote(message)}", status_code=303)


# --------------------------------------------------------------------------- #
# Login
# --------------------------------------------------------------------------- #


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui", status_code=303)


@router.get("/ui/login")
def login_form(request: Request) -> HTMLResponse:
    return _page(request, "login.html", None)


@router.post("/ui/login")
async def login(request: Request) -> Response:
    token = (await _form(request)).get("token", "").strip()
    svc = _svc(request)
    try:
        await run_in_threadpool(svc.authenticate, token)
    except UnauthorizedError:
        return _page(request, "login.html", None, status=401,
                     error="That token is not valid. Use the token printed for your party.")
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        max_age=12 * 3600)
    return response


@router.post("/ui/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- #
# Overview
# --------------------------------------------------------------------------- #


def plan_vs_actual(svc: Any, day: date) -> dict[str, Any]:
    """Planned (active plan, else the latest proposed) and metered MW per hour of ``day``."""
    plant = svc.plant
    begin = datetime.combine(day, time(0), UTC)
    with svc.db.read() as s:
        plan = plans.active_plan(s, day) or s.scalar(
            select(Plan).where(Plan.day == day, Plan.status == "proposed")
            .order_by(Plan.id.desc()).limit(1))
        rows = s.execute(select(Reading.meter, Reading.interval_start, Reading.value).where(
            Reading.interval_start >= to_db(begin),
            Reading.interval_start < to_db(begin + timedelta(hours=24)))).all()
        plan_id = None if plan is None else plan.id
        plan_status = None if plan is None else plan.status
        data = None if plan is None else plan.data
    hours = [f"{h:02d}:00" for h in range(24)]
    actual: dict[str, list[float | None]] = {}

    def add(series: str, hour: int, value: float) -> None:
        row = actual.setdefault(series, [None] * 24)
        row[hour] = (row[hour] or 0.0) + value

    site_of = {f"miner:{label}": site for label, site in plant.classes}
    for meter, start, value in rows:
        hour = start.hour
        if meter in site_of:
            add(f"mining:{site_of[meter]}", hour, value)
        elif meter.startswith("offtake:"):
            add("grid", hour, value)
    traces = []
    for site in plant.sites:
        if data is not None:
            traces.append({"x": hours, "y": data["sites"][site], "name": f"{site} plan",
                           "type": "scatter", "mode": "lines", "line": {"shape": "hv"}})
        traces.append({"x": hours, "y": actual.get(f"mining:{site}", [None] * 24),
                       "name": f"{site} metered", "type": "bar", "opacity": 0.6})
    traces += telemetry.hourly_traces(svc, day)  # issue 17: what the site agents measured
    if data is not None:
        traces.append({"x": hours, "y": data["grid_mw"], "name": "grid plan", "type": "scatter",
                       "mode": "lines", "line": {"shape": "hv", "dash": "dot"}})
    traces.append({"x": hours, "y": actual.get("grid", [None] * 24), "name": "grid metered",
                   "type": "scatter", "mode": "markers"})
    return {"day": day.isoformat(), "plan_id": plan_id, "plan_status": plan_status,
            "traces": traces, "metered_hours": sum(1 for v in actual.get("grid", []) if v),
            "layout": {"barmode": "group", "height": 380, "margin": {"t": 30, "r": 10},
                       "yaxis": {"title": {"text": "MW"}},
                       "xaxis": {"title": {"text": f"{day.isoformat()} (UTC)"}}}}


def _waiting(svc: Any, caller: Caller) -> list[dict[str, Any]]:
    """Proposed plans this party can still decide on."""
    can_vote = caller.can("plans:vote") or caller.role == svc.agreement.approval.role
    can_veto = caller.id in svc.agreement.approval.vetoes
    if caller.role == "auditor" or not (can_vote or can_veto):
        return []
    out = []
    for p in plans.list_plans(svc, caller, status="proposed", limit=50):
        if can_vote and any(d["party"] == caller.id and d["kind"] == "vote"
                            for d in p["decisions"]):
            continue
        out.append(p)
    return out


@router.get("/ui")
def overview(request: Request) -> HTMLResponse:
    svc = _svc(request)
    caller = _caller(request, "GET /api/safety")
    today = svc.now().date()
    chart = plan_vs_actual(svc, today)
    return _page(request, "overview.html", caller, chart=chart,
                 safety=safety.status(svc, caller), waiting=_waiting(svc, caller),
                 ledger=svc.log.status() if caller.can("read") else None)


# --------------------------------------------------------------------------- #
# Plans
# --------------------------------------------------------------------------- #


def _actions(svc: Any, caller: Caller) -> dict[str, bool]:
    rule = svc.agreement.approval
    return {
        "propose": caller.can("plans:propose"),
        "vote": caller.role != "auditor" and (caller.can("plans:vote") or caller.role == rule.role),
        "veto": caller.id in rule.vetoes,
    }


@router.get("/ui/plans")
def plans_page(request: Request) -> HTMLResponse:
    svc = _svc(request)
    caller = _caller(request, "GET /api/plans")
    items = plans.list_plans(svc, caller, limit=50)
    for p in items:
        p["my_vote"] = next((d["decision"] for d in p["decisions"]
                             if d["party"] == caller.id and d["kind"] == "vote"), None)
    return _page(request, "plans.html", caller, plans=items, actions=_actions(svc, caller),
                 tomorrow=(svc.now().date() + timedelta(days=1)).isoformat())


@router.get("/ui/plans/{plan_id}")
def plan_page(request: Request, plan_id: int) -> HTMLResponse:
    svc = _svc(request)
    caller = _caller(request, "GET /api/plans/{plan_id}")
    plan = plans.get_plan(svc, caller, plan_id)
    data = plan["plan"]
    hours = [f"{h:02d}:00" for h in range(24)]
    traces = [{"x": hours, "y": mw, "name": site, "type": "bar"}
              for site, mw in data["sites"].items()]
    traces.append({"x": hours, "y": data["grid_mw"], "name": "grid", "type": "scatter",
                   "mode": "lines", "line": {"shape": "hv"}})
    if data.get("mining_cap_mw"):
        traces.append({"x": hours, "y": data["mining_cap_mw"], "name": "mining cap (envelope)",
                       "type": "scatter", "mode": "lines", "line": {"dash": "dot"}})
    chart = {"traces": traces, "layout": {"barmode": "stack", "height": 380,
                                          "margin": {"t": 30, "r": 10},
                                          "yaxis": {"title": {"text": "MW"}}}}
    return _page(request, "plan.html", caller, plan=plan, chart=chart,
                 actions=_actions(svc, caller))


@router.post("/ui/plans")
async def propose_form(request: Request) -> Response:
    svc = _svc(request)
    caller = await run_in_threadpool(_caller, request, "POST /api/plans")
    form = await _form(request)
    try:
        day = date.fromisoformat(form.get("day", ""))
    except ValueError:
        raise InvalidError("day must be a date, YYYY-MM-DD", field="day") from None
    plan = await run_in_threadpool(plans.propose, svc, caller, day)
    return _back("/ui/plans", f"Plan {plan['id']} for {plan['day']} proposed.")


@router.post("/ui/plans/{plan_id}/{action}")
async def decide_form(request: Request, plan_id: int, action: str) -> Response:
    svc = _svc(request)
    if action not in ("approve", "reject", "veto"):
        raise InvalidError(f"unknown action {action!r}", field="action",
                           expected="approve, reject or veto")
    caller = await run_in_threadpool(_caller, request, f"POST /api/plans/{{plan_id}}/{action}")
    reason = (await _form(request)).get("reason", "")[:2000].replace("\x00", "")
    if action in ("approve", "reject"):
        plan = await run_in_threadpool(plans.vote, svc, caller, plan_id, action, reason)
    elif action == "veto":
        plan = await run_in_threadpool(plans.veto, svc, caller, plan_id,
                                       reason or "vetoed from the dashboard")
    else:
        raise InvalidError(f"unknown action {action!r}", field="action",
                      expected="approve, reject or veto")
    return _back("/ui/plans", f"Plan {plan_id}: {action} recorded; the plan is {plan['status']}.")


# --------------------------------------------------------------------------- #
# Safety
# --------------------------------------------------------------------------- #


@router.get("/ui/safety")
def safety_page(request: Request) -> HTMLResponse:
    svc = _svc(request)
    caller = _caller(request, "GET /api/safety")
    return _page(request, "safety.html", caller, safety=safety.status(svc, caller),
                 can_hold=caller.can("safety:hold"))


@router.post("/ui/safety/holds")
async def hold_form(request: Request) -> Response:
    svc = _svc(request)
    caller = await run_in_threadpool(_caller, request, "POST /api/safety/holds")
    reason = (await _form(request)).get("reason", "").strip()[:2000].replace("\x00", "")
    if not reason:
        raise InvalidError("a safety hold needs a reason", field="reason")
    hold = await run_in_threadpool(safety.raise_hold, svc, caller, reason)
    return _back("/ui/safety", f"Safety hold {hold['id']} raised: mining stops now.")


@router.post("/ui/safety/holds/{hold_id}/lift")
async def lift_form(request: Request, hold_id: int) -> Response:
    svc = _svc(request)
    caller = await run_in_threadpool(_caller, request, "POST /api/safety/holds/{hold_id}/lift")
    reason = (await _form(request)).get("reason", "")[:2000].replace("\x00", "")
    await run_in_threadpool(safety.lift_hold, svc, caller, hold_id, reason)
    return _back("/ui/safety", f"Safety hold {hold_id} lifted.")


# --------------------------------------------------------------------------- #
# Statements and ledger
# --------------------------------------------------------------------------- #


@router.get("/ui/statements")
def statements_page(request: Request) -> HTMLResponse:
    svc = _svc(request)
    caller = _caller(request, "GET /api/statements")
    items = statements.list_statements(svc, caller)
    can_sign = caller.can("statements:sign_own") and caller.id in svc.demo_keys
    return _page(request, "statements.html", caller, periods=items, can_sign=can_sign,
                 all_parties=caller.can("statements:read_all"))


@router.post("/ui/statements/{period}/sign")
async def sign_form(request: Request, period: int) -> Response:
    svc = _svc(request)
    caller = await run_in_threadpool(_caller, request,
                                     "POST /api/statements/{period}/signatures/{party}")
    await run_in_threadpool(statements.sign, svc, caller, period, caller.id, None)
    return _back("/ui/statements", f"Period {period} signed by {caller.id}.")


@router.get("/ui/ledger")
def ledger_page(request: Request) -> HTMLResponse:
    from gridhash.service.app import REVEAL_STATEMENTS, authorize, verify_report

    svc = _svc(request)
    caller = _caller(request, "GET /api/ledger")
    authorize(caller, "GET /api/ledger/entries")
    status = svc.log.status()
    start = max(0, status["size"] - 20)
    entries = list(reversed(svc.log.entries(start, 20, reveal=caller.can(REVEAL_STATEMENTS))))
    report = None
    if request.query_params.get("verify"):
        authorize(caller, "GET /api/ledger/verify")
        report = verify_report(svc, reveal=caller.can(REVEAL_STATEMENTS))
    return _page(request, "ledger.html", caller, ledger=status, entries=entries, report=report)
