"""Operations face of the service (issue 17): agent telemetry, token rotation, readiness, logs.

:func:`install_agent_ops_routes` adds, beside ``create_app``'s own routes:

``POST /api/sites/{site}/telemetry``, ``GET /api/sites/{site}/telemetry``
    the site agents' reports (:mod:`gridhash.service.telemetry`);
``POST /api/tokens/rotate``
    a new token for the caller (or, for the operator, a site's), the old one
    refused at once; tokens expire ``ServiceConfig.token_ttl_days`` after issue;
``GET /api/ready``
    database reachable, migrations at head, ledger writable, newest signed
    tree head younger than ``ServiceConfig.head_max_age_s``; 503 naming the
    failing check;
``GET /metrics``
    Prometheus text format (:mod:`gridhash.service.metrics`).

and a middleware that gives every request an id (``X-Request-ID``, echoed)
and writes one JSON log line per request with the caller's id, never a token
(:func:`configure_json_logging` makes ``gridhash serve`` log JSON).
"""


import contextvars
import json
import logging
import os
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text, update

from gridhash.service import telemetry
from gridhash.service.auth import Caller, new_token, token_hash
from gridhash.service.db import Principal, to_db
from gridhash.service.errors import ForbiddenError, NotFoundError

log = logging.getLogger("gridhash.service")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
caller_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("caller_id", default="-")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principal: str | None = Field(default=None, max_length=80,
                                  description="whose token (default: the caller's own)")
    ttl_days: int | None = Field(default=None, ge=1, le=3650,
                                 description="days until the new token expires")


def rotate_token(svc: Any, caller: Caller, principal: str | None,
                 ttl_days: int | None) -> dict[str, Any]:
    """A fresh token for ``principal`` (default: the caller); the old one is refused at once."""
    target = principal or caller.id
    if target == caller.id:
        caller.require("tokens:rotate_own", "rotate its token")
    else:
        caller.require("tokens:rotate_sites", "rotate another principal's token")
    now = svc.now()
    ttl = timedelta(days=ttl_days) if ttl_days else svc.token_ttl
    token = new_token()
    with svc.db.write() as s:
        row = s.get(Principal, target)
        if row is None:
            raise NotFoundError(f"no party or site {target!r}", field="principal")
        if target != caller.id and row.kind != "site":
            raise ForbiddenError(f"{caller.id} may rotate only site tokens, not {target}'s "
                                 "(a party rotates its own)", role=caller.role)
        s.execute(update(Principal).where(Principal.id == target)
                  .values(token_hash=token_hash(token), token_expires_at=to_db(now + ttl)))
    svc.forget_callers()
    log.info("token rotated for %s by %s", target, caller.id)
    return {"principal": target, "token": token,
            "expires_at": (now + ttl).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": "shown once; the previous token is refused from now on"}


def readiness(svc: Any) -> tuple[bool, dict[str, Any]]:
    """(ready, checks): each check ``{"ok": bool, "detail": str}``."""
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, fn: Any) -> None:
        try:
            ok, detail = fn()
        except Exception as exc:  # a failing check is the answer, not an error
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        checks[name] = {"ok": bool(ok), "detail": str(detail)}

    def database() -> tuple[bool, str]:
        with svc.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True, svc.db.engine.dialect.name

    def migrations() -> tuple[bool, str]:
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        from gridhash.service.db import alembic_config

        heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
        with svc.db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        return current == heads, f"database at {sorted(current)}, code at {sorted(heads)}"

    def ledger() -> tuple[bool, str]:
        path = svc.log.path
        folder = path.parent if str(path.parent) else "."
        ok = os.access(path, os.W_OK) and os.access(folder, os.W_OK)
        return ok, f"{path} {'writable' if ok else 'not writable'}"

    def head() -> tuple[bool, str]:
        age = head_age_s(svc)
        limit = svc.config.head_max_age_s
        if age is None:
            size = svc.log.ledger.size
            return size == 0, "no signed tree head" + ("" if size == 0 else f" ({size} entries)")
        return age <= limit, f"newest signed head {age:.0f} s old (limit {limit:g} s)"

    check("database", database)
    check("migrations", migrations)
    check("ledger_writable", ledger)
    check("head_age", head)
    return all(c["ok"] for c in checks.values()), checks


def head_age_s(svc: Any) -> float | None:
    """Seconds since the newest signed tree head was signed (real time), or None."""
    head = svc.log.status()["head"]
    if head is None:
        return None
    ts = head["timestamp"]
    signed = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    if signed.tzinfo is None:
        signed = signed.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - signed).total_seconds())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, caller id."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "caller": getattr(record, "caller", None) or caller_id_var.get(),
        }
        for key in ("method", "path", "status", "ms"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send gridhash's and uvicorn's logs to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("gridhash", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False


def _caller_id(svc: Any, headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else _cookie(
        headers.get("cookie", ""), "gridhash_token")
    if not token:
        return "-"
    try:
        return svc.authenticate(token).id
    except Exception:
        return "unauthenticated"


class RequestIdMiddleware:
    """Pure ASGI: a request id (the client's sane ``X-Request-ID`` or a fresh one), echoed in
    the response; the caller's id (never the token) in context vars for every log line of
    the request; one access line per request."""

    def __init__(self, app: Any, svc: Any) -> None:
        self.app, self.svc = app, svc
        self.log = logging.getLogger("gridhash.service.access")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        rid = given if REQUEST_ID.match(given) else secrets.token_hex(8)
        caller = _caller_id(self.svc, headers)
        t1, t2 = request_id_var.set(rid), caller_id_var.set(caller)
        started = time.perf_counter()
        status = [500]

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log.isEnabledFor(logging.INFO):
                method, path = scope.get("method", ""), scope.get("path", "")
                self.log.info("%s %s %s", method, path, status[0], extra={
                    "request_id": rid, "caller": caller, "method": method, "path": path,
                    "status": status[0],
                    "ms": round((time.perf_counter() - started) * 1e3, 1)})
            request_id_var.reset(t1)
            caller_id_var.reset(t2)


def _cookie(header: str, name: str) -> str:
    from http.cookies import CookieError, SimpleCookie

    try:
        jar = SimpleCookie(header)
    except CookieError:
        return ""
    return jar[name].value if name in jar else ""


def install_agent_ops_routes(app: FastAPI, svc: Any, who: Any) -> None:
    """Add issue 17's routes and middleware to ``app`` (``who``: the caller dependency type)."""
    from gridhash.service.metrics import install_metrics

    Who = who
    telemetry.note_start(svc)

    app.add_middleware(RequestIdMiddleware, svc=svc)

    @app.post("/api/sites/{site_id}/telemetry", status_code=201, tags=["setpoints"])
    def post_telemetry(site_id: Annotated[str, PathParam(max_length=128)],
                       body: telemetry.TelemetryIn, who: Who) -> dict[str, Any]:
        """A site agent's report: measured MW and hashrate, machines, time to get under its cap."""
        return telemetry.record(svc, who, site_id, body)

    @app.get("/api/sites/{site_id}/telemetry", tags=["setpoints"])
    def get_telemetry(site_id: Annotated[str, PathParam(max_length=128)], who: Who,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 60) -> list[dict[str, Any]]:
        """The site agent's latest reports, newest first."""
        return telemetry.latest(svc, who, site_id, limit)

    @app.post("/api/tokens/rotate", tags=["service"])
    def rotate(who: Who, body: RotateIn | None = None) -> dict[str, Any]:
        """A new API token (own; the operator also a site's); the old one fails at once."""
        return rotate_token(svc, who, body.principal if body else None,
                            body.ttl_days if body else None)

    @app.get("/api/ready", tags=["service"])
    def ready() -> JSONResponse:
        """Readiness: database, migrations at head, ledger writable, signed head recent."""
        ok, checks = readiness(svc)
        failing = [name for name, c in checks.items() if not c["ok"]]
        body = {"ready": ok, "checks": checks}
        if not ok:
            body["message"] = "not ready: " + ", ".join(
                f"{n} ({checks[n]['detail']})" for n in failing)
            body["error"] = "not_ready"
        return JSONResponse(body, status_code=200 if ok else 503)

    install_metrics(app, svc)
