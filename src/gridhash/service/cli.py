"""``gridhash serve``: start the operations service (API, dashboard, ledger) with uvicorn.

:func:`serve` is a plain function; :func:`serve_command` is its typer face,
registered in ``gridhash.cli`` as ``app.command("serve")(serve_command)``.
Only typer is imported here; the service loads when the command runs.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

if TYPE_CHECKING:
    from gridhash.service.core import OperationsService


def _say(out: TextIO, text: str) -> None:
    """Write ``text`` and a newline, control characters shown as escapes: the scenario's
    names and the demo's lines come from files parties exchange."""
    from gridhash.errors import printable

    out.write(printable(text) + "\n")


def print_tokens(svc: OperationsService, out: TextIO) -> None:
    """The tokens issued at this start, one line per party and site."""
    if not svc.issued_tokens:
        _say(out, "tokens: issued at the first start of this database (stored hashed; "
             "not shown again)")
        return
    roles = {p.id: p.role for p in svc.agreement.parties}
    _say(out, "API tokens (shown once; send 'Authorization: Bearer <token>', or paste one "
         "into the dashboard's login form):")
    width = max(len(pid) for pid in svc.issued_tokens)
    for pid, token in svc.issued_tokens.items():
        role = roles.get(pid, "site agent")
        _say(out, f"  {pid:<{width}}  {role:<10}  {token}")


def build(host: str, port: int, db: str | None, demo: bool, *, ledger: Path | None = None,
          scenario: str | None = None, agreement: str | None = None,
          out: TextIO | None = None, setpoint_ttl_s: int = 60,
          max_body_bytes: int | None = None) -> Any:
    """Set the service up (database, ledger, tokens, demo content) and return the app."""
    from gridhash.service.app import create_app
    from gridhash.service.config import DEFAULT_DB, ServiceConfig
    from gridhash.service.core import OperationsService

    out = out or sys.stdout
    config = ServiceConfig(db=db or DEFAULT_DB, ledger=ledger, scenario=scenario,
                           agreement=agreement, demo=demo, setpoint_ttl_s=setpoint_ttl_s)
    if max_body_bytes is not None:
        config.max_body_bytes = max_body_bytes
    svc = OperationsService(config)
    _say(out, f"gridhash operations service: {svc.plant.name} under {svc.agreement.name}; "
         f"database {config.db}; ledger {svc.log.path}")
    _say(out, f"plant time {svc.now():%Y-%m-%d %H:%M} UTC"
         + (f" (real time shifted by {svc.clock_offset.days:+d} days onto the scenario's "
            "horizon)" if svc.clock_offset.days else ""))
    if demo:
        from gridhash.service.demo import prepare_demo

        for line in prepare_demo(svc):
            _say(out, f"demo: {line}")
    else:
        # Solve the horizon in the background so the first plan does not wait for it.
        threading.Thread(target=svc.plant.run, name="gridhash-dispatch", daemon=True).start()
    print_tokens(svc, out)
    _say(out, f"dashboard: http://{host}:{port}/ui   API: http://{host}:{port}/docs")
    out.flush()
    return create_app(service=svc)


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, taken before anything else starts.

    ``serve`` binds first and only then opens the database: a port in use (a
    second ``gridhash serve --demo`` beside a running one) fails here, before a
    token is issued or rotated, so the running server's tokens stay valid.

    Raises
    ------
    gridhash.errors.InputError
        The address cannot be bound (in use, not an address of this machine, no
        permission); the CLI prints it as one line and exits with code 2.
    """
    from gridhash.errors import InputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError("cannot resolve the address to listen on", field="--host",
                         value=host, expected=f"a host name or address of this machine ({exc})"
                         ) from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        raise InputError(f"cannot listen on {host}:{port}: {why}; nothing was started and "
                         "no token was issued", field="--port", value=port,
                         expected="a free port (another gridhash serve may be running on it)"
                         ) from None
    sock.set_inheritable(True)
    return sock


def serve(host: str = "127.0.0.1", port: int = 8000, db: str | None = None,
          demo: bool = False, *, ledger: Path | None = None, scenario: str | None = None,
          agreement: str | None = None, setpoint_ttl_s: int = 60,
          max_body_bytes: int | None = None) -> None:
    """Start the service and block until it is stopped (Ctrl-C, SIGTERM).

    The port is bound before the database is opened (:func:`listen_socket`)."""
    import uvicorn

    from gridhash.service.ops import configure_json_logging

    sock = listen_socket(host, port)
    try:
        app = build(host, port, db, demo, ledger=ledger, scenario=scenario, agreement=agreement,
                    setpoint_ttl_s=setpoint_ttl_s, max_body_bytes=max_body_bytes)
        configure_json_logging()  # issue 17: JSON lines with request and caller ids
        config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False,
                                log_config=None)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1,
                                      max=65535)] = 8000,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL: sqlite:///FILE (default "
                     "sqlite:///gridhash-service.sqlite) or postgresql://USER@HOST/DB.",
                     show_default=False),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Demo mode: the default scenario's first agreement, fresh "
                     "tokens printed for every party, demo signing keys, today's plan proposed "
                     "and the dispatch replayed as meter data."),
    ] = False,
    setpoint_ttl_s: Annotated[int, typer.Option(
        "--setpoint-ttl-s", min=5, max=3600,
        help="How long a setpoint stays valid after it is issued.")] = 60,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1024,
                          help="Request bodies over this size are answered 413 unread.")
    ] = 4 * 1024 * 1024,
) -> None:
    """Run the operations service: API, dashboard, plans, setpoints, meters, statements."""
    serve(host, port, db, demo, setpoint_ttl_s=setpoint_ttl_s, max_body_bytes=max_body_bytes)
