"""The agent's control loop: poll, verify, allocate, drive, read back, report.

Every ``poll_s`` seconds :meth:`Agent.step`:

1. asks the service for the site's setpoint and verifies it with the pinned
   key (:mod:`gridhash.agent.setpoint`); a setpoint that fails the signature or
   is malformed, another site's, older than the last one, or already expired is
   **rejected**: the agent drops its last valid cap at once and sleeps every
   machine;
2. when the service cannot be reached, keeps the last valid cap until its
   ``valid_until``, then sleeps every machine (docs/service.md, "Contract for
   site agents");
3. allocates the cap (:func:`gridhash.agent.fleet.allocate`); decreases (sleep,
   a lower preset) are sent first and at once, then at most ``ramp_step``
   increases, most efficient machines first;
4. reads every machine back: a machine told to sleep that still draws more
   than ``sleep_threshold_w`` a poll later is **disobeying**, reported and
   counted at what it draws; one that does not answer is **unreachable**;
5. every ``report_s`` posts telemetry to ``POST /api/sites/{site}/telemetry``.

Machines are driven concurrently, at most ``concurrency`` at a time.  The log
has one line per change (a new cap, fail-safe on or off, a machine changing
state), not one per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gridhash.agent.backend import Backend, Identity, MachineError, Reading
from gridhash.agent.dr import PriceRule
from gridhash.agent.fleet import Candidate, MinerSpec, Preset, SiteSpec, allocate, ramp_up_limited
from gridhash.agent.setpoint import Setpoint, SetpointError, verified_setpoint

log = logging.getLogger("gridhash.agent")

AWAKE, ASLEEP, UNREACHABLE, DISOBEYING = "awake", "asleep", "unreachable", "disobeying"
UNKNOWN = "unknown"  # identified, not yet commanded or read
#: A machine that could not be identified is tried again after this long [s].
IDENTIFY_RETRY_S = 30.0


@dataclass
class AgentConfig:
    """What ``gridhash agent`` was started with."""

    service: str
    site: str
    token: str
    service_key: bytes
    site_spec: SiteSpec
    poll_s: float = 10.0
    report_s: float = 60.0
    concurrency: int = 64
    ramp_step: int = 50
    sleep_threshold_w: float = 50.0
    clock_offset_days: int = 0
    http_timeout_s: float = 5.0


@dataclass
class Machine:
    spec: MinerSpec
    identity: Identity | None = None
    commanded: Preset | None = None
    known: bool = False            # commanded at least once since start
    status: str = UNKNOWN
    reading: Reading | None = None
    slept_at: float | None = None  # monotonic time of the last sleep command
    retry_at: float = 0.0          # monotonic time before which identification is not retried
    error: str = ""

    def may_draw_w(self) -> float:
        """What the machine may draw while the agent cannot control it [W]."""
        if self.reading is not None and self.reading.watts is not None:
            return self.reading.watts
        if self.commanded is not None:
            return self.commanded.watts
        if self.identity is not None and self.identity.presets:
            return max(p.watts for p in self.identity.presets)
        return self.spec.power_w or 0.0


@dataclass
class Telemetry:
    """What the agent reports each ``report_s`` (the body of the telemetry POST)."""

    body: dict[str, Any] = field(default_factory=dict)


class Agent:
    """One site's agent (see the module docstring)."""

    def __init__(self, config: AgentConfig, backend: Backend, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.backend = backend
        self.clock = clock or (lambda: datetime.now(UTC))
        self.machines = {m.key: Machine(m) for m in config.site_spec.miners}
        self.setpoint: Setpoint | None = None
        self.offset = timedelta(days=config.clock_offset_days)
        self.cap_mw = 0.0
        self.failsafe: str | None = "no setpoint yet"
        self.rejected = 0
        self.last_rejection: str | None = None
        self.link = "unknown"
        self.cap_changed_at: float | None = None
        self.seconds_to_under: float | None = None
        self.last_report = -1e18
        self.dirty = True  # report at the next step: a change the service should see soon
        self._semaphore = asyncio.Semaphore(max(1, config.concurrency))
        spec = config.site_spec
        self.dr = PriceRule(spec.dr_rule, spec.dr_prices) if spec.dr_rule and spec.dr_prices \
            else None
        self.dr_code = 0
        self.dr_error: str | None = None
        self._client: Any = None

    # ------------------------------------------------------------------ time
    def plant_now(self) -> datetime:
        return self.clock() + self.offset

    # ------------------------------------------------------------------ setpoint
    async def fetch(self) -> Any:
        """The raw setpoint body, or raises OSError-like errors (httpx) when unreachable."""
        url = f"{self.config.service.rstrip('/')}/api/sites/{self.config.site}/setpoint"
        r = await self._client.get(url, headers={"Authorization": f"Bearer {self.config.token}"})
        if r.status_code != 200:
            raise ConnectionError(f"HTTP {r.status_code}: {r.text[:200]}")
        return r.json()

    def accept(self, body: Any) -> None:
        """Verify and take a setpoint body; a rejected one drops the last valid cap."""
        try:
            sp = verified_setpoint(body, self.config.service_key, self.config.site)
            if self.setpoint is not None and sp.issued_at < self.setpoint.issued_at:
                raise SetpointError("replayed", f"setpoint issued {sp.issued_at:%H:%M:%S}, "
                                       f"before the last one ({self.setpoint.issued_at:%H:%M:%S})")
            if not sp.valid_at(self.plant_now()):
                days = round((sp.issued_at - self.plant_now()).total_seconds() / 86400)
                hint = (f"; the service's plant time looks {days:+d} days from this agent's: "
                        f"check --clock-offset-days (GET /api/agreement: clock_offset_days)"
                        if days else "")
                raise SetpointError("stale", f"setpoint valid until "
                                    f"{sp.valid_until:%Y-%m-%dT%H:%M:%SZ}, plant time is "
                                    f"{self.plant_now():%Y-%m-%dT%H:%M:%SZ}{hint}")
        except SetpointError as exc:
            self.rejected += 1
            if self.last_rejection != exc.reason:
                log.warning("setpoint REJECTED (%s): %s; every machine to sleep", exc.reason, exc)
            self.last_rejection = exc.reason
            self.setpoint = None
            return
        self.last_rejection = None
        self.setpoint = sp

    async def poll(self) -> None:
        try:
            body = await self.fetch()
        except Exception as exc:  # unreachable, HTTP error, not JSON
            if self.link != "down":
                log.warning("service unreachable (%s: %s); keeping the last valid cap until "
                            "its valid_until", type(exc).__name__, str(exc)[:200])
            self.link = "down"
            return
        if self.link == "down":
            log.info("service reachable again")
        self.link = "up"
        self.accept(body)

    def demand_response(self) -> int:
        """The site's own demand-response rule now (0: mining allowed); logs changes."""
        if self.dr is None:
            return 0
        code = self.dr.code_at(self.plant_now())
        if self.dr.error != self.dr_error:
            if self.dr.error:
                log.warning("demand response: %s (the rule keeps its last prices)", self.dr.error)
            self.dr_error = self.dr.error
        if code != self.dr_code:
            log.info("demand response: %s", "mining allowed" if code == 0 else
                     f"curtailed ({self.dr.reason(code)})")
            self.dr_code = code
        return code

    def decide_cap(self) -> None:
        sp = self.setpoint
        dr = self.demand_response()
        if sp is not None and sp.valid_at(self.plant_now()) and dr:
            cap, why = 0.0, None  # following the service, but the site's DR rule curtails
        elif sp is not None and sp.valid_at(self.plant_now()):
            cap, why = sp.mw_cap, None
        else:
            cap = 0.0
            if self.last_rejection:
                why = f"setpoint rejected ({self.last_rejection})"
            elif sp is not None:
                why = f"setpoint expired at {sp.valid_until:%Y-%m-%dT%H:%M:%SZ}"
            else:
                why = self.failsafe if self.failsafe and self.link != "down" else (
                    "service unreachable" if self.link == "down" else "no setpoint yet")
        if why != self.failsafe:
            if why:
                log.warning("FAIL-SAFE: %s; every machine asleep", why)
            else:
                log.info("fail-safe off: following setpoints again")
        if why != self.failsafe or cap != self.cap_mw:
            self.dirty = True
        self.failsafe = why
        if cap != self.cap_mw:
            reason = why or (f"demand response: {self.dr.reason(dr)}" if dr and self.dr
                             else sp.reason if sp is not None else "")
            log.info("cap %.3f MW -> %.3f MW (%s)", self.cap_mw, cap, reason)
            self.cap_changed_at = time.monotonic()
            self.seconds_to_under = None
        self.cap_mw = cap

    # ------------------------------------------------------------------ machines
    async def _bounded(self, coro: Any) -> Any:
        async with self._semaphore:
            return await coro

    async def _identify(self, m: Machine) -> None:
        try:
            m.identity = await self.backend.identify(m.spec)
            m.error = ""
        except MachineError as exc:
            m.error = str(exc)
            m.retry_at = time.monotonic() + IDENTIFY_RETRY_S
            self._set_status(m, UNREACHABLE)

    async def _command(self, m: Machine, target: Preset | None) -> None:
        try:
            if target is None:
                await self.backend.sleep(m.spec)
                m.slept_at = time.monotonic()
            else:
                if m.identity is not None and len(m.identity.presets) > 1:
                    await self.backend.set_preset(m.spec, target)
                if m.commanded is None or not m.known or m.status != AWAKE:
                    await self.backend.wake(m.spec)
                m.slept_at = None
            m.commanded, m.known = target, True
            m.error = ""
        except MachineError as exc:
            m.error = str(exc)
            self._set_status(m, UNREACHABLE)

    async def _read(self, m: Machine) -> None:
        try:
            m.reading = await self.backend.read(m.spec)
        except MachineError as exc:
            m.error = str(exc)
            self._set_status(m, UNREACHABLE)
            return
        watts = m.reading.watts
        if m.commanded is None and m.known:
            grace = max(self.config.poll_s, 5.0)
            late = m.slept_at is None or time.monotonic() - m.slept_at >= grace
            drawing = watts is not None and watts > self.config.sleep_threshold_w
            self._set_status(m, DISOBEYING if (drawing and late) else ASLEEP)
        elif m.known:
            self._set_status(m, AWAKE)
        else:
            self._set_status(m, AWAKE if (watts or 0) > self.config.sleep_threshold_w else ASLEEP)

    def _set_status(self, m: Machine, status: str) -> None:
        if status == m.status:
            return
        extra = ""
        if status == DISOBEYING:
            extra = f": told to sleep, still drawing {m.reading.watts:.0f} W" if m.reading else ""
        elif status == UNREACHABLE:
            extra = f": {m.error}" if m.error else ""
        elif status == AWAKE and m.commanded is not None:
            extra = f" at {m.commanded.name} ({m.commanded.watts:.0f} W)"
        level = logging.WARNING if status in (UNREACHABLE, DISOBEYING) else logging.INFO
        log.log(level, "machine %s: %s -> %s%s", m.spec.key, m.status, status, extra)
        m.status = status

    async def apply(self) -> None:
        """Allocate the cap and drive the machines.

        Decreases for the machines already known go out first, before any
        identification (a machine that does not answer can take seconds to give up
        on), so a lower cap or a hold is obeyed within the poll; then machines not yet
        identified are tried (one that fails is tried again after
        ``IDENTIFY_RETRY_S``); then the allocation is made again with them, and its
        decreases and at most ``ramp_step`` increases are sent.
        """
        await self._drive(decreases_only=True)
        now = time.monotonic()
        todo = [m for m in self.machines.values() if m.identity is None and m.retry_at <= now]
        if todo:
            await asyncio.gather(*(self._bounded(self._identify(m)) for m in todo))
        await self._drive(decreases_only=False)

    async def _drive(self, decreases_only: bool) -> None:
        cands = []
        for m in self.machines.values():
            ok = m.identity is not None and m.status not in (UNREACHABLE, DISOBEYING)
            presets = m.identity.presets if m.identity else ()
            cands.append(Candidate(m.spec.key, presets, controllable=ok,
                                   fixed_w=0.0 if ok else m.may_draw_w()))
        order = [c.key for c in sorted(cands, key=lambda c: (c.efficiency_w_per_th, c.key))]
        target = allocate(self.cap_mw, self.config.site_spec.cooling_overhead, cands)
        current = {k: self.machines[k].commanded for k in target}
        step = ramp_up_limited(current, target, order, self.config.ramp_step)
        down, up = [], []
        for key, want in step.items():
            m = self.machines[key]
            have = m.commanded
            if m.known and want == have and m.status != DISOBEYING:
                continue
            is_up = (want.watts if want else 0.0) > (have.watts if have and m.known else 0.0)
            (up if is_up else down).append((m, want))
        # a disobeying machine is told to sleep again every poll
        down += [(m, None) for m in self.machines.values()
                 if m.status == DISOBEYING and m.spec.key not in step]
        if decreases_only:
            # only for machines the agent has commanded before: the first command to a
            # machine comes from the full pass, with the whole fleet identified
            down = [(m, w) for m, w in down if m.known]
            up = []
        if down:
            await asyncio.gather(*(self._bounded(self._command(m, w)) for m, w in down))
        if up:
            await asyncio.gather(*(self._bounded(self._command(m, w)) for m, w in up))

    async def read_back(self) -> None:
        await asyncio.gather(*(self._bounded(self._read(m)) for m in self.machines.values()
                               if m.identity is not None))

    # ------------------------------------------------------------------ report
    def totals(self) -> dict[str, Any]:
        cooling = self.config.site_spec.cooling_overhead
        watts = sum(m.reading.watts for m in self.machines.values()
                    if m.reading is not None and m.reading.watts is not None
                    and m.status != UNREACHABLE)
        rate = sum(m.reading.hashrate_th_s for m in self.machines.values()
                   if m.reading is not None and m.reading.hashrate_th_s is not None
                   and m.status != UNREACHABLE)
        counts = {s: 0 for s in (AWAKE, ASLEEP, UNREACHABLE, DISOBEYING)}
        for m in self.machines.values():
            counts[UNREACHABLE if m.status == UNKNOWN else m.status] += 1
        return {"mw": watts * (1 + cooling) / 1e6, "asic_mw": watts / 1e6,
                "hashrate_th_s": rate, "machines": counts}

    def note_under_cap(self, t: dict[str, Any]) -> None:
        """Time from a cap change to the site under it (sleeping machines' standby excepted)."""
        cooling = self.config.site_spec.cooling_overhead
        standby = t["machines"][ASLEEP] * self.config.sleep_threshold_w * (1 + cooling) / 1e6
        mw = t["mw"]
        if self.cap_changed_at is not None and self.seconds_to_under is None \
                and mw <= self.cap_mw + standby + 1e-9:
            self.seconds_to_under = round(time.monotonic() - self.cap_changed_at, 3)
            self.dirty = True
            log.info("site under its cap (%.3f MW, cap %.3f MW) %.1f s after the change",
                     mw, self.cap_mw, self.seconds_to_under)

    def telemetry(self) -> dict[str, Any]:
        t = self.totals()
        sp = self.setpoint
        return {
            "at": self.plant_now().isoformat(),
            **t,
            "cap_mw": self.cap_mw,
            "setpoint_issued_at": None if sp is None else sp.issued_at.isoformat(),
            "plan_id": None if sp is None else sp.plan_id,
            "failsafe": self.failsafe,
            "demand_response": None if not self.dr_code or self.dr is None
            else self.dr.reason(self.dr_code),
            "seconds_to_under_cap": self.seconds_to_under,
            "rejected_setpoints": self.rejected,
            "last_rejection": self.last_rejection,
            "disobeying": sorted(k for k, m in self.machines.items()
                                 if m.status == DISOBEYING)[:100],
            "unreachable": sorted(k for k, m in self.machines.items()
                                  if m.status == UNREACHABLE)[:100],
        }

    async def report(self) -> None:
        url = f"{self.config.service.rstrip('/')}/api/sites/{self.config.site}/telemetry"
        try:
            r = await self._client.post(url, json=self.telemetry(), headers={
                "Authorization": f"Bearer {self.config.token}"})
            if r.status_code >= 300:
                log.warning("telemetry refused: HTTP %s %s", r.status_code, r.text[:200])
        except Exception as exc:
            log.debug("telemetry not sent: %s", exc)

    # ------------------------------------------------------------------ loop
    async def step(self) -> None:
        """One poll: setpoint, cap, machines, read-back, maybe a report."""
        await self.poll()
        self.decide_cap()
        await self.apply()
        await self.read_back()
        self.note_under_cap(self.totals())
        if self.dirty or time.monotonic() - self.last_report >= self.config.report_s:
            self.last_report = time.monotonic()
            self.dirty = False
            await self.report()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Poll until ``stop`` is set; machines are left as the last step put them."""
        import httpx

        stop = stop or asyncio.Event()
        log.info("agent for site %s: %d machines, poll every %g s, service %s",
                 self.config.site, len(self.machines), self.config.poll_s, self.config.service)
        async with httpx.AsyncClient(timeout=self.config.http_timeout_s) as client:
            self._client = client
            while not stop.is_set():
                started = time.monotonic()
                await self.step()
                wait = max(0.0, self.config.poll_s - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)

    async def sleep_all(self) -> None:
        """Put every machine to sleep (when the agent is stopped on purpose)."""
        log.info("stopping: every machine to sleep")
        self.cap_mw = 0.0
        await asyncio.gather(*(self._bounded(self._command(m, None))
                               for m in self.machines.values() if m.identity is not None))
