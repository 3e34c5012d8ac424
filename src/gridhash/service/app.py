"""The HTTP face of the operations service: the JSON API under ``/api`` and the dashboard.

``create_app(ServiceConfig(...))`` builds a FastAPI application around one
:class:`~gridhash.service.core.OperationsService`.  The API is a table
(:data:`ROUTES`, as Datasette's ``_routes``): each row names the method, path,
endpoint function and the permission checked before it runs, so the API and
the dashboard (which looks its API twin up in the same table) check the same
thing.  Request bodies over ``ServiceConfig.max_body_bytes`` are answered 413
before they are read.  The OpenAPI spec is at
``/openapi.json`` (browsable at ``/docs``).  Every error is a JSON body
``{"error", "message", "field", ...}`` with a 4xx status: 401 without a valid
token, 403 when the role does not allow it, 404 for what does not exist, 409
for a conflict with the service's state, 422 for a bad value.
"""


import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridhash.errors import GridhashError, InputError
from gridhash.service import meters, plans, safety, setpoints, statements, telemetry
from gridhash.service.apidocs import install_docs
from gridhash.service.auth import Caller
from gridhash.service.config import ServiceConfig
from gridhash.service.core import OperationsService
from gridhash.service.errors import InvalidError, NotFoundError, ServiceError
from gridhash.service.ops import RotateIn, install_agent_ops, ready_response, rotate_token
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
    constrain_openapi,
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
        if exc.status_code == 400:  # a body that is not JSON at all: a bad value, like the rest
            return JSONResponse({"error": "invalid", "field": "body",
                                 "message": f"body: {exc.detail}"}, status_code=422)
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


# --------------------------------------------------------------------------- #
# Dependencies shared by every route
# --------------------------------------------------------------------------- #


def service_of(request: Request) -> OperationsService:
    """The service behind this application."""
    return request.app.state.service


def caller(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The authenticated caller (401 without a valid token)."""
    return service_of(request).authenticate(creds.credentials if creds else None)


Svc = Annotated[OperationsService, Depends(service_of)]
Who = Annotated[Caller, Depends(caller)]
PlanId = Annotated[int, PathParam(ge=1, le=MAX_INT)]
Period = Annotated[int, PathParam(ge=0, le=MAX_INT)]
Seq = Annotated[int, PathParam(ge=0, le=MAX_INT)]
PartyId = Annotated[str, PathParam(max_length=80)]


# --------------------------------------------------------------------------- #
# Endpoints (each a row of ROUTES below)
# --------------------------------------------------------------------------- #


def health(svc: Svc) -> dict[str, Any]:
    """Liveness, plant time and ledger size (no token needed)."""
    return {"ok": True, "plant_time": svc.now().isoformat(), "ledger_size": svc.log.ledger.size}


def me(who: Who) -> dict[str, Any]:
    """The caller: id, kind (party or site), role."""
    return {"id": who.id, "kind": who.kind, "role": who.role, "name": who.name,
            "site": who.site}


def agreement(svc: Svc, who: Who) -> dict[str, Any]:
    """The scenario, agreement, parties, approval rule, sites and meters."""
    return svc.agreement_view()


def parties(svc: Svc, who: Who) -> list[dict[str, Any]]:
    """The parties, their roles and registered keys."""
    return svc.parties()


def register_key(party: PartyId, body: KeyIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Register the caller's Ed25519 public key (owners and offtakers, once)."""
    return statements.register_key(svc, who, party, body.public_key)


def sites(svc: Svc, who: Who) -> list[str]:
    """The mining sites (a site agent sees its own)."""
    return svc.plant.sites if who.role != "site" else [who.site or ""]


def site_setpoint(site_id: Annotated[str, PathParam(max_length=128)], svc: Svc, who: Who
                  ) -> dict[str, Any]:
    """The site's MW cap now, as the exact signed JSON text (see docs/service.md)."""
    out = setpoints.setpoint(svc, who, site_id)
    if who.role == "site":
        telemetry.note_poll(svc, site_id)  # seconds since each site's last poll (/metrics)
    return out


def post_telemetry(site_id: Annotated[str, PathParam(max_length=128)],
                   body: telemetry.TelemetryIn, svc: Svc, who: Who) -> dict[str, Any]:
    """A site agent's report: measured MW and hashrate, machines, time to get under its cap."""
    return telemetry.record(svc, who, site_id, body)


def get_telemetry(site_id: Annotated[str, PathParam(max_length=128)], svc: Svc, who: Who,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 60) -> list[dict[str, Any]]:
    """The site agent's latest reports, newest first."""
    return telemetry.latest(svc, who, site_id, limit)


def rotate(svc: Svc, who: Who, body: RotateIn | None = None) -> dict[str, Any]:
    """A new API token (own; the operator also a site's); the old one fails at once."""
    return rotate_token(svc, who, body.principal if body else None,
                        body.ttl_days if body else None)


def ready(svc: Svc) -> JSONResponse:
    """Readiness: database, migrations at head, ledger writable, signed head recent (no
    token needed); 503 naming the failing check."""
    return ready_response(svc)


def list_plans(svc: Svc, who: Who, day: Annotated[Day | None, Query()] = None,
               status: Annotated[str | None, Query(
                   pattern="^(proposed|active|rejected|vetoed|superseded)$")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """Plans, newest first."""
    return plans.list_plans(svc, who, day=day, status=status, limit=limit)


def propose_plan(body: PlanIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Run the dispatch for a day and propose it (operator)."""
    return plans.propose(svc, who, body.day)


def get_plan(plan_id: PlanId, svc: Svc, who: Who) -> dict[str, Any]:
    """One plan with its decisions."""
    return plans.get_plan(svc, who, plan_id)


def approve(plan_id: PlanId, svc: Svc, who: Who, body: VoteIn | None = None) -> dict[str, Any]:
    """Approve a proposed plan."""
    return plans.vote(svc, who, plan_id, "approve", body.reason if body else "")


def reject(plan_id: PlanId, svc: Svc, who: Who, body: VoteIn | None = None) -> dict[str, Any]:
    """Reject a proposed plan."""
    return plans.vote(svc, who, plan_id, "reject", body.reason if body else "")


def veto(plan_id: PlanId, body: VetoIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Veto a plan on safety grounds (parties the approval rule lists)."""
    return plans.veto(svc, who, plan_id, body.reason)


def safety_status(svc: Svc, who: Who) -> dict[str, Any]:
    """Whether mining is allowed now, and why not."""
    return safety.status(svc, who)


def raise_hold(body: HoldIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Raise a safety hold: every mining setpoint is 0 MW at once (monitor)."""
    return safety.raise_hold(svc, who, body.reason)


def lift_hold(hold_id: Annotated[int, PathParam(ge=1, le=MAX_INT)], svc: Svc, who: Who,
              body: LiftIn | None = None) -> dict[str, Any]:
    """Lift a safety hold (monitor)."""
    return safety.lift_hold(svc, who, hold_id, body.reason if body else "")


def plant_state(body: PlantStateIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Report the plant's state (operator); the mining rules apply to it at once."""
    return safety.report_state(svc, who, body.offsite_lines, body.on_diesel, body.units,
                               body.note)


def meter_summary(svc: Svc, who: Who) -> dict[str, Any]:
    """Meters and their latest readings."""
    return meters.summary(svc, who)


def post_readings(body: ReadingsIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Store hourly readings idempotently (operator); 409 on a conflicting re-send."""
    batch = [meters.ReadingIn(r.meter, r.interval_start, r.value) for r in body.readings]
    return meters.ingest(svc, who, batch)


def get_readings(svc: Svc, who: Who, meter: Annotated[Name | None, Query()] = None,
                 start: Annotated[When | None, Query()] = None,
                 end: Annotated[When | None, Query()] = None,
                 after: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
    """Stored readings, oldest first."""
    return meters.list_readings(svc, who, meter, start, end, after, limit)


def get_gaps(svc: Svc, who: Who, start: Annotated[When | None, Query()] = None,
             end: Annotated[When | None, Query()] = None) -> dict[str, Any]:
    """Missing intervals per meter (default: today up to the last ended hour)."""
    return meters.gaps(svc, who, start, end)


def list_statements(svc: Svc, who: Who, limit: Annotated[int, Query(ge=1, le=1000)] = 100
                    ) -> list[dict[str, Any]]:
    """Settled periods (a party's own statements, or all of them)."""
    return statements.list_statements(svc, who, limit)


def produce(body: StatementIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Settle a period from its meter readings (operator)."""
    return statements.produce(svc, who, body.period)


def get_statement(period: Period, svc: Svc, who: Who) -> dict[str, Any]:
    """One settled period."""
    return statements.get_statement(svc, who, period)


def signing_payload(period: Period, svc: Svc, who: Who) -> dict[str, Any]:
    """The exact text each party signs for a period."""
    return statements.signing_payload(svc, who, period)


def party_statement(period: Period, party: PartyId, svc: Svc, who: Who) -> dict[str, Any]:
    """One party's statement for a period."""
    return statements.get_party_statement(svc, who, period, party)


def sign_statement(period: Period, party: PartyId, svc: Svc, who: Who,
                   body: SignatureIn | None = None) -> dict[str, Any]:
    """Sign a period's statements as the caller's party."""
    return statements.sign(svc, who, period, party, body.signature if body else None)


def ledger_status(svc: Svc, who: Who) -> dict[str, Any]:
    """Size, root, the latest signed head and its signers."""
    return svc.log.status()


def ledger_entries(svc: Svc, who: Who, start: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Entries from ``start``; statement payloads are redacted for roles that may not read
    statements (their leaf hashes stay, so inclusion can still be checked)."""
    return svc.log.entries(start, limit, reveal=who.can(REVEAL_STATEMENTS))


def ledger_proof(seq: Seq, svc: Svc, who: Who) -> dict[str, Any]:
    """An inclusion proof bundle (``gridhash ledger check-proof`` checks it alone)."""
    if seq >= svc.log.ledger.size:
        raise NotFoundError(f"no ledger entry {seq}", field="seq")
    return svc.log.proof(seq, reveal=who.can(REVEAL_STATEMENTS), role=who.role)


def ledger_verify(svc: Svc, who: Who) -> dict[str, Any]:
    """Verify the whole ledger now, statements recomputed (``gridhash ledger verify``)."""
    return verify_report(svc, reveal=who.can(REVEAL_STATEMENTS))


def ledger_checkpoint(svc: Svc) -> Response:
    """The latest signed head as a C2SP checkpoint (text/plain signed note), for witnesses;
    no token needed (it holds no payload)."""
    return PlainTextResponse(svc.log.checkpoint(), media_type="text/plain; charset=utf-8")


def ledger_consistency(svc: Svc, first: Annotated[int, Query(ge=0, le=MAX_INT)],
                       second: Annotated[int, Query(ge=0, le=MAX_INT)]) -> dict[str, Any]:
    """RFC 9162 consistency proof between two tree sizes (for witnesses; no token needed)."""
    return svc.log.consistency(first, second)


# --------------------------------------------------------------------------- #
# The route table: one row per API operation
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Route:
    """One API operation.

    Attributes
    ----------
    method, path : str
        ``GET``, ``/api/plans/{plan_id}``.
    endpoint : callable
        The function FastAPI calls (parameters declared with ``Annotated``).
    action : str or None
        The permission (a key of :data:`gridhash.service.auth.PERMISSIONS`)
        checked before the endpoint runs; ``None``: no token needed.
    tag : str
        OpenAPI tag.
    status : int
        Success status.
    errors : tuple of int
        The 4xx answers the operation can give besides 401/403 (which follow
        from ``action``), 413 and 422 (every operation with a body or
        parameters): documented in the OpenAPI spec.
    """

    method: str
    path: str
    endpoint: Callable[..., Any]
    action: str | None
    tag: str
    status: int = 200
    errors: tuple[int, ...] = ()
    media_type: str = "application/json"

    @property
    def key(self) -> str:
        """``GET /api/plans``."""
        return f"{self.method} {self.path}"


#: Every API operation.  To add one: write its endpoint function above and add a row here
#: (the permission named by ``action`` must be in ``auth.PERMISSIONS``).
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", health, None, "service"),
    Route("GET", "/api/me", me, "whoami", "service"),
    Route("GET", "/api/agreement", agreement, "read", "service"),
    Route("GET", "/api/parties", parties, "read", "service"),
    Route("PUT", "/api/parties/{party}/key", register_key, "keys:register_own", "statements",
          errors=(409,)),
    Route("GET", "/api/sites", sites, "setpoint:read", "setpoints"),
    Route("GET", "/api/sites/{site_id}/setpoint", site_setpoint, "setpoint:read", "setpoints",
          errors=(404,)),
    Route("POST", "/api/sites/{site_id}/telemetry", post_telemetry, "telemetry:write",
          "setpoints", 201, (404,)),
    Route("GET", "/api/sites/{site_id}/telemetry", get_telemetry, "setpoint:read", "setpoints",
          errors=(404,)),
    Route("POST", "/api/tokens/rotate", rotate, "tokens:rotate_own", "service", errors=(404,)),
    Route("GET", "/api/ready", ready, None, "service", errors=(503,)),
    Route("GET", "/api/plans", list_plans, "read", "plans"),
    Route("POST", "/api/plans", propose_plan, "plans:propose", "plans", 201, (409,)),
    Route("GET", "/api/plans/{plan_id}", get_plan, "read", "plans", errors=(404,)),
    Route("POST", "/api/plans/{plan_id}/approve", approve, "plans:vote", "plans",
          errors=(404, 409)),
    Route("POST", "/api/plans/{plan_id}/reject", reject, "plans:vote", "plans",
          errors=(404, 409)),
    Route("POST", "/api/plans/{plan_id}/veto", veto, "plans:veto", "plans", errors=(404, 409)),
    Route("GET", "/api/safety", safety_status, "read", "safety"),
    Route("POST", "/api/safety/holds", raise_hold, "safety:hold", "safety", 201),
    Route("POST", "/api/safety/holds/{hold_id}/lift", lift_hold, "safety:hold", "safety",
          errors=(404, 409)),
    Route("POST", "/api/plant-state", plant_state, "plant:report", "safety", 201),
    Route("GET", "/api/meters", meter_summary, "read", "meters"),
    Route("POST", "/api/meters/readings", post_readings, "meters:write", "meters",
          errors=(409,)),
    Route("GET", "/api/meters/readings", get_readings, "read", "meters", errors=(404,)),
    Route("GET", "/api/meters/gaps", get_gaps, "read", "meters"),
    Route("GET", "/api/statements", list_statements, "statements:read", "statements"),
    Route("POST", "/api/statements", produce, "statements:produce", "statements", 201,
          (409,)),
    Route("GET", "/api/statements/{period}", get_statement, "statements:read", "statements",
          errors=(404,)),
    Route("GET", "/api/statements/{period}/signing-payload", signing_payload,
          "statements:read", "statements", errors=(404,)),
    Route("GET", "/api/statements/{period}/parties/{party}", party_statement,
          "statements:read", "statements", errors=(404,)),
    Route("POST", "/api/statements/{period}/signatures/{party}", sign_statement,
          "statements:sign_own", "statements", errors=(404, 409)),
    Route("GET", "/api/ledger", ledger_status, "read", "ledger"),
    Route("GET", "/api/ledger/entries", ledger_entries, "read", "ledger"),
    Route("GET", "/api/ledger/entries/{seq}/proof", ledger_proof, "read", "ledger",
          errors=(404,)),
    Route("GET", "/api/ledger/verify", ledger_verify, "ledger:verify", "ledger"),
    Route("GET", "/api/ledger/checkpoint", ledger_checkpoint, None, "ledger", errors=(409,),
          media_type="text/plain"),
    Route("GET", "/api/ledger/consistency", ledger_consistency, None, "ledger", errors=(409,)),
)

#: ``"GET /api/ledger"`` → its row: what the dashboard's pages look up to check exactly
#: what their API twin checks.
ROUTE_BY_KEY: dict[str, Route] = {r.key: r for r in ROUTES}
#: Who may read statement payloads on the ledger (the same roles as GET /api/statements).
REVEAL_STATEMENTS = "statements:read"


def authorize(who: Caller, key: str) -> None:
    """Raise 403 unless ``who`` may call the API operation ``key`` (``"GET /api/ledger"``)."""
    route = ROUTE_BY_KEY[key]
    if route.action is not None:
        who.require(route.action, f"call {key}")


def _permission(action: str, key: str) -> Callable[[Caller], None]:
    def check(who: Who) -> None:
        who.require(action, f"call {key}")

    return check


class ErrorOut(BaseModel):
    """Every 4xx answer's body."""

    error: str
    message: str
    field: str | None = None


_ERROR_TEXT = {
    401: "No token, or a token the service does not know.",
    403: "The caller's role (or ownership) does not allow it.",
    404: "What the path names does not exist.",
    409: "The request contradicts the service's state.",
    413: "The request body is larger than the service accepts (checked before it is read).",
    422: "A value the service cannot use; the body names the field.",
    503: "Not ready: the body names each failing check.",
}


def _responses(route: Route) -> dict[int | str, dict[str, Any]]:
    codes = set(route.errors) | {413, 422}
    if route.action is not None:
        codes |= {401, 403}
    out: dict[int | str, dict[str, Any]] = {
        c: {"model": ErrorOut, "description": _ERROR_TEXT[c]} for c in sorted(codes)
    }
    if route.media_type != "application/json":
        out[route.status] = {"content": {route.media_type: {"schema": {"type": "string"}}},
                             "description": "Successful Response"}
    return out


_NOT_QUERY = frozenset({"svc", "who", "body", "request"})


def _only_known_query(endpoint: Callable[..., Any], path: str) -> Callable[[Request], None]:
    """A dependency refusing (422) query parameters the operation does not declare."""
    import inspect

    known = {name for name in inspect.signature(endpoint).parameters
             if name not in _NOT_QUERY and "{" + name + "}" not in path}

    def check(request: Request) -> None:
        for name in request.query_params:
            if name not in known:
                raise InvalidError(
                    "unknown query parameter", field=name,
                    expected=", ".join(sorted(known)) or "no query parameters")

    return check


def add_routes(app: FastAPI, routes: tuple[Route, ...] = ROUTES) -> None:
    """Register every row of the table: endpoint, permission check, documented answers."""
    for r in routes:
        deps = [Depends(_only_known_query(r.endpoint, r.path))]
        if r.action is not None:
            deps.append(Depends(_permission(r.action, r.key)))
        app.add_api_route(r.path, r.endpoint, methods=[r.method], status_code=r.status,
                          tags=[r.tag], dependencies=deps, responses=_responses(r),
                          name=r.endpoint.__name__,
                          response_class=PlainTextResponse
                          if r.media_type == "text/plain" else JSONResponse)


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
    add_routes(app)
    _constrain_openapi(app, svc)
    app.add_api_route("/static/plotly.min.js", plotly_static, include_in_schema=False)
    app.add_api_route("/static/app.css", css_static, include_in_schema=False)
    install_agent_ops(app, svc)  # issue 17: request ids and JSON logs, /metrics
    from gridhash.service.dashboard import router as ui_router

    app.include_router(ui_router)
    limit = svc.config.max_body_bytes
    app.add_middleware(BodyLimit, limit=limit)
    return app


def _constrain_openapi(app: FastAPI, svc: OperationsService) -> None:
    """``/openapi.json`` also states what the scenario fixes (``schemas.constrain_openapi``)."""
    generic = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            plant = svc.plant
            days = []
            day = plant.start.date()
            while day <= plant.end.date():
                try:
                    plant.day_start_index(day)
                    days.append(day)
                except InvalidError:
                    pass  # not a whole day of the horizon
                day += timedelta(days=1)
            app.openapi_schema = constrain_openapi(
                generic(), meters=plant.meters,
                units=[u.name for u in plant.loaded.scenario.plant.units], days=days,
                periods=plant.periods, signature_required=not svc.config.demo)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def plotly_static() -> FileResponse:
    return FileResponse(plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


def css_static() -> FileResponse:
    return FileResponse(STATIC / "app.css", media_type="text/css")


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before it is read
    (by its Content-Length) or as soon as the bytes received pass the limit (chunked)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size > self.limit or size < 0:
                    await self._refuse(send, size)
                    return
        seen = 0
        started = refused = False

        async def limited_receive() -> Any:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Answer now and tell the app the client went away: it stops reading.
                    refused = True
                    if not started:
                        await self._refuse(send, seen)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; drop whatever the app still says
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, send: Any, size: int) -> None:
        body = json.dumps({
            "error": "too_large",
            "message": f"request body of {size if size >= 0 else 'unknown'} bytes is over the "
                       f"limit of {self.limit} bytes",
            "field": "body",
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def verify_report(svc: OperationsService, *, reveal: bool = True) -> dict[str, Any]:
    """``verify_ledger`` on the service's ledger now.  Without ``reveal`` (a role that may not
    read statements), the first discrepancy is named by place and field only: its expected
    and found values could be a statement's amounts."""
    from gridhash.ledger.verify import verify_ledger
    from gridhash.settlement.record import CHECKERS

    svc.log.flush()
    # The service's ledger is checked against the keys it records (its own head key and
    # the keys parties registered): integrity, as the service sees it.  Each party checks
    # a copy against its own keyring with `gridhash ledger verify --keyring`.
    report = verify_ledger(svc.log.path, None, CHECKERS, allow_unsigned_tail=True)
    first = report.first
    return {
        "ok": report.ok,
        "entries": report.entries,
        "tree_heads": report.tree_heads,
        "signed_size": report.signed_size,
        "unsigned_entries": report.unsigned,
        "signatures_checked": report.signatures_checked,
        "checked": report.checked,
        "first_discrepancy": None if first is None else (
            str(first) if reveal else
            f"{first.where}: {first.field} (values withheld from this role)"),
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
