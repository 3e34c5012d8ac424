"""The HTTP face of the operations service: the JSON API under ``/api`` and the dashboard.

``create_app(ServiceConfig(...))`` builds a FastAPI application around one
:class:`~gridhash.service.core.OperationsService`.  The OpenAPI spec is at
``/openapi.json`` (browsable at ``/docs``).  Every error is a JSON body
``{"error", "message", "field", ...}`` with a 4xx status: 401 without a valid
token, 403 when the role does not allow it, 404 for what does not exist, 409
for a conflict with the service's state, 422 for a bad value.
"""


import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridhash.errors import GridhashError, InputError
from gridhash.service import meters, plans, safety, setpoints, statements, telemetry
from gridhash.service.apidocs import install_docs
from gridhash.service.auth import Caller
from gridhash.service.config import ServiceConfig
from gridhash.service.core import OperationsService
from gridhash.service.errors import ServiceError
from gridhash.service.ops import install_agent_ops_routes
from gridhash.service.schemas import (
    MAX_INT,
    Day,
    HoldIn,
    KeyIn,
    LiftIn,
    Name,
    PlanIn,
    PlantStateIn,
    ReadingsIn,
    SignatureIn,
    StatementIn,
    VetoIn,
    VoteIn,
    When,
)

log = logging.getLogger("gridhash.service")
STATIC = Path(__file__).with_name("static")

bearer = HTTPBearer(auto_error=False, description="A party's or site's API token.")


def plotly_js() -> Path:
    """plotly.js as shipped inside the installed ``plotly`` package (served at /static)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _field(loc: tuple[Any, ...]) -> str:
    """('body', 'readings', 3, 'value') → 'readings[3].value'; ('query', 'start') → 'start'."""
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or (str(loc[0]) if loc else "request")


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    errors = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        errors.append({
            "field": _field(loc),
            "in": loc[0] if loc else "body",
            "message": str(e.get("msg", "invalid")),
            "type": str(e.get("type", "")),
        })
    first = errors[0] if errors else {"field": "request", "message": "invalid request"}
    return {"error": "invalid", "message": f"{first['field']}: {first['message']}",
            "field": first["field"], "errors": errors}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Any:
        if request.url.path.startswith("/ui") or request.url.path == "/":
            from gridhash.service.dashboard import error_page

            return error_page(request, exc)
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(exc), status_code=422)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"error": "invalid", **exc.as_dict(), "message": str(exc)},
                            status_code=422)

    @app.exception_handler(GridhashError)
    async def _gridhash(request: Request, exc: GridhashError) -> JSONResponse:
        return JSONResponse({"error": "conflict", "message": str(exc)}, status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"error": codes.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code, headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            {"error": "internal", "message": "internal error; the service log has the details"},
            status_code=500,
        )


def create_app(config: ServiceConfig | None = None,
               service: OperationsService | None = None) -> FastAPI:
    """The FastAPI application (starts the service: migrations, ledger recovery)."""
    svc = service or OperationsService(config or ServiceConfig())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.start_serving()
        yield
        svc.close()

    app = FastAPI(
        title="gridhash operations service",
        version="1",
        description=(
            "Day-ahead plans and their approval, mining setpoints, meter data, safety holds, "
            "settlement statements and the ledger of a jointly run plant. Authenticate with "
            "'Authorization: Bearer <token>'. See docs/service.md."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc with local assets: gridhash.service.apidocs
        redoc_url=None,
    )
    app.state.service = svc
    install_error_handlers(app)
    install_docs(app)

    def service_dep() -> OperationsService:
        return svc

    def caller(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        return svc.authenticate(creds.credentials if creds else None)

    Who = Annotated[Caller, Depends(caller)]
    PlanId = Annotated[int, PathParam(ge=1, le=MAX_INT)]
    Period = Annotated[int, PathParam(ge=0, le=MAX_INT)]

    # ------------------------------------------------------------------ basics
    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness, plant time and ledger size (no token needed)."""
        return {"ok": True, "plant_time": svc.now().isoformat(), "ledger_size": svc.log.ledger.size}

    @app.get("/api/me", tags=["service"])
    def me(who: Who) -> dict[str, Any]:
        """The caller: id, kind (party or site), role."""
        return {"id": who.id, "kind": who.kind, "role": who.role, "name": who.name,
                "site": who.site}

    @app.get("/api/agreement", tags=["service"])
    def agreement(who: Who) -> dict[str, Any]:
        """The scenario, agreement, parties, approval rule, sites and meters."""
        who.require("read", "read the agreement")
        return svc.agreement_view()

    @app.get("/api/parties", tags=["service"])
    def parties(who: Who) -> list[dict[str, Any]]:
        who.require("read", "read the parties")
        return svc.parties()

    @app.put("/api/parties/{party}/key", tags=["statements"])
    def register_key(party: Annotated[str, PathParam(max_length=80)], body: KeyIn,
                     who: Who) -> dict[str, Any]:
        """Register the caller's Ed25519 public key (owners and offtakers, once)."""
        return statements.register_key(svc, who, party, body.public_key)

    # ------------------------------------------------------------------ sites
    @app.get("/api/sites", tags=["setpoints"])
    def sites(who: Who) -> list[str]:
        who.require("setpoint:read", "list sites")
        return svc.plant.sites if who.role != "site" else [who.site or ""]

    @app.get("/api/sites/{site_id}/setpoint", tags=["setpoints"])
    def site_setpoint(site_id: Annotated[str, PathParam(max_length=128)], who: Who
                      ) -> dict[str, Any]:
        """The site's MW cap now and when it expires (drop to 0 MW after ``valid_until``)."""
        out = setpoints.setpoint(svc, who, site_id)
        if who.role == "site":
            telemetry.note_poll(svc, site_id)  # issue 17: seconds since each site's last poll
        return out

    # ------------------------------------------------------------------ plans
    @app.get("/api/plans", tags=["plans"])
    def list_plans(who: Who, day: Annotated[Day | None, Query()] = None,
                   status: Annotated[str | None, Query(
                       pattern="^(proposed|active|rejected|vetoed|superseded)$")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
        return plans.list_plans(svc, who, day=day, status=status, limit=limit)

    @app.post("/api/plans", status_code=201, tags=["plans"])
    def propose_plan(body: PlanIn, who: Who) -> dict[str, Any]:
        """Run the dispatch for a day and propose it (operator)."""
        return plans.propose(svc, who, body.day)

    @app.get("/api/plans/{plan_id}", tags=["plans"])
    def get_plan(plan_id: PlanId, who: Who) -> dict[str, Any]:
        return plans.get_plan(svc, who, plan_id)

    @app.post("/api/plans/{plan_id}/approve", tags=["plans"])
    def approve(plan_id: PlanId, who: Who, body: VoteIn | None = None) -> dict[str, Any]:
        return plans.vote(svc, who, plan_id, "approve", body.reason if body else "")

    @app.post("/api/plans/{plan_id}/reject", tags=["plans"])
    def reject(plan_id: PlanId, who: Who, body: VoteIn | None = None) -> dict[str, Any]:
        return plans.vote(svc, who, plan_id, "reject", body.reason if body else "")

    @app.post("/api/plans/{plan_id}/veto", tags=["plans"])
    def veto(plan_id: PlanId, body: VetoIn, who: Who) -> dict[str, Any]:
        return plans.veto(svc, who, plan_id, body.reason)

    # ------------------------------------------------------------------ safety
    @app.get("/api/safety", tags=["safety"])
    def safety_status(who: Who) -> dict[str, Any]:
        return safety.status(svc, who)

    @app.post("/api/safety/holds", status_code=201, tags=["safety"])
    def raise_hold(body: HoldIn, who: Who) -> dict[str, Any]:
        """Raise a safety hold: every mining setpoint is 0 MW at once (monitor)."""
        return safety.raise_hold(svc, who, body.reason)

    @app.post("/api/safety/holds/{hold_id}/lift", tags=["safety"])
    def lift_hold(hold_id: Annotated[int, PathParam(ge=1, le=MAX_INT)], who: Who,
                  body: LiftIn | None = None) -> dict[str, Any]:
        return safety.lift_hold(svc, who, hold_id, body.reason if body else "")

    @app.post("/api/plant-state", status_code=201, tags=["safety"])
    def plant_state(body: PlantStateIn, who: Who) -> dict[str, Any]:
        """Report the plant's state (operator); the mining rules apply to it at once."""
        return safety.report_state(svc, who, body.offsite_lines, body.on_diesel, body.units,
                                   body.note)

    # ------------------------------------------------------------------ meters
    @app.get("/api/meters", tags=["meters"])
    def meter_summary(who: Who) -> dict[str, Any]:
        return meters.summary(svc, who)

    @app.post("/api/meters/readings", tags=["meters"])
    def post_readings(body: ReadingsIn, who: Who) -> dict[str, Any]:
        """Store hourly readings idempotently (operator); 409 on a conflicting re-send."""
        batch = [meters.ReadingIn(r.meter, r.interval_start, r.value) for r in body.readings]
        return meters.ingest(svc, who, batch)

    @app.get("/api/meters/readings", tags=["meters"])
    def get_readings(who: Who, meter: Annotated[Name | None, Query()] = None,
                     start: Annotated[When | None, Query()] = None,
                     end: Annotated[When | None, Query()] = None,
                     after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
        return meters.list_readings(svc, who, meter, start, end, after, limit)

    @app.get("/api/meters/gaps", tags=["meters"])
    def get_gaps(who: Who, start: Annotated[When | None, Query()] = None,
                 end: Annotated[When | None, Query()] = None) -> dict[str, Any]:
        """Missing intervals per meter (default: today up to the last ended hour)."""
        return meters.gaps(svc, who, start, end)

    # ------------------------------------------------------------------ statements
    @app.get("/api/statements", tags=["statements"])
    def list_statements(who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 100
                        ) -> list[dict[str, Any]]:
        return statements.list_statements(svc, who, limit)

    @app.post("/api/statements", status_code=201, tags=["statements"])
    def produce(body: StatementIn, who: Who) -> dict[str, Any]:
        """Settle a period from its meter readings (operator)."""
        return statements.produce(svc, who, body.period)

    @app.get("/api/statements/{period}", tags=["statements"])
    def get_statement(period: Period, who: Who) -> dict[str, Any]:
        return statements.get_statement(svc, who, period)

    @app.get("/api/statements/{period}/signing-payload", tags=["statements"])
    def signing_payload(period: Period, who: Who) -> dict[str, Any]:
        return statements.signing_payload(svc, who, period)

    @app.get("/api/statements/{period}/parties/{party}", tags=["statements"])
    def party_statement(period: Period, party: Annotated[str, PathParam(max_length=80)],
                        who: Who) -> dict[str, Any]:
        return statements.get_party_statement(svc, who, period, party)

    @app.post("/api/statements/{period}/signatures/{party}", tags=["statements"])
    def sign_statement(period: Period, party: Annotated[str, PathParam(max_length=80)],
                       who: Who, body: SignatureIn | None = None) -> dict[str, Any]:
        return statements.sign(svc, who, period, party, body.signature if body else None)

    # ------------------------------------------------------------------ ledger
    @app.get("/api/ledger", tags=["ledger"])
    def ledger_status(who: Who) -> dict[str, Any]:
        who.require("read", "read the ledger")
        return svc.log.status()

    @app.get("/api/ledger/entries", tags=["ledger"])
    def ledger_entries(who: Who, start: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        who.require("read", "read the ledger")
        return svc.log.entries(start, limit)

    @app.get("/api/ledger/entries/{seq}/proof", tags=["ledger"])
    def ledger_proof(seq: Annotated[int, PathParam(ge=0, le=MAX_INT)], who: Who
                     ) -> dict[str, Any]:
        """An inclusion proof bundle (``gridhash ledger check-proof`` checks it alone)."""
        who.require("read", "read the ledger")
        if seq >= svc.log.ledger.size:
            raise_not_found(f"no ledger entry {seq}", "seq")
        return svc.log.proof(seq)

    @app.get("/api/ledger/verify", tags=["ledger"])
    def ledger_verify(who: Who) -> dict[str, Any]:
        """Verify the whole ledger now, statements recomputed (``gridhash ledger verify``)."""
        who.require("ledger:verify", "verify the ledger")
        return verify_report(svc)

    # ------------------------------------------------------------------ static + dashboard
    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_static() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/static/app.css", include_in_schema=False)
    def css_static() -> FileResponse:
        return FileResponse(STATIC / "app.css", media_type="text/css")

    install_agent_ops_routes(app, svc, Who)  # issue 17: telemetry, tokens, /metrics, ready

    from gridhash.service.dashboard import router as ui_router

    app.include_router(ui_router)
    return app


def raise_not_found(message: str, field: str) -> None:
    from gridhash.service.errors import NotFoundError

    raise NotFoundError(message, field=field)


def verify_report(svc: OperationsService) -> dict[str, Any]:
    from gridhash.ledger.verify import verify_ledger
    from gridhash.settlement.record import CHECKERS

    svc.log.flush()
    report = verify_ledger(svc.log.path, None, CHECKERS)
    first = report.first
    return {
        "ok": report.ok,
        "entries": report.entries,
        "tree_heads": report.tree_heads,
        "signed_size": report.signed_size,
        "unsigned_entries": report.unsigned,
        "signatures_checked": report.signatures_checked,
        "checked": report.checked,
        "first_discrepancy": None if first is None else str(first),
        "seconds": round(report.seconds, 3),
        "checked_at": datetime.now().astimezone().isoformat(),
    }


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every API route (used by the role-matrix test and the docs)."""
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/"):
            for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
                yield method, path
