"""What a run earned, delivered and cost: ``summary.json`` and ``hourly.parquet``.

Energies are MWh (each hourly MW value held for one hour); money is USD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.dispatch.problem import mining_values
from gridhash.report.safety import envelope_columns, safety_summary

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.pipeline import Run

#: Columns every hourly table has, in order, before the per-unit/offtake/class ones.
HOURLY_COLUMNS = (
    "available_mw",
    "generation_mw",
    "imported_mw",
    "house_load_mw",
    "grid_mw",
    "mining_mw",
    "curtailed_mw",
    "unserved_firm_mw",
    "marginal_value_usd_per_mwh",
    "btc_price_usd",
    "difficulty",
    "hashprice_usd_per_ph_day",
    "diesel_mw",
    "house_load_unsupplied_mw",
    "envelope_max_gross_output_mw",
    "envelope_max_net_output_mw",
    "mining_allowed",
    "mining_cap_mw",
    "restriction",
)


def _money(x: float) -> float:
    return round(float(x), 2)


def _energy(x: float) -> float:
    return round(float(x), 6)


def summary(run: Run) -> dict[str, Any]:
    """The run's totals as a JSON-friendly dict (the content of ``summary.json``)."""
    from gridhash.bitcoin.economics import hashprice_usd_per_ph_day

    i, p, r = run.inputs, run.problem, run.result
    btc_rate, gross, _ = mining_values(i)
    available = p.unit_available_mw.sum()
    generated = r.unit_mw.sum()
    grid_rev_by = (p.offtake_price * r.delivered_mw).sum(axis=1)
    mining_rev_by = (gross * r.mining_mw).sum(axis=1)
    btc_by = (btc_rate * r.mining_mw).sum(axis=1)
    opex_by = (i.mining_opex[None, :] * r.mining_mw).sum(axis=1)
    gen_cost_by = (p.unit_cost * r.unit_mw).sum(axis=1)
    import_cost = float((p.import_price * r.imported_mw).sum())
    diesel_cost = float(p.diesel_cost * r.diesel_mw.sum())
    cost = {
        "generation": _money(gen_cost_by.sum()),
        "imports": _money(import_cost),
        "diesel": _money(diesel_cost),
        "mining_opex": _money(opex_by.sum()),
    }
    cost_total = gen_cost_by.sum() + import_cost + diesel_cost + opex_by.sum()
    unserved = float(r.unserved_mw.sum())
    revenue_grid = float(grid_rev_by.sum())
    revenue_mining = float(mining_rev_by.sum())
    hashprice = hashprice_usd_per_ph_day(
        i.difficulty, i.subsidy_btc_per_block, i.fees_btc_per_block, i.btc_price_usd
    )
    return {
        "scenario": run.name,
        "description": run.loaded.scenario.description,
        "start": i.index[0].isoformat(),
        "hours": i.hours,
        "energy_mwh": {
            "available": _energy(available),
            "generated": _energy(generated),
            "imported": _energy(r.imported_mw.sum()),
            "diesel": _energy(r.diesel_mw.sum()),
            "house_load_unsupplied": _energy(r.blackout_mw.sum()),
            "house_load": _energy(p.house_load_mw.sum()),
            "grid": _energy(r.delivered_mw.sum()),
            "mining": _energy(r.mining_mw.sum()),
            "curtailed": _energy(available - generated),
        },
        "revenue_usd": {
            "grid": _money(revenue_grid),
            "mining": _money(revenue_mining),
            "total": _money(revenue_grid + revenue_mining),
        },
        "cost_usd": _money(cost_total),
        "cost_breakdown_usd": cost,
        "btc_mined": round(float(btc_by.sum()), 8),
        "objective_usd": _money(r.objective_usd),
        "unserved_firm_mwh": _energy(unserved),
        "unserved_penalty_usd": _money(unserved * p.unserved_penalty),
        "blackout_penalty_usd": _money(r.blackout_mw.sum() * p.blackout_penalty),
        "safety": safety_summary(run),
        "marginal_value_usd_per_mwh": {
            "mean": _money(r.marginal_value.mean()),
            "median": _money(np.median(r.marginal_value)),
            "min": _money(r.marginal_value.min()),
            "max": _money(r.marginal_value.max()),
        },
        "hashprice_usd_per_ph_day": {
            "mean": _money(np.mean(hashprice)),
            "min": _money(np.min(hashprice)),
            "max": _money(np.max(hashprice)),
        },
        "units": {
            name: {
                "capacity_mw": float(i.unit_capacity_mw[u]),
                "available_mwh": _energy(p.unit_available_mw[u].sum()),
                "generated_mwh": _energy(r.unit_mw[u].sum()),
                "capacity_factor": round(
                    float(r.unit_mw[u].sum() / (i.unit_capacity_mw[u] * i.hours))
                    if i.unit_capacity_mw[u] > 0
                    else 0.0,
                    6,
                ),
                "cost_usd": _money(gen_cost_by[u]),
            }
            for u, name in enumerate(i.unit_names)
        },
        "offtakes": {
            name: {
                "delivered_mwh": _energy(r.delivered_mw[o].sum()),
                "revenue_usd": _money(grid_rev_by[o]),
                "firm_mwh": _energy(p.offtake_firm_mw[o].sum()),
                "unserved_firm_mwh": _energy(r.unserved_mw[o].sum()),
                "average_price_usd_per_mwh": _money(
                    grid_rev_by[o] / r.delivered_mw[o].sum() if r.delivered_mw[o].sum() else 0.0
                ),
            }
            for o, name in enumerate(i.offtake_names)
        },
        "miners": {
            name: {
                "model": i.class_models[k].name,
                "count": int(i.class_count[k]),
                "capacity_mw": round(float(i.class_max_mw[k]), 6),
                "energy_mwh": _energy(r.mining_mw[k].sum()),
                "btc": round(float(btc_by[k]), 8),
                "revenue_usd": _money(mining_rev_by[k]),
                "opex_usd": _money(opex_by[k]),
                "hours_running": int((r.mining_mw[k] > 1e-6).sum()),
            }
            for k, name in enumerate(i.class_names)
        },
        "solver": {
            "name": r.solver,
            "status": r.status,
            "seconds": round(r.seconds, 4),
            "build_seconds": round(r.build_seconds, 4),
            "solve_seconds": round(r.solve_seconds, 4),
        },
        "assumptions": list(run.loaded.scenario.assumptions),
    }


def hourly_frame(run: Run) -> pd.DataFrame:
    """One row per hour: the totals of HOURLY_COLUMNS, then ``unit:<name>``,
    ``offtake:<name>`` and ``miner:<name>`` columns (MW), indexed by UTC time."""
    import pandas as pd

    from gridhash.bitcoin.economics import hashprice_usd_per_ph_day

    i, p, r = run.inputs, run.problem, run.result
    available = p.unit_available_mw.sum(axis=0)
    generation = r.generation_mw
    cols: dict[str, np.ndarray] = {
        "available_mw": available,
        "generation_mw": generation,
        "imported_mw": r.imported_mw,
        "house_load_mw": p.house_load_mw,
        "grid_mw": r.grid_mw,
        "mining_mw": r.total_mining_mw,
        "curtailed_mw": available - generation,
        "unserved_firm_mw": r.unserved_mw.sum(axis=0),
        "marginal_value_usd_per_mwh": r.marginal_value,
        "btc_price_usd": i.btc_price_usd,
        "difficulty": i.difficulty,
        "hashprice_usd_per_ph_day": hashprice_usd_per_ph_day(
            i.difficulty, i.subsidy_btc_per_block, i.fees_btc_per_block, i.btc_price_usd
        ),
        "diesel_mw": r.diesel_mw,
        "house_load_unsupplied_mw": r.blackout_mw,
        **envelope_columns(run),
    }
    for u, name in enumerate(i.unit_names):
        cols[f"unit:{name}"] = r.unit_mw[u]
    for o, name in enumerate(i.offtake_names):
        cols[f"offtake:{name}"] = r.delivered_mw[o]
        cols[f"price:{name}"] = p.offtake_price[o]
    for k, name in enumerate(i.class_names):
        cols[f"miner:{name}"] = r.mining_mw[k]
    frame = pd.DataFrame(cols, index=i.index.rename("time"))
    return frame
