"""The pyasic backend (``pip install 'gridhash[agent]'``): real miners over their own APIs.

pyasic (UpstreamData/pyasic, Apache-2.0) speaks each firmware's dialect: the
cgminer-style JSON RPC on TCP 4028 (LuxOS, Avalon, BOSminer, stock
cgminer/bmminer), vendor web APIs, gRPC.  What the agent uses:

- identification: ``pyasic.get_miner(ip)`` (probes the web page on 80/443 and
  ``version``/``devdetails`` on 4028) or, when ``miners.toml`` names the
  ``firmware``, the firmware's class directly (``MINER_CLASSES``), which is also
  how a machine on another ``port`` is reached;
- sleep and wake: ``stop_mining()`` / ``resume_mining()`` (LuxOS: ``curtail
  sleep|wakeup`` in a ``logon`` session; Avalon: ``ascset softoff|softon``);
- presets: ``get_config().mining_mode.available_presets`` where the firmware has
  them (LuxOS power profiles), set with ``set_power_limit(watts)``, which picks
  the highest preset at or under the watts; a machine without presets has one,
  its nameplate (``miners.toml`` ``power_w`` / ``hashrate_th_s``, else what it
  reports as its power limit and expected hashrate);
- read-back: ``get_data(include=[wattage, hashrate])``.  pyasic 0.79's LuxOS
  hashrate reader returns nothing, so the backend falls back to the RPC
  ``summary`` (``GHS 5s``) where a machine has one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gridhash.agent.backend import Identity, MachineError, Reading
from gridhash.agent.fleet import MinerSpec, Preset
from gridhash.errors import GridhashError

#: miners.toml ``firmware`` → pyasic MinerTypes member name.
FIRMWARES = {
    "luxos": "LUX_OS", "avalon": "AVALONMINER", "avalonminer": "AVALONMINER",
    "braiins": "BRAIINS_OS", "bosminer": "BRAIINS_OS", "braiins_os": "BRAIINS_OS",
    "antminer": "ANTMINER", "stock": "ANTMINER", "vnish": "VNISH", "epic": "EPIC",
    "whatsminer": "WHATSMINER", "hiveon": "HIVEON", "auradine": "AURADINE",
    "goldshell": "GOLDSHELL", "innosilicon": "INNOSILICON", "marathon": "MARATHON",
}


class PyasicMissingError(GridhashError):
    """pyasic is not installed."""


def _import_pyasic() -> Any:
    try:
        import pyasic
    except ImportError:
        raise PyasicMissingError(
            "the agent's hardware backend needs pyasic: pip install 'gridhash[agent]'"
        ) from None
    return pyasic


def _th_s(rate: Any) -> float | None:
    """A pyasic hashrate object (or number, taken as TH/s) in TH/s."""
    if rate is None:
        return None
    unit = getattr(rate, "unit", None)
    if unit is not None:
        return float(rate.into(type(unit).TH))
    return float(rate)


class PyasicBackend:
    """:class:`gridhash.agent.backend.Backend` over pyasic; one pyasic object per machine."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.pyasic = _import_pyasic()
        self.timeout_s = timeout_s
        self._miners: dict[str, Any] = {}
        self._nameplate: dict[str, Preset] = {}

    async def _call(self, spec: MinerSpec, what: str, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except (TimeoutError, OSError, ConnectionError) as exc:
            raise MachineError(f"{spec.key}: {what}: {type(exc).__name__} {exc}") from None
        except Exception as exc:  # pyasic raises APIError, KeyError, ... for a bad answer
            raise MachineError(f"{spec.key}: {what}: {type(exc).__name__} {exc}") from None

    async def _miner(self, spec: MinerSpec) -> Any:
        miner = self._miners.get(spec.key)
        if miner is not None:
            return miner
        if spec.firmware:
            from pyasic.miners.factory import MINER_CLASSES, MinerTypes

            name = FIRMWARES.get(spec.firmware, spec.firmware.upper())
            try:
                cls = MINER_CLASSES[MinerTypes[name]][None]
            except KeyError:
                raise MachineError(
                    f"{spec.key}: unknown firmware {spec.firmware!r}; known: "
                    + ", ".join(sorted(FIRMWARES))) from None
            miner = cls(spec.host)
        else:
            if spec.port != 4028:
                raise MachineError(
                    f"{spec.key}: identification probes port 4028; name the firmware in "
                    "miners.toml to reach a machine on another port")
            miner = await self._call(spec, "identify", self.pyasic.get_miner(spec.host))
            if miner is None:
                raise MachineError(f"{spec.key}: not identified as a known miner")
        rpc = getattr(miner, "rpc", None)
        if rpc is not None and spec.port != 4028:
            rpc.port = spec.port
        self._miners[spec.key] = miner
        return miner

    async def identify(self, spec: MinerSpec) -> Identity:
        miner = await self._miner(spec)
        make = type(miner).__name__
        model = str(getattr(miner, "model", None) or "unknown")
        presets: tuple[Preset, ...] = ()
        if getattr(miner, "supports_presets", False):
            config = await self._call(spec, "get_config", miner.get_config())
            available = getattr(config.mining_mode, "available_presets", None) or []
            presets = tuple(sorted(
                (Preset(str(p.name), float(p.power), float(p.hashrate or 0.0))
                 for p in available if p.power),
                key=lambda p: p.watts))
        if not presets:
            watts, rate = spec.power_w, spec.hashrate_th_s
            if watts is None or rate is None:
                data = await self._call(spec, "get_data", miner.get_data(
                    include=["wattage_limit", "expected_hashrate", "wattage"]))
                watts = watts or data.wattage_limit or data.wattage
                rate = rate or _th_s(data.expected_hashrate)
            if not watts or rate is None:
                raise MachineError(
                    f"{spec.key}: the machine reports no power limit or expected hashrate; "
                    "give power_w and hashrate_th_s in miners.toml")
            presets = (Preset("nameplate", float(watts), float(rate)),)
        return Identity(make=make, model=model, presets=presets)

    async def sleep(self, spec: MinerSpec) -> None:
        miner = await self._miner(spec)
        if not await self._call(spec, "stop_mining", miner.stop_mining()):
            raise MachineError(f"{spec.key}: stop_mining refused")

    async def wake(self, spec: MinerSpec) -> None:
        miner = await self._miner(spec)
        if not await self._call(spec, "resume_mining", miner.resume_mining()):
            raise MachineError(f"{spec.key}: resume_mining refused")

    async def set_preset(self, spec: MinerSpec, preset: Preset) -> None:
        miner = await self._miner(spec)
        if not getattr(miner, "supports_presets", False):
            return  # one preset: its nameplate
        if not await self._call(spec, "set_power_limit",
                                miner.set_power_limit(round(preset.watts))):
            raise MachineError(f"{spec.key}: set_power_limit({preset.watts:g}) refused")

    async def read(self, spec: MinerSpec) -> Reading:
        miner = await self._miner(spec)
        data = await self._call(spec, "get_data",
                                miner.get_data(include=["wattage", "hashrate", "is_mining"]))
        watts, rate = data.wattage, _th_s(data.hashrate)
        if rate is None and hasattr(getattr(miner, "rpc", None), "summary"):
            try:
                summary = await asyncio.wait_for(miner.rpc.summary(), self.timeout_s)
                row = summary["SUMMARY"][0]
                if "GHS 5s" in row:
                    rate = float(row["GHS 5s"]) / 1e3
                elif "MHS 5s" in row:
                    rate = float(row["MHS 5s"]) / 1e6
            except Exception:  # no summary: the hashrate stays unknown
                rate = None
        if watts is None and rate is None:
            raise MachineError(f"{spec.key}: no power or hashrate in the machine's answer")
        return Reading(watts=None if watts is None else float(watts), hashrate_th_s=rate,
                       mining=data.is_mining)
