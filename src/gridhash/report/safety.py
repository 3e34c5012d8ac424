"""The safety envelope in outputs: summary, hourly columns, timeline, terminal view."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.scenario.safety import MODES

if TYPE_CHECKING:
    from rich.console import Console

    from gridhash.pipeline import Run
    from gridhash.safety.envelope import Envelope


def safety_summary(run: Run) -> dict[str, Any] | None:
    """``summary.json``'s ``safety`` part (None when the scenario has no safety part)."""
    env = run.envelope
    if env is None:
        return None
    r = run.result
    held = (run.inputs.unit_available_mw - env.unit_cap_mw).clip(min=0).sum()
    return {
        "hours_restricted": int(env.restricted.sum()),
        "hours_mining_blocked": int((~env.mining_allowed).sum()),
        "rule_activations": env.rule_activations(),
        "hours_on_diesel": int(env.on_diesel.sum()),
        "hours_station_blackout": int((r.blackout_mw > 1e-6).sum()),
        "output_held_back_mwh": round(float(held), 6),
        "min_diesel_fuel_days": round(float(env.state.quantities["diesel_fuel_days"].min()), 4),
        **offsite_power_figures(env),
        "unit_hours_by_mode": {
            name: {
                mode: int((env.unit_mode[u] == m).sum())
                for m, mode in enumerate(MODES)
                if (env.unit_mode[u] == m).any()
            }
            for u, name in enumerate(env.unit_names)
        },
        "rules_in_force": [r.name for r in env.rules.rules],
        "rules_skipped": {name: why for name, why in env.rules.skipped},
    }


def offsite_power_figures(env: Envelope) -> dict[str, Any]:
    """The year's off-site power in the figures the IAEA record is told in.

    ``hours_by_offsite_lines``: hours with 0, 1, 2, … off-site circuits in
    service (every count up to the number of circuits, zeros included);
    ``hours_on_diesel``; ``diesel_fuel_days_lowest``: the fuel left at its lowest
    hour [day] and that hour (UTC); ``share_hours_mining_allowed``: the fraction
    of hours in which no rule in force blocks mining (whether or not there is
    power or a fleet to mine with). [-]
    """
    from gridhash.scenario.series import hour_stamp

    q = env.state.quantities
    n = q["offsite_lines"].astype(np.int64)
    circuits = int(env.state.offsite.sum())
    counts = np.bincount(n, minlength=circuits + 1)
    fuel = q["diesel_fuel_days"]
    low = int(np.argmin(fuel))
    return {
        "hours_by_offsite_lines": {str(k): int(c) for k, c in enumerate(counts)},
        "hours_on_diesel": int(env.on_diesel.sum()),
        "diesel_fuel_days_lowest": {"days": round(float(fuel[low]), 4),
                                    "at": hour_stamp(env.index, low)},
        "share_hours_mining_allowed": round(float((~env.mining_blocked).mean()), 6),
    }


def envelope_columns(run: Run) -> dict[str, np.ndarray]:
    """Hourly envelope columns; without a safety part, the plant's own limits."""
    from gridhash.scenario.resolve import fleet_cap

    env, i = run.envelope, run.inputs
    if env is None:
        fleet = fleet_cap(i)
        gross = i.unit_available_mw.sum(axis=0)
        return {
            "envelope_max_gross_output_mw": gross,
            "envelope_max_net_output_mw": np.maximum(0.0, gross - i.house_load_mw),
            "mining_allowed": np.ones(i.hours, dtype=bool),
            "mining_cap_mw": fleet.copy(),  # (the cached array is read only)
            "restriction": np.full(i.hours, "", dtype=object),
        }
    cols: dict[str, np.ndarray] = {
        "envelope_max_gross_output_mw": env.max_gross_output_mw,
        "envelope_max_net_output_mw": env.max_net_output_mw,
        "mining_allowed": env.mining_allowed,
        "mining_cap_mw": env.mining_cap_mw,
        "restriction": env.restriction(),
    }
    for u, name in enumerate(env.unit_names):
        cols[f"mode:{name}"] = np.array(MODES, dtype=object)[env.unit_mode[u]]
    return cols


# --------------------------------------------------------------------------- #
# Timeline
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Entry:
    start: int
    end: int
    what: str  # event | rule | mode | mining
    text: str


def timeline(env: Envelope) -> list[Entry]:
    """Events, rule activations, mode changes and mining permission, in time order."""
    from gridhash.safety.envelope import spans

    out = [Entry(e.start, e.end, "event", e.text) for e in env.state.events]
    for a in env.activations:
        if a.kind == "startup":
            continue  # shown as mode changes
        label = "rule" if a.kind == "action" else "approach"
        cond = f" [{a.condition}]" if a.condition else ""
        out.append(Entry(a.start, a.end, label, f"{a.rule}: {a.effect}{cond}"))
    for u, name in enumerate(env.unit_names):
        mode = env.unit_mode[u]
        change = np.flatnonzero(np.diff(mode) != 0) + 1
        bounds = [0, *change.tolist(), env.hours]
        for s, e in itertools.pairwise(bounds):
            if s == 0 and e == env.hours and mode[0] == 0:
                continue
            out.append(Entry(s, e, "mode", f"{name}: {MODES[int(mode[s])]}"))
    for s, e in spans(~env.mining_allowed):
        out.append(Entry(s, e, "mining", "mining not allowed"))
    order = {"event": 0, "rule": 1, "approach": 2, "mode": 3, "mining": 4}
    return sorted(out, key=lambda x: (x.start, order[x.what], x.text))


def print_safety(env: Envelope, console: Console, *, source: str = "") -> None:
    """`gridhash safety`: state, rules, the timeline, and totals."""
    from rich.table import Table

    from gridhash.scenario.series import hour_stamp

    def when(t: int) -> str:
        return hour_stamp(env.index, t)

    q = env.state.quantities
    console.print(f"[bold]Safety envelope[/bold] {source}")
    state = Table(title="Plant state at the first hour", show_header=False)
    state.add_column("", style="cyan")
    state.add_column("")
    n_off = int(q["offsite_lines"][0])
    state.add_row("off-site circuits in service", f"{n_off} (required "
                  f"{int(q['offsite_lines_required'][0])})")
    state.add_row("diesel generators", f"{int(q['diesel_generators'][0])} operable, "
                  f"fuel {q['diesel_fuel_days'][0]:g} days")
    if "cooling_water_level_m" in q:
        minimum = q.get("cooling_water_min_m")
        state.add_row("cooling water", f"{q['cooling_water_level_m'][0]:.2f} m"
                      + (f" (minimum {minimum[0]:g} m)" if minimum is not None else ""))
    if "staff_on_shift" in q:
        minimum = q.get("staff_minimum")
        state.add_row("staff on shift", f"{int(q['staff_on_shift'][0])}"
                      + (f" (minimum {int(minimum[0])})" if minimum is not None else ""))
    state.add_row("radiation monitoring / comms",
                  f"{'up' if q['radiation_monitoring'][0] else 'DOWN'} / "
                  f"{'up' if q['communications'][0] else 'DOWN'}")
    for u, name in enumerate(env.unit_names):
        state.add_row(f"{name}", MODES[int(env.unit_mode[u, 0])])
    console.print(state)

    rules = Table(title="Rules in force")
    for col in ("rule", "from", "when", "requires"):
        rules.add_column(col)
    for rule, origin in zip(env.rules.rules, env.rules.origins, strict=True):
        rules.add_row(rule.name, origin, rule.when, "; ".join(a.describe() for a in rule.actions))
    for name, why in env.rules.skipped:
        rules.add_row(name, "skipped", why, "", style="dim")
    console.print(rules)

    tl = Table(title="Timeline (UTC)")
    for col in ("from", "to", "what", ""):
        tl.add_column(col)
    for e in timeline(env):
        tl.add_row(when(e.start), when(e.end), e.what, e.text)
    console.print(tl)

    acts = env.rule_activations()
    console.print(
        f"hours restricted: [bold]{int(env.restricted.sum())}[/bold] of {env.hours}; "
        f"mining blocked: [bold]{int((~env.mining_allowed).sum())}[/bold] h; "
        f"on diesel: [bold]{int(env.on_diesel.sum())}[/bold] h"
    )
    if acts:
        console.print("rule activations: " + ", ".join(f"{k} ×{v}" for k, v in acts.items()))
    rec = offsite_power_figures(env)
    by_lines = ", ".join(f"{k} line{'s' if k != '1' else ''}: {h} h"
                         for k, h in rec["hours_by_offsite_lines"].items())
    low = rec["diesel_fuel_days_lowest"]
    console.print(
        f"off-site circuits in service: {by_lines}; diesel fuel at its lowest: "
        f"[bold]{low['days']:g}[/bold] days ({low['at']}); mining allowed by the rules in "
        f"[bold]{rec['share_hours_mining_allowed']:.1%}[/bold] of hours"
    )
