"""The hardware interface the agent drives: identify, sleep, wake, set a preset, read back.

:class:`Backend` is all the control loop needs; :mod:`gridhash.agent.pyasic_backend`
implements it with pyasic.  Another library (pyasic-rs, a vendor's fleet API) is
another class with these five coroutines.  Every method raises
:class:`MachineError` when the machine does not answer or refuses; the
loop counts such a machine as unreachable, never as obeying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gridhash.agent.fleet import MinerSpec, Preset


class MachineError(Exception):
    """The machine did not answer, or answered with an error."""


@dataclass(frozen=True)
class Identity:
    """What identification found."""

    make: str          # e.g. "LuxOS", "AvalonMiner"
    model: str         # e.g. "S19j Pro"
    presets: tuple[Preset, ...]


@dataclass(frozen=True)
class Reading:
    """What a machine reports now: ASIC power [W] (None if unknown), hashrate [TH/s]."""

    watts: float | None
    hashrate_th_s: float | None
    mining: bool | None = None


class Backend(Protocol):
    """One way of talking to mining machines."""

    async def identify(self, spec: MinerSpec) -> Identity: ...

    async def sleep(self, spec: MinerSpec) -> None: ...

    async def wake(self, spec: MinerSpec) -> None: ...

    async def set_preset(self, spec: MinerSpec, preset: Preset) -> None: ...

    async def read(self, spec: MinerSpec) -> Reading: ...
