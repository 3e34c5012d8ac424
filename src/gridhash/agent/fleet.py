"""The site's machines (``miners.toml``) and how a MW cap is shared among them.

``miners.toml``::

    cooling_overhead = 0.05      # cooling and auxiliaries per unit of ASIC power (default 0.05)

    [[miners]]
    host = "10.0.3.17"           # required
    port = 4028                  # optional: the RPC port (default 4028)
    firmware = "luxos"           # optional: skip identification (luxos, avalon, any pyasic make)
    power_w = 3250               # optional: nameplate, when the machine cannot report it
    hashrate_th_s = 200          # optional: nameplate, when the machine cannot report it

:func:`allocate` is the whole rule: a power budget of ``cap / (1 + cooling)``
for the ASICs; machines in order of efficiency (watts per TH/s at their most
efficient preset), each at the highest of its firmware presets that still fits
what is left of the budget, or asleep.  A machine the agent cannot reach, or
one that did not obey a sleep, is counted at the power it may still draw, so
the site stays under the cap whatever those machines do.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridhash.demand_response import CurtailmentRule
from gridhash.errors import InputError

DEFAULT_COOLING_OVERHEAD = 0.05


@dataclass(frozen=True)
class MinerSpec:
    """One ``[[miners]]`` entry."""

    host: str
    port: int = 4028
    firmware: str | None = None
    power_w: float | None = None
    hashrate_th_s: float | None = None

    @property
    def key(self) -> str:
        return self.host if self.port == 4028 else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SiteSpec:
    """The whole ``miners.toml``."""

    miners: tuple[MinerSpec, ...]
    cooling_overhead: float = DEFAULT_COOLING_OVERHEAD
    dr_rule: CurtailmentRule | None = None
    dr_prices: Path | None = None  # CSV: hour_start (UTC, plant time), usd_per_mwh


DR_KEYS = {"strike_usd_per_mwh": "strike", "hours_above": "hours_above",
           "hours_below": "hours_below", "min_hold_hours": "min_hold_hours",
           "high_strike_usd_per_mwh": "high_strike", "resume_usd_per_mwh": "resume"}


def _dr(data: Any, path: Path) -> tuple[CurtailmentRule | None, Path | None]:
    """``[demand_response]``: the scenario's rule fields, and ``prices`` (a CSV file)."""
    source = str(path)
    if data is None:
        return None, None
    if not isinstance(data, dict):
        raise InputError("not a table", source=source, field="demand_response")
    extra = set(data) - set(DR_KEYS) - {"prices"}
    if extra:
        raise InputError("unknown key", source=source, field=f"demand_response.{sorted(extra)[0]}",
                         expected=", ".join([*DR_KEYS, "prices"]))
    kw: dict[str, Any] = {}
    for key, name in DR_KEYS.items():
        if key not in data:
            continue
        v = data[key]
        integer = key.endswith("hours") or key.startswith("hours")
        ok = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok:
            raise InputError("bad value", source=source, field=f"demand_response.{key}", value=v,
                             expected="an integer" if integer else "a number")
        kw[name] = v
    if "strike" not in kw:
        raise InputError("missing", source=source, field="demand_response.strike_usd_per_mwh",
                         expected="the strike price [USD/MWh]")
    prices = data.get("prices")
    if not isinstance(prices, str) or not prices:
        raise InputError("missing", source=source, field="demand_response.prices",
                         expected="a CSV file of hour_start,usd_per_mwh (relative to miners.toml)")
    try:
        rule = CurtailmentRule(**kw)
    except ValueError as exc:
        raise InputError(str(exc), source=source, field="demand_response") from None
    return rule, (path.parent / prices)


def _number(entry: dict[str, Any], name: str, where: str, source: str,
            *, integer: bool = False, lo: float = 0.0, hi: float = float("inf")) -> Any:
    value = entry.get(name)
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or not (lo < value <= hi):
        kind = "an integer" if integer else "a number"
        raise InputError("bad value", source=source, field=f"{where}.{name}", value=value,
                         expected=f"{kind} > {lo:g}" + (f" and <= {hi:g}" if hi < 1e300 else ""))
    return value


def load_site(path: str | Path) -> SiteSpec:
    """Read and check ``miners.toml``; errors name the file, the field and the value."""
    path = Path(path)
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid TOML: {exc}", source=source) from None
    unknown = set(data) - {"miners", "cooling_overhead", "demand_response"}
    if unknown:
        raise InputError("unknown key", source=source, field=sorted(unknown)[0],
                         expected="miners, cooling_overhead, demand_response")
    cooling = data.get("cooling_overhead", DEFAULT_COOLING_OVERHEAD)
    if isinstance(cooling, bool) or not isinstance(cooling, int | float) or not 0 <= cooling < 5:
        raise InputError("bad value", source=source, field="cooling_overhead", value=cooling,
                         expected="a fraction >= 0 and < 5 (0.05 is 5 %)")
    raw = data.get("miners")
    if not isinstance(raw, list) or not raw:
        raise InputError("no machines", source=source, field="miners",
                         expected="one or more [[miners]] tables with a host")
    miners: list[MinerSpec] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"miners[{i}]"
        if not isinstance(entry, dict):
            raise InputError("not a table", source=source, field=where, value=entry)
        extra = set(entry) - {"host", "port", "firmware", "power_w", "hashrate_th_s"}
        if extra:
            raise InputError("unknown key", source=source, field=f"{where}.{sorted(extra)[0]}",
                             expected="host, port, firmware, power_w, hashrate_th_s")
        host = entry.get("host")
        if not isinstance(host, str) or not host.strip():
            raise InputError("missing or empty host", source=source, field=f"{where}.host",
                             value=host, expected="an IP address or host name")
        firmware = entry.get("firmware")
        if firmware is not None and (not isinstance(firmware, str) or not firmware.strip()):
            raise InputError("bad firmware", source=source, field=f"{where}.firmware",
                             value=firmware, expected="a firmware name such as 'luxos'")
        spec = MinerSpec(
            host=host.strip(),
            port=_number(entry, "port", where, source, integer=True, hi=65535) or 4028,
            firmware=firmware.strip().lower() if firmware else None,
            power_w=_number(entry, "power_w", where, source, hi=1e6),
            hashrate_th_s=_number(entry, "hashrate_th_s", where, source, hi=1e6),
        )
        if spec.key in seen:
            raise InputError("machine listed twice", source=source, field=f"{where}.host",
                             value=spec.key, expected="each host (and port) once")
        seen.add(spec.key)
        miners.append(spec)
    rule, prices = _dr(data.get("demand_response"), path)
    return SiteSpec(tuple(miners), float(cooling), rule, prices)


@dataclass(frozen=True)
class Preset:
    """A firmware power preset: ASIC power [W] and the hashrate it gives [TH/s]."""

    name: str
    watts: float
    hashrate_th_s: float


@dataclass(frozen=True)
class Candidate:
    """A machine as the allocation sees it."""

    key: str
    presets: tuple[Preset, ...]  # may be empty: the machine can only sleep
    controllable: bool = True     # False: unreachable or disobeying
    fixed_w: float = 0.0          # what an uncontrollable machine may still draw [W]

    @property
    def efficiency_w_per_th(self) -> float:
        rates = [p.watts / p.hashrate_th_s for p in self.presets if p.hashrate_th_s > 0]
        return min(rates) if rates else float("inf")


def asic_budget_w(cap_mw: float, cooling_overhead: float) -> float:
    """ASIC power [W] a site cap [MW] leaves once cooling (a fraction of ASIC power) is counted."""
    return max(0.0, cap_mw) * 1e6 / (1.0 + cooling_overhead)


def allocate(cap_mw: float, cooling_overhead: float,
             machines: Iterable[Candidate]) -> dict[str, Preset | None]:
    """Each controllable machine's preset (``None``: asleep) under the cap [MW].

    Uncontrollable machines are charged first at ``fixed_w``; then machines in
    order of efficiency (lowest W per TH/s first, ties by key) each take the
    highest preset that fits the rest of the budget.  The ASIC power of the
    result, times ``1 + cooling_overhead``, never exceeds ``cap_mw``.
    """
    machines = list(machines)
    left = asic_budget_w(cap_mw, cooling_overhead)
    left -= sum(m.fixed_w for m in machines if not m.controllable)
    out: dict[str, Preset | None] = {}
    for m in sorted((m for m in machines if m.controllable),
                    key=lambda m: (m.efficiency_w_per_th, m.key)):
        fits = [p for p in m.presets if p.watts <= left]
        best = max(fits, key=lambda p: (p.watts, p.hashrate_th_s), default=None)
        out[m.key] = best
        if best is not None:
            left -= best.watts
    return out


def total_w(choice: dict[str, Preset | None]) -> float:
    """ASIC power [W] of an allocation."""
    return sum(p.watts for p in choice.values() if p is not None)


def ramp_up_limited(current: dict[str, Preset | None], target: dict[str, Preset | None],
                    order: Sequence[str], max_increases: int) -> dict[str, Preset | None]:
    """``target`` with at most ``max_increases`` machines raised this step (decreases all kept).

    Decreases (sleep, a lower preset) are applied at once; increases (wake, a
    higher preset) in ``order`` (most efficient first), ``max_increases`` a step.
    """
    out: dict[str, Preset | None] = {}
    raised = 0
    for key in order:
        if key not in target:
            continue
        now, want = current.get(key), target[key]
        up = (want.watts if want else 0.0) > (now.watts if now else 0.0)
        if up and raised >= max_increases:
            out[key] = now
        else:
            out[key] = want
            raised += up
    return out
