"""Fake mining machines for the agent tests: the cgminer-style JSON API on TCP 4028.

Each :class:`FakeMiner` listens on its own loopback address (127.x.y.z:4028)
and answers one JSON command per connection, then closes (as cgminer does),
with ``+``-joined multi-commands answered per command.  Two firmware dialects,
as pyasic 0.79 speaks them (read from its source: ``pyasic/rpc/luxminer.py``,
``pyasic/miners/backends/luxminer.py``, ``avalonminer.py``, ``factory.py``):

LuxOS (``luxos``)
    ``version`` names LUXminer (pyasic's identification) and the model;
    ``session``/``logon`` give a session id that privileged commands
    (``curtail <sid>,sleep|wakeup``, ``profileset <sid>,<profile>``,
    ``atmset``) must carry; ``profiles``/``config`` list the power profiles and
    the active one; ``power`` and ``summary`` report watts and GH/s.
Avalon (``avalon``)
    ``version`` with ``PROD`` AvalonMiner; ``ascset 0,softoff|softon,...``
    (answers "success"); ``estats`` with ``WALLPOWER[...]``; ``devs`` with
    ``MHS 1m``.

A miner can be told to disobey (``disobey=True``: it acknowledges a sleep and
keeps drawing power) or to go dark (:meth:`FakeMiner.stop`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

STANDBY_W = 12.0  # control board and fans of a sleeping machine


@dataclass
class Profile:
    name: str
    watts: float
    th_s: float


LUX_PROFILES = (Profile("190MHz", 2300.0, 70.0), Profile("245MHz", 2850.0, 90.0),
                Profile("default", 3250.0, 104.0))


@dataclass
class FakeMiner:
    """One machine; ``firmware`` is ``luxos`` or ``avalon``."""

    host: str
    firmware: str = "luxos"
    model: str = "Antminer S19j Pro"
    profiles: tuple[Profile, ...] = LUX_PROFILES
    avalon_w: float = 3400.0
    avalon_th_s: float = 90.0
    asleep: bool = False
    disobey: bool = False
    profile: str = "default"
    commands: list[str] = field(default_factory=list)
    _session: str = ""
    _server: Any = None

    # ------------------------------------------------------------------ state
    @property
    def mining(self) -> bool:
        return not self.asleep or self.disobey

    def watts(self) -> float:
        if not self.mining:
            return STANDBY_W
        if self.firmware == "avalon":
            return self.avalon_w
        return next(p.watts for p in self.profiles if p.name == self.profile)

    def th_s(self) -> float:
        if not self.mining:
            return 0.0
        if self.firmware == "avalon":
            return self.avalon_th_s
        return next(p.th_s for p in self.profiles if p.name == self.profile)

    # ------------------------------------------------------------------ protocol
    @staticmethod
    def ok(msg: str = "ok", code: int = 0) -> dict[str, Any]:
        return {"STATUS": [{"STATUS": "S", "When": int(time.time()), "Code": code, "Msg": msg,
                            "Description": "fake"}]}

    @staticmethod
    def err(msg: str) -> dict[str, Any]:
        return {"STATUS": [{"STATUS": "E", "When": int(time.time()), "Code": 45, "Msg": msg,
                            "Description": "fake"}]}

    def answer(self, command: str, parameter: str) -> dict[str, Any]:
        self.commands.append(command if not parameter else f"{command} {parameter}")
        handler = getattr(self, f"_{self.firmware}_{command}", None)
        if handler is None:
            return self.err(f"Invalid command {command}")
        return handler(parameter.split(",") if parameter else [])

    # LuxOS ---------------------------------------------------------------
    def _luxos_version(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("LUXminer versions", 22), "VERSION": [{
            "API": "3.7", "LUXminer": "2024.5.1.154033-fake", "Miner": "2024.5.1",
            "Type": self.model}]}

    def _luxos_devdetails(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Device Details", 69), "DEVDETAILS": [{
            "DEVDETAILS": 0, "Name": "LUXminer", "ID": 0, "Driver": "bitmain",
            "Model": self.model}]}

    def _luxos_session(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Session"), "SESSION": [{"SessionID": self._session}]}

    def _luxos_logon(self, _: list[str]) -> dict[str, Any]:
        if self._session:
            return self.err("Another session is active")
        self._session = secrets.token_hex(4)
        return {**self.ok("Logon"), "SESSION": [{"SessionID": self._session}]}

    def _luxos_logoff(self, args: list[str]) -> dict[str, Any]:
        self._session = ""
        return self.ok("Logoff")

    def _check_session(self, args: list[str]) -> dict[str, Any] | None:
        if not args or not self._session or args[0] != self._session:
            return self.err("Invalid session id")
        return None

    def _luxos_curtail(self, args: list[str]) -> dict[str, Any]:
        bad = self._check_session(args)
        if bad:
            return bad
        if len(args) < 2 or args[1] not in ("sleep", "wakeup"):
            return self.err("curtail needs sleep or wakeup")
        self.asleep = args[1] == "sleep"
        return self.ok(f"Curtail {args[1]}")

    def _luxos_profileset(self, args: list[str]) -> dict[str, Any]:
        bad = self._check_session(args)
        if bad:
            return bad
        if len(args) < 2 or args[1] not in {p.name for p in self.profiles}:
            return self.err("unknown profile")
        self.profile = args[1]
        return {**self.ok("Profile set"), "PROFILE": [{"Profile": self.profile}]}

    def _luxos_atm(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("ATM configuration values"), "ATM": [{
            "Enabled": False, "MaxProfile": "default", "MinProfile": "190MHz",
            "PostRampMinutes": 15, "StartupMinutes": 15, "TempWindow": 10}]}

    def _luxos_atmset(self, args: list[str]) -> dict[str, Any]:
        return self._check_session(args) or self.ok("ATM configuration updated")

    def _luxos_config(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("LUXminer config"), "CONFIG": [{
            "Profile": self.profile, "MACAddr": "02:00:00:00:00:01",
            "IsAtmEnabled": False, "IsTuning": False, "RedLed": "off"}]}

    def _luxos_profiles(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Profiles"), "PROFILES": [{
            "Profile Name": p.name, "Watts": p.watts, "Hashrate": p.th_s, "IsTuned": False,
            "Frequency": 500, "Voltage": 13.0, "Step": "0", "IsDynamic": False}
            for p in self.profiles]}

    def _luxos_power(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Power"), "POWER": [{"Watts": round(self.watts()), "PSU": True}]}

    def _luxos_summary(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Summary"), "SUMMARY": [{"GHS 5s": self.th_s() * 1e3,
                                                   "GHS av": self.th_s() * 1e3, "Elapsed": 1}]}

    def _luxos_tempctrl(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Temp control"), "TEMPCTRL": [{"Mode": "Auto", "Target": 75,
                                                         "Hot": 85, "Dangerous": 95}]}

    def _luxos_fans(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Fans"), "FANS": [{"ID": i, "RPM": 4000, "Speed": 60}
                                            for i in range(4)]}

    def _luxos_pools(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Pools"), "POOLS": []}

    def _luxos_groups(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Groups"), "GROUPS": [{"GROUP": 0, "Name": "Default", "Quota": 1,
                                                 "Pools": []}]}

    # Avalon ---------------------------------------------------------------
    def _avalon_version(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("CGMiner versions"), "VERSION": [{
            "CGMiner": "4.11.1", "API": "3.7", "PROD": "AvalonMiner 1246-90", "MODEL": "1246",
            "MAC": "020000000002"}]}

    def _avalon_devdetails(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Device Details"), "DEVDETAILS": [{"Name": "AV12", "Model": "1246"}]}

    def _avalon_ascset(self, args: list[str]) -> dict[str, Any]:
        if len(args) < 2:
            return self.err("Missing parameters")
        if args[1] == "softoff":
            self.asleep = True
        elif args[1] == "softon":
            self.asleep = False
        else:
            return self.err(f"unknown ascset {args[1]}")
        return {"STATUS": [{"STATUS": "I", "When": int(time.time()), "Code": 118,
                            "Msg": f"ASC 0 set info: success {args[1]}:{args[2:]}",
                            "Description": "fake"}]}

    def _avalon_estats(self, _: list[str]) -> dict[str, Any]:
        mm = (f"Ver[1246-90] WALLPOWER[{round(self.watts())}] MPO[{round(self.avalon_w)}] "
              f"GHSmm[{self.th_s() * 1e3:.2f}] SYSTEMSTATU[Work: In Work]")
        return {**self.ok("CGMiner stats"), "STATS": [{"STATS": 0, "ID": "AVA100",
                                                         "MM ID0": mm}]}

    def _avalon_devs(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("1 ASC(s)"), "DEVS": [{"ASC": 0, "MHS 1m": self.th_s() * 1e6,
                                                   "MHS 5s": self.th_s() * 1e6}]}

    def _avalon_summary(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Summary"), "SUMMARY": [{"MHS 5s": self.th_s() * 1e6}]}

    def _avalon_stats(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("CGMiner stats"), "STATS": [{"Elapsed": 100}]}

    def _avalon_pools(self, _: list[str]) -> dict[str, Any]:
        return {**self.ok("Pools"), "POOLS": []}

    # ------------------------------------------------------------------ server
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await asyncio.wait_for(reader.read(65536), 5)
            try:
                req = json.loads(raw.decode("utf-8"))
                command, parameter = str(req.get("command", "")), str(req.get("parameter", ""))
            except (ValueError, AttributeError):
                command, parameter = "", ""
            if "+" in command:
                out: dict[str, Any] = {c: [self.answer(c, parameter)] for c in command.split("+")}
            else:
                out = self.answer(command, parameter)
            writer.write(json.dumps(out).encode() + b"\x00")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 4028)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


class FakeFleet:
    """Fake miners served from a background thread's event loop (stops with :meth:`close`)."""

    def __init__(self, miners: list[FakeMiner]) -> None:
        self.miners = miners
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-miners",
                                       daemon=True)
        self.thread.start()
        self.call(self._all("start"))

    async def _all(self, method: str) -> None:
        await asyncio.gather(*(getattr(m, method)() for m in self.miners))

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        try:
            self.call(self._all("stop"))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


def loopback_block() -> str:
    """A random 127.a.b.0/24 prefix, so concurrent test runs do not share addresses."""
    return f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}"
