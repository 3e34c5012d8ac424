"""The dashboard: server-rendered pages (Jinja2), charts by plotly.js served locally.

Login is a form that takes a party's API token and sets it as an HttpOnly,
SameSite=Strict cookie (so other sites cannot post forms with it); the pages
call the same functions as the API with the same role checks, so a page shows
only what the party may read, and its buttons only what it may do:

=================  ==========================================================
``/ui``            plan vs actual for today (with the cap actually in force after
                   holds), safety status, approvals waiting for this party, ledger
                   status; it refreshes itself from ``/ui/overview.json``
``/ui/plans``      plans with their approvals; approve / reject (owners,
                   offtakers), veto (parties the rule lists), propose (operator);
                   the same buttons on each plan's own page
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
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gridhash.service import plans, safety, statements, telemetry
from gridhash.service.auth import Caller
from gridhash.service.db import Hold, Plan, PlantState, Reading, from_db, to_db
from gridhash.service.errors import InvalidError, ServiceError, UnauthorizedError

COOKIE = "gridhash_token"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

router = APIRouter(include_in_schema=False)

#: How often the overview asks for fresh data. [s]
OVERVIEW_POLL_S = 5


def when(value: Any, shift_days: int = 0) -> str:
    """A timestamp as the pages show every time: plant time, to the second, no zone
    suffix and no microseconds (``2027-01-02 10:30:05``).  ``shift_days`` moves a
    real-time stamp (the ledger's) onto the plant clock."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return (dt + timedelta(days=shift_days)).strftime("%Y-%m-%d %H:%M:%S")


def clock(svc: Any) -> dict[str, str]:
    """The one clock on screen: plant time, and how it relates to real time."""
    days = svc.clock_offset.days
    offset = f"UTC, real time {days:+d} days" if days else "UTC, the same as real time"
    return {"time": svc.now().strftime("%Y-%m-%d %H:%M"), "offset": offset}


def usd(cents: int) -> str:
    """Integer cents as dollars, exactly (integer arithmetic): −1234567 → '−12,345.67'."""
    sign = "−" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}.{rest:02d}"


def btc(sats: int) -> str:
    """Integer satoshis as BTC, exactly: 123456789 → '1.23456789'."""
    sign = "−" if sats < 0 else ""
    whole, rest = divmod(abs(int(sats)), 100_000_000)
    return f"{sign}{whole:,}.{rest:08d}"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["usd"] = usd
TEMPLATES.env.filters["btc"] = btc


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
        "clock": clock(svc), "clock_offset_days": svc.clock_offset.days,
        "demo": svc.config.demo,
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


def blocked_hours(s: Any, begin: datetime) -> tuple[list[bool], list[dict[str, Any]]]:
    """For each hour of the day from ``begin``: whether a safety hold or a reported plant
    state that blocks mining was in force at any moment of it (a hold not yet lifted
    holds to the end of the day), and the holds that did it (id, raised, lifted)."""
    end = begin + timedelta(hours=24)
    holds = list(s.scalars(select(Hold).where(
        Hold.raised_at < to_db(end),
        (Hold.lifted_at.is_(None)) | (Hold.lifted_at > to_db(begin)))))
    states = list(s.scalars(select(PlantState).where(PlantState.at < to_db(end))
                            .order_by(PlantState.at, PlantState.id)))
    spans: list[tuple[datetime, datetime]] = []
    for h in holds:
        spans.append((from_db(h.raised_at), end if h.lifted_at is None else from_db(h.lifted_at)))
    for k, st in enumerate(states):
        if safety.mining_blocks([], st):
            until = from_db(states[k + 1].at) if k + 1 < len(states) else end
            spans.append((from_db(st.at), until))
    out = []
    for hour in range(24):
        a, b = begin + timedelta(hours=hour), begin + timedelta(hours=hour + 1)
        out.append(any(lo < b and hi > a for lo, hi in spans))
    marks = [{"id": h.id, "raised": when(h.raised_at),
              "lifted": None if h.lifted_at is None else when(h.lifted_at)} for h in holds]
    return out, marks


def plan_vs_actual(svc: Any, day: date) -> dict[str, Any]:
    """Planned (active plan, else the latest proposed), the cap actually in force (the
    active plan's setpoints, 0 MW in every hour a hold or a blocking plant state touched,
    0 MW without an active plan) and metered MW per hour of ``day``."""
    plant = svc.plant
    begin = datetime.combine(day, time(0), UTC)
    with svc.db.read() as s:
        active = plans.active_plan(s, day)
        plan = active or s.scalar(
            select(Plan).where(Plan.day == day, Plan.status == "proposed")
            .order_by(Plan.id.desc()).limit(1))
        rows = s.execute(select(Reading.meter, Reading.interval_start, Reading.value).where(
            Reading.interval_start >= to_db(begin),
            Reading.interval_start < to_db(begin + timedelta(hours=24)))).all()
        plan_id = None if plan is None else plan.id
        plan_status = None if plan is None else plan.status
        data = None if plan is None else plan.data
        blocked, holds = blocked_hours(s, begin)
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
    caps: dict[str, list[float]] = {}
    for site in plant.sites:
        if data is not None:
            traces.append({"x": hours, "y": data["sites"][site], "name": f"{site} plan",
                           "type": "scatter", "mode": "lines", "line": {"shape": "hv"}})
        planned = data["sites"][site] if plan_status == "active" and data else [0.0] * 24
        caps[site] = [0.0 if blocked[h] else float(planned[h]) for h in range(24)]
        if any(blocked) or plan_status != "active":
            traces.append({"x": hours, "y": caps[site], "name": f"{site} cap in force",
                           "type": "scatter", "mode": "lines",
                           "line": {"shape": "hv", "width": 3, "color": "#b42318"}})
        traces.append({"x": hours, "y": actual.get(f"mining:{site}", [None] * 24),
                       "name": f"{site} metered", "type": "bar", "opacity": 0.6})
    traces += telemetry.hourly_traces(svc, day)  # issue 17: what the site agents measured
    if data is not None:
        traces.append({"x": hours, "y": data["grid_mw"], "name": "grid plan", "type": "scatter",
                       "mode": "lines", "line": {"shape": "hv", "dash": "dot"}})
    traces.append({"x": hours, "y": actual.get("grid", [None] * 24), "name": "grid metered",
                   "type": "scatter", "mode": "markers"})
    return {"day": day.isoformat(), "plan_id": plan_id, "plan_status": plan_status,
            "caps_in_force": caps, "blocked_hours": [h for h in range(24) if blocked[h]],
            "holds": holds,
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


def overview_data(svc: Any, caller: Caller) -> dict[str, Any]:
    """What the overview shows: the page renders it, ``/ui/overview.json`` refreshes it."""
    status = safety.status(svc, caller)
    return {"clock": clock(svc), "chart": plan_vs_actual(svc, svc.now().date()),
            "safety": {k: status[k] for k in ("mining_allowed", "blocked_by",
                                              "scenario_restriction_now")},
            "waiting": [{"id": p["id"], "day": p["day"], "approvals": len(p["approvals"]),
                         "required": p["rule"]["required"], "role": p["rule"]["role"]}
                        for p in _waiting(svc, caller)],
            "ledger": svc.log.status()}


@router.get("/ui")
def overview(request: Request) -> HTMLResponse:
    svc = _svc(request)
    caller = _caller(request, "GET /api/safety")
    data = overview_data(svc, caller)
    return _page(request, "overview.html", caller, chart=data["chart"], safety=data["safety"],
                 waiting=data["waiting"], ledger=data["ledger"], poll_s=OVERVIEW_POLL_S)


@router.get("/ui/overview.json")
def overview_json(request: Request) -> JSONResponse:
    """The overview's data, for its own refresh (same login cookie, same role checks)."""
    svc = _svc(request)
    caller = _caller(request, "GET /api/safety")
    data = overview_data(svc, caller)
    data["ledger"] = {"size": data["ledger"]["size"],
                      "unsigned_entries": data["ledger"]["unsigned_entries"]}
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


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
    plan["my_vote"] = next((d["decision"] for d in plan["decisions"]
                            if d["party"] == caller.id and d["kind"] == "vote"), None)
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
    form = await _form(request)
    reason = form.get("reason", "")[:2000].replace("\x00", "")
    # back to the page the decision was made on: the plan's own, or the list
    back = f"/ui/plans/{plan_id}" if form.get("back") == "plan" else "/ui/plans"
    if action in ("approve", "reject"):
        plan = await run_in_threadpool(plans.vote, svc, caller, plan_id, action, reason)
    elif action == "veto":
        plan = await run_in_threadpool(plans.veto, svc, caller, plan_id,
                                       reason or "vetoed from the dashboard")
    else:
        raise InvalidError(f"unknown action {action!r}", field="action",
                      expected="approve, reject or veto")
    return _back(back, f"Plan {plan_id}: {action} recorded; the plan is {plan['status']}.")


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
