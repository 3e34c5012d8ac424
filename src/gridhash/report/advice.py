"""Warnings where a scenario is legal but probably not what its author meant.

Each warning is one sentence for people: what was found, how big it is, and
why it matters.  Nothing here changes a result; the CLI prints the warnings on
stderr and ``summary.json`` lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gridhash.pipeline import Run
    from gridhash.scenario.resolve import Inputs

#: House load above this fraction of the plant's net capacity is flagged.  A
#: power plant's own use is typically a few per cent of its output (nuclear
#: 4-7 %, coal 5-10 %); a third is far beyond any of them (assumption).
HOUSE_LOAD_FRACTION = 1 / 3


def _stamp(inputs: Inputs, t: int) -> str:
    return inputs.index[t].strftime("%Y-%m-%dT%H:%MZ")


def fleet_beyond_site(inputs: Inputs) -> list[str]:
    """Sites whose fleet draws more than the site can ever supply.

    The site's largest capacity over the horizon is what it could ever feed; the
    machines beyond it never run.  They are counted from the least efficient
    class up (the dispatch runs the most efficient machines first), at their
    catalogue price.
    """
    out = []
    per_machine = np.array([m.power_w for m in inputs.class_models], dtype=float)
    per_machine = per_machine * (1.0 + inputs.cooling_overhead) / 1e6  # MW, cooling included
    for s, site in enumerate(inputs.site_names):
        classes = np.flatnonzero(inputs.class_site == s)
        fleet_mw = float(inputs.class_max_mw[classes].sum())
        room = float(inputs.site_capacity_mw[s].max()) if inputs.hours else 0.0
        if fleet_mw <= room * (1 + 1e-9) or fleet_mw <= 0:
            continue
        excess = fleet_mw - room
        idle, cost = 0, 0.0
        worst_first = sorted(classes, key=lambda k: -inputs.class_efficiency[k])
        for k in worst_first:
            if excess <= 1e-9 or per_machine[k] <= 0:
                break
            n = min(int(inputs.class_count[k]), int(np.ceil(excess / per_machine[k] - 1e-9)))
            idle += n
            cost += n * inputs.class_models[k].price_usd
            excess -= n * per_machine[k]
        out.append(
            f"site {site}: its fleet draws up to {fleet_mw:,.1f} MW (cooling included) but "
            f"the site never supplies more than {room:,.1f} MW, so about {idle:,} machines "
            f"never run: {cost / 1e6:,.1f} M USD of hardware at catalogue prices "
            "(mining.fleet counts, or the site's capacity_mw)"
        )
    return out


def house_load_too_high(inputs: Inputs) -> list[str]:
    """House load above :data:`HOUSE_LOAD_FRACTION` of the plant's net capacity."""
    plant = float(inputs.unit_capacity_mw.sum())
    if inputs.hours == 0:
        return []
    t = int(np.argmax(inputs.house_load_mw))
    peak = float(inputs.house_load_mw[t])
    if plant <= 0 or peak <= HOUSE_LOAD_FRACTION * plant:
        return []
    return [
        f"plant.house_load_mw reaches {peak:,.0f} MW at {_stamp(inputs, t)}, "
        f"{peak / plant:.0%} of the plant's {plant:,.0f} MW net capacity; a plant's own use "
        f"is usually a few per cent of it (flagged above {HOUSE_LOAD_FRACTION:.0%}): "
        "is it in MW, and net of the units' own use?"
    ]


def mining_outbids_grid(run: Run) -> list[str]:
    """Hours when mining's value exceeds an offtake's price while it has headroom.

    The dispatch serves each offtake's firm obligation before any mining; above
    it, a MW goes wherever it is worth more.  Where the price paid by an offtake
    (under the agreement, if one applies) is below what a running miner earns,
    mining takes the power the offtake would have taken.  Under an agreement with
    ``grid_first = true`` every offtake comes before mining whatever the prices
    (:mod:`gridhash.dispatch.problem`): nothing to warn about.
    """
    p = run.problem
    if p.class_value_usd_per_mwh.size == 0 or p.grid_first:
        return []
    running = p.class_cap_mw > 0
    # (T,) the best miner's value
    best = np.where(running, p.class_value_usd_per_mwh, -np.inf).max(axis=0)
    out = []
    who = f"agreement {run.agreement.name}" if run.agreement is not None else "the scenario"
    for o, name in enumerate(p.offtake_names):
        headroom = p.offtake_cap_mw[o] > p.offtake_firm_mw[o] + 1e-9
        beaten = headroom & (best > p.offtake_price_usd_per_mwh[o])
        n = int(beaten.sum())
        if n == 0:
            continue
        t = int(np.argmax(beaten))
        gap = float((best - p.offtake_price_usd_per_mwh[o])[beaten].max())
        out.append(
            f"offtake {name}: in {n:,} of {p.hours:,} hours (the first: {p.when(t)}) "
            f"mining is worth more than the price "
            f"{name} pays in {who} (by up to {gap:,.1f} USD/MWh), so above its firm "
            f"obligation the power goes to mining, not to {name}: only firm_mw comes "
            "first (an agreement's grid_first = true puts every offtake first)"
        )
    return out


def warnings_for(run: Run) -> list[str]:
    """Every warning about a run's scenario, in the order of the scenario's parts."""
    return [
        *house_load_too_high(run.inputs),
        *fleet_beyond_site(run.inputs),
        *mining_outbids_grid(run),
    ]
