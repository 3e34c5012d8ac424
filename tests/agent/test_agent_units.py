"""The agent's parts alone: allocation, ramping, setpoint verification, miners.toml, and
the control loop over an in-memory backend (no network)."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.agent.backend import Identity, MachineError, Reading
from gridhash.agent.fleet import (
    Candidate,
    MinerSpec,
    Preset,
    SiteSpec,
    allocate,
    load_site,
    ramp_up_limited,
    total_w,
)
from gridhash.agent.run import Agent, AgentConfig
from gridhash.agent.setpoint import SetpointError, verified_setpoint
from gridhash.errors import InputError
from gridhash.ledger.canonical import canonical_json

LUX = (Preset("low", 2300, 70), Preset("mid", 2850, 90), Preset("top", 3250, 104))


# --------------------------------------------------------------------------- allocation
def test_most_efficient_first_at_presets_with_cooling_counted() -> None:
    good = Candidate("good", (Preset("top", 3000, 200),))          # 15 J/TH
    bad = Candidate("bad", (Preset("top", 3000, 100),))            # 30 J/TH
    lux = Candidate("lux", LUX)                                    # best 31.25 J/TH (low)
    # 6.3 kW with 5 % cooling: 6000 W of ASICs
    out = allocate(6.3e-3, 0.05, [bad, lux, good])
    assert out["good"] == Preset("top", 3000, 200)
    assert out["bad"] == Preset("top", 3000, 100)
    assert out["lux"] is None
    # 5.5 kW -> 5238 W: good (3000) then lux's highest preset under 2238 W: none; bad none
    out = allocate(5.5e-3, 0.05, [bad, lux, good])
    assert out == {"good": Preset("top", 3000, 200), "bad": None, "lux": None}
    # 5.7 kW -> 5428.6 W: good, then bad does not fit (2428 W left), lux at "low" (2300 W)
    out = allocate(5.7e-3, 0.05, [good, bad, lux])
    assert out["lux"] == Preset("low", 2300, 70) and out["bad"] is None
    assert allocate(0.0, 0.05, [good, lux]) == {"good": None, "lux": None}


def test_uncontrollable_machines_are_charged_first() -> None:
    lost = Candidate("lost", LUX, controllable=False, fixed_w=3250)
    good = Candidate("good", (Preset("top", 3000, 200),))
    assert allocate(6.3e-3, 0.05, [lost, good]) == {"good": None}  # 6000 - 3250 < 3000
    assert allocate(6.6e-3, 0.05, [lost, good])["good"] is not None


@settings(max_examples=200, deadline=None)
@given(cap=st.floats(0, 0.2), cooling=st.floats(0, 0.5),
       machines=st.lists(st.tuples(st.lists(st.tuples(st.floats(100, 5000),
                                                      st.floats(1, 300)), max_size=4),
                                   st.booleans(), st.floats(0, 4000)), max_size=12))
def test_never_above_the_cap(cap: float, cooling: float, machines: list[Any]) -> None:
    cands = [Candidate(f"m{i}", tuple(Preset(f"p{j}", w, h) for j, (w, h) in enumerate(ps)),
                       controllable=ok, fixed_w=0.0 if ok else fixed)
             for i, (ps, ok, fixed) in enumerate(machines)]
    out = allocate(cap, cooling, cands)
    fixed = sum(c.fixed_w for c in cands if not c.controllable)
    if fixed * (1 + cooling) / 1e6 <= cap:
        assert (total_w(out) + fixed) * (1 + cooling) / 1e6 <= cap + 1e-9
    assert set(out) == {c.key for c in cands if c.controllable}


def test_ramp_up_is_limited_and_ramp_down_is_not() -> None:
    top = LUX[2]
    current = {"a": top, "b": None, "c": None, "d": None}
    target = {"a": None, "b": top, "c": top, "d": top}
    out = ramp_up_limited(current, target, ["b", "c", "d", "a"], 2)
    assert out == {"a": None, "b": top, "c": top, "d": None}


# --------------------------------------------------------------------------- setpoints
KEY = Ed25519PrivateKey.generate()
PINNED = KEY.public_key().public_bytes_raw()
NOW = datetime(2027, 3, 1, 10, 0, 5, tzinfo=UTC)


def fields(**kw: Any) -> dict[str, Any]:
    return {"site": "S", "mw_cap": 12.5, "issued_at": "2027-03-01T10:00:00Z",
            "valid_until": "2027-03-01T10:01:00Z", "plan_id": 3, "hold": False,
            "reason": "plan 3", **kw}


def payload_format(f: dict[str, Any], key: Ed25519PrivateKey = KEY) -> dict[str, Any]:
    text = json.dumps(f)
    return {"payload": text, "signature": key.sign(text.encode()).hex(),
            "key": key.public_key().public_bytes_raw().hex()}


def test_setpoint_verifies_with_the_pinned_key_only() -> None:
    wrap = payload_format
    sp = verified_setpoint(wrap(fields()), PINNED, "S")
    assert sp.mw_cap == 12.5 and sp.plan_id == 3 and sp.valid_at(NOW)
    assert not sp.valid_at(NOW + timedelta(minutes=2))
    other = Ed25519PrivateKey.generate()
    with pytest.raises(SetpointError) as e:  # signed by another key that it carries
        verified_setpoint(wrap(fields(), other), PINNED, "S")
    assert e.value.reason == "bad_signature"
    with pytest.raises(SetpointError) as e:
        verified_setpoint(wrap(fields()), PINNED, "T")
    assert e.value.reason == "wrong_site"


def test_a_changed_field_or_payload_fails() -> None:
    # The retired format 1 (fields beside a signature over the domain prefix and their
    # canonical JSON) is not read, however well it is signed.
    f = fields()
    legacy = {**f, "signature": KEY.sign(b"gridhash-setpoint v1\n" + canonical_json(f)).hex(),
              "service_key": PINNED.hex()}
    with pytest.raises(SetpointError, match="signed payload") as e:
        verified_setpoint(legacy, PINNED, "S")
    assert e.value.reason == "malformed"
    body = payload_format(fields())
    with pytest.raises(SetpointError, match="does not verify"):
        verified_setpoint({**body, "payload": body["payload"].replace("12.5", "99.0")},
                          PINNED, "S")
    # fields outside the signed payload are not read
    sp = verified_setpoint({**body, "mw_cap": 99.0}, PINNED, "S")
    assert sp.mw_cap == 12.5
    with pytest.raises(SetpointError) as e:
        verified_setpoint({"mw_cap": 1}, PINNED, "S")
    assert e.value.reason == "malformed"


# --------------------------------------------------------------------------- miners.toml
def test_miners_toml_reads_and_errors_name_the_field(tmp_path: Path) -> None:
    p = tmp_path / "miners.toml"
    p.write_text('cooling_overhead = 0.1\n[[miners]]\nhost = "10.0.0.1"\n'
                 '[[miners]]\nhost = "10.0.0.2"\nport = 4029\nfirmware = "LuxOS"\n'
                 'power_w = 3000\nhashrate_th_s = 100\n')
    site = load_site(p)
    assert site.cooling_overhead == 0.1
    assert site.miners[1] == MinerSpec("10.0.0.2", 4029, "luxos", 3000, 100)
    for text, field in [('[[miners]]\nhost = ""\n', "miners[0].host"),
                        ('[[miners]]\nhost = "a"\nport = 0\n', "miners[0].port"),
                        ('[[miners]]\nhost = "a"\npower = 3\n', "miners[0].power"),
                        ('[[miners]]\nhost = "a"\n[[miners]]\nhost = "a"\n', "miners[1].host"),
                        ("cooling_overhead = -1\n", "cooling_overhead"),
                        ("", "miners")]:
        p.write_text(text)
        with pytest.raises(InputError) as e:
            load_site(p)
        assert e.value.field == field and str(p) in str(e.value)


# --------------------------------------------------------------------------- the loop
class MemoryBackend:
    """Machines in memory: presets, awake/asleep, optionally unreachable or disobeying."""

    def __init__(self, n: int) -> None:
        self.awake = dict.fromkeys((f"10.0.0.{i}" for i in range(n)), True)
        self.preset: dict[str, Preset] = {}
        self.down: set[str] = set()
        self.disobey: set[str] = set()
        self.slow: set[str] = set()
        self.calls: list[str] = []

    def _check(self, spec: MinerSpec) -> None:
        if spec.host in self.down:
            raise MachineError(f"{spec.host}: down")

    async def identify(self, spec: MinerSpec) -> Identity:
        if spec.host in self.slow:  # a dead host: seconds before the attempt gives up
            await asyncio.sleep(0.3)
            self.calls.append(f"identify failed {spec.host}")
            raise MachineError(f"{spec.host}: timed out")
        self._check(spec)
        return Identity("mem", "m", LUX)

    async def sleep(self, spec: MinerSpec) -> None:
        self._check(spec)
        self.calls.append(f"sleep {spec.host}")
        self.awake[spec.host] = False

    async def wake(self, spec: MinerSpec) -> None:
        self._check(spec)
        self.calls.append(f"wake {spec.host}")
        self.awake[spec.host] = True

    async def set_preset(self, spec: MinerSpec, preset: Preset) -> None:
        self._check(spec)
        self.preset[spec.host] = preset

    async def read(self, spec: MinerSpec) -> Reading:
        self._check(spec)
        on = self.awake[spec.host] or spec.host in self.disobey
        p = self.preset.get(spec.host, LUX[2])
        return Reading(p.watts if on else 10.0, p.hashrate_th_s if on else 0.0)


def make_agent(n: int, **kw: Any) -> tuple[Agent, MemoryBackend, list[Any]]:
    backend = MemoryBackend(n)
    spec = SiteSpec(tuple(MinerSpec(h) for h in backend.awake), 0.05)
    clock = [NOW]
    agent = Agent(AgentConfig("http://x", "S", "t", PINNED, spec, poll_s=10, **kw), backend,
                  clock=lambda: clock[0])
    bodies: list[Any] = []

    async def fetch() -> Any:
        if not bodies:
            raise ConnectionError("service down")
        return bodies[-1]

    async def report() -> None:
        return None

    agent.fetch = fetch  # type: ignore[method-assign]
    agent.report = report  # type: ignore[method-assign]
    return agent, backend, [bodies, clock]


def test_loop_follows_caps_fails_safe_and_ramps() -> None:
    agent, b, (bodies, clock) = make_agent(6, ramp_step=2)
    run = asyncio.run
    run(agent.step())  # no setpoint ever: everything asleep
    assert not any(b.awake.values()) and agent.failsafe
    bodies.append(payload_format(fields(mw_cap=0.0105)))  # 10 kW -> 3 machines at top
    run(agent.step())
    assert sum(b.awake.values()) == 2  # ramp: two a step
    run(agent.step())
    assert sum(b.awake.values()) == 3
    assert sum(p.watts for h, p in b.preset.items() if b.awake[h]) * 1.05 <= 10500
    # a forged setpoint: rejected, every machine asleep at once
    good = payload_format(fields(mw_cap=1.0, issued_at="2027-03-01T10:00:01Z"))
    bodies.append({**good, "payload": good["payload"].replace("1.0", "2.0")})
    run(agent.step())
    assert not any(b.awake.values()) and agent.last_rejection == "bad_signature"
    assert agent.rejected == 1
    # a good one again, then the service goes away: kept until valid_until, then asleep
    bodies.append(payload_format(fields(mw_cap=0.0105, issued_at="2027-03-01T10:00:02Z")))
    run(agent.step())
    run(agent.step())
    assert sum(b.awake.values()) == 3
    bodies.clear()
    clock[0] = NOW + timedelta(seconds=30)
    run(agent.step())
    assert sum(b.awake.values()) == 3
    clock[0] = NOW + timedelta(seconds=61)
    run(agent.step())
    assert not any(b.awake.values()) and "expired" in agent.failsafe


def test_replayed_older_setpoint_is_rejected() -> None:
    agent, b, (bodies, _clock) = make_agent(2)
    bodies.append(payload_format(fields(issued_at="2027-03-01T10:00:04Z")))
    asyncio.run(agent.step())
    assert any(b.awake.values())
    bodies.append(payload_format(fields(issued_at="2027-03-01T10:00:00Z")))
    asyncio.run(agent.step())
    assert agent.last_rejection == "replayed" and not any(b.awake.values())


def test_unreachable_and_disobeying_machines_are_reported_and_charged() -> None:
    agent, b, (bodies, _clock) = make_agent(4)
    bodies.append(payload_format(fields(mw_cap=1.0)))
    asyncio.run(agent.step())
    assert all(b.awake.values())
    b.down.add("10.0.0.0")
    b.disobey.add("10.0.0.1")
    bodies.append(payload_format(fields(mw_cap=0.0, issued_at="2027-03-01T10:00:01Z")))
    asyncio.run(agent.step())
    for m in agent.machines.values():
        if m.spec.host == "10.0.0.1":
            m.slept_at = -1e9  # the grace after a sleep command has passed
    asyncio.run(agent.step())
    t = agent.telemetry()
    assert t["machines"]["unreachable"] == 1 and t["machines"]["disobeying"] == 1
    assert t["disobeying"] == ["10.0.0.1"] and t["unreachable"] == ["10.0.0.0"]
    assert "sleep 10.0.0.1" in b.calls[-3:] or b.calls.count("sleep 10.0.0.1") >= 2


def test_the_agent_applies_the_sites_demand_response_rule(tmp_path: Path) -> None:
    """Same rule as the planner, over a live price file: hysteresis and the minimum hold."""
    from gridhash.agent.dr import PriceRule
    from gridhash.demand_response import CurtailmentRule

    agent, b, (bodies, clock) = make_agent(3)
    prices = tmp_path / "prices.csv"
    rule = CurtailmentRule(strike=100, hours_above=2, hours_below=1, min_hold_hours=2)
    agent.dr = PriceRule(rule, prices)
    bodies.append(payload_format(fields(mw_cap=1.0, valid_until="2027-03-02T00:00:00Z")))
    rows = ["hour_start,usd_per_mwh"]

    def at(hour: int, price: float) -> None:
        rows.append(f"2027-03-01T{hour:02d}:00:00Z,{price}")
        prices.write_text("\n".join(rows) + "\n")
        os.utime(prices, (hour * 10.0, hour * 10.0))  # a new mtime for each rewrite
        clock[0] = datetime(2027, 3, 1, hour, 0, 30, tzinfo=UTC)
        asyncio.run(agent.step())

    at(10, 150)
    assert all(b.awake.values())          # one hour above: not yet
    at(11, 150)
    assert not any(b.awake.values())      # the second: curtailed
    at(12, 50)
    assert not any(b.awake.values())      # below, but the 2 h minimum hold
    at(13, 50)
    assert all(b.awake.values())          # resumed
    assert agent.telemetry()["demand_response"] is None


def test_a_day_old_genuine_setpoint_is_stale_and_the_log_says_why(caplog: Any) -> None:
    agent, b, (bodies, _clock) = make_agent(2)
    bodies.append(payload_format(fields(issued_at="2027-02-28T10:00:00Z",
                                    valid_until="2027-02-28T10:01:00Z")))
    with caplog.at_level("WARNING", logger="gridhash.agent"):
        asyncio.run(agent.step())
    assert agent.last_rejection == "stale" and not any(b.awake.values())
    assert "-1 days" in caplog.text and "--clock-offset-days" in caplog.text


def test_stopping_the_agent_puts_every_machine_to_sleep() -> None:
    from gridhash.agent.cli import run_agent

    agent, b, (bodies, _clock) = make_agent(3)
    bodies.append(payload_format(fields(mw_cap=1.0)))
    asyncio.run(agent.step())
    assert all(b.awake.values())
    stop = asyncio.Event()
    stop.set()

    async def no_run(_stop: Any) -> None:
        return None

    agent.run = no_run  # type: ignore[method-assign]
    asyncio.run(run_agent(agent, stop))
    assert not any(b.awake.values())


@pytest.mark.parametrize(("args", "field"), [
    (["--service-key", "abc"], "--service-key"),
    (["--token-file", "missing.token"], "--token-file"),
    (["--miners", "missing.toml"], "missing.toml"),
])
def test_agent_cli_bad_input_is_exit_2_naming_it(tmp_path: Path, args: list[str],
                                                 field: str) -> None:
    from helpers import run_cli

    (tmp_path / "site.token").write_text("gh_x\n")
    (tmp_path / "miners.toml").write_text('[[miners]]\nhost = "127.0.0.1"\n')
    base = {"--service": "http://127.0.0.1:9", "--site": "S",
            "--token-file": str(tmp_path / "site.token"), "--service-key": PINNED.hex(),
            "--miners": str(tmp_path / "miners.toml")}
    base[args[0]] = args[1] if args[0] == "--service-key" else str(tmp_path / args[1])
    out = run_cli("agent", *[x for kv in base.items() for x in kv])
    assert out.exit_code == 2 and field in out.output and "Traceback" not in out.output


def test_a_hold_goes_out_before_dead_machines_are_tried_again() -> None:
    agent, b, (bodies, _clock) = make_agent(4)
    b.slow.add("10.0.0.3")
    bodies.append(payload_format(fields(mw_cap=1.0)))
    asyncio.run(agent.step())
    assert sum(b.awake.values()) == 4  # 3 woken; the dead one never heard from us (still on)
    assert agent.machines["10.0.0.3"].status == "unreachable"
    for m in agent.machines.values():
        m.retry_at = 0.0  # due for another identification attempt
    b.calls.clear()
    bodies.append(payload_format(fields(mw_cap=0.0, issued_at="2027-03-01T10:00:01Z")))
    asyncio.run(agent.step())
    sleeps = [i for i, c in enumerate(b.calls) if c.startswith("sleep")]
    assert len(sleeps) == 3
    assert max(sleeps) < b.calls.index("identify failed 10.0.0.3")
