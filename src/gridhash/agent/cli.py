"""``gridhash agent``: one site's agent, long-running (typer face of :mod:`gridhash.agent.run`).

Only typer is imported here; pyasic and httpx load when the command runs.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import asyncio  # imported when the agent runs: every other command starts without it


def read_token(path: Path) -> str:
    from gridhash.errors import InputError

    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InputError("file not found", source=str(path), field="--token-file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", source=str(path), field="--token-file") from None
    if not token or any(c.isspace() for c in token):
        raise InputError("not an API token", source=str(path), field="--token-file",
                         expected="one line: the site's token as `gridhash serve` printed it")
    return token


async def run_agent(agent: object, stop: asyncio.Event) -> None:
    import asyncio

    from gridhash.agent.run import Agent

    assert isinstance(agent, Agent)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    try:
        await agent.run(stop)
    finally:
        await agent.sleep_all()


def agent_command(
    service: Annotated[str, typer.Option("--service", help="The service's base URL, e.g. "
                                         "http://ops.internal:8000.")],
    site: Annotated[str, typer.Option("--site", help="The mining site this agent drives.")],
    token_file: Annotated[Path, typer.Option("--token-file", help="File holding the site's "
                                             "API token (one line).")],
    service_key: Annotated[str, typer.Option("--service-key", help="The service's Ed25519 "
                                             "public key, 64 hex digits, pinned at installation "
                                             "(GET /api/ledger: service_key).")],
    miners: Annotated[Path, typer.Option("--miners", help="miners.toml: the site's machines "
                                         "(docs/agent.md).")],
    poll_s: Annotated[float, typer.Option("--poll-s", min=1.0, max=30.0,
                                          help="Seconds between setpoint polls.")] = 10.0,
    report_s: Annotated[float, typer.Option("--report-s", min=1.0, max=3600.0,
                                            help="Seconds between telemetry reports.")] = 60.0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=4096,
                                             help="Machines driven at once.")] = 64,
    ramp_step: Annotated[int, typer.Option("--ramp-step", min=1, help="Machines woken or "
                                           "raised per poll at most (decreases are never "
                                           "held back).")] = 50,
    clock_offset_days: Annotated[int, typer.Option(
        "--clock-offset-days", min=-36600, max=36600,
        help="Whole days from this machine's UTC to the service's plant time (GET "
        "/api/agreement: clock_offset_days; non-zero only for a scenario whose horizon is "
        "not now, e.g. the demo).")] = 0,
) -> None:
    """Drive a site's mining machines from the service's signed setpoints (docs/agent.md)."""
    from gridhash.agent.fleet import load_site
    from gridhash.agent.pyasic_backend import PyasicBackend
    from gridhash.agent.run import Agent, AgentConfig
    from gridhash.agent.setpoint import parse_key

    key = parse_key(service_key)
    token = read_token(token_file)
    spec = load_site(miners)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    agent_log = logging.getLogger("gridhash.agent")
    agent_log.handlers, agent_log.propagate = [handler], False
    agent_log.setLevel(logging.INFO)
    logging.getLogger("pyasic").setLevel(logging.ERROR)  # its own warnings: per poll, noisy
    config = AgentConfig(service=service, site=site, token=token, service_key=key,
                         site_spec=spec, poll_s=poll_s, report_s=report_s,
                         concurrency=concurrency, ramp_step=ramp_step,
                         clock_offset_days=clock_offset_days)
    agent = Agent(config, PyasicBackend())
    import asyncio

    asyncio.run(run_agent(agent, asyncio.Event()))
