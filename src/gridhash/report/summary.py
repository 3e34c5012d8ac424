"""What a run earned, delivered and cost: ``summary.json`` and ``hourly.parquet``.

Both read the run's accounts (:mod:`gridhash.accounts`); nothing here adds up a
dispatch.  Energies are MWh (each hourly MW value held for one hour); money is
USD; penalties are USD too but never money.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.report.safety import envelope_columns, safety_summary

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.pipeline import Run
    from gridhash.scenario.resolve import Inputs

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
    "revenue_usd",
    "cost_usd",
    "net_usd",
    "penalty_usd:unserved_firm",
    "penalty_usd:station_blackout",
    "btc_mined",
)


def _money(x: float) -> float:
    return round(float(x), 2)


def _energy(x: float) -> float:
    return round(float(x), 6)


#: Lines of summary.json's ``monthly`` table (:meth:`gridhash.accounts.Accounts.by`).
MONTHLY_LINES = (
    "generated_mwh", "grid_mwh", "mining_mwh", "diesel_mwh", "unserved_firm_mwh",
    "house_load_unsupplied_mwh", "revenue_usd", "cost_usd", "net_usd",
    "penalty_usd:unserved_firm", "penalty_usd:station_blackout", "btc_mined",
    "hours_restricted", "hours_station_blackout",
)


def _round(name: str, x: float) -> float | int:
    if name.startswith("hours_"):
        return int(x)
    if name.startswith("btc"):
        return round(float(x), 8)
    return _energy(x) if "_mwh" in name else _money(x)


def summary(run: Run) -> dict[str, Any]:
    """The run's totals as a JSON-friendly dict (the content of ``summary.json``),
    read from its accounts (:mod:`gridhash.accounts`): money (revenue − costs =
    net) and penalties apart."""
    from gridhash.accounts import COST_CATEGORIES, ENERGY_LINES, PENALTIES
    from gridhash.bitcoin.economics import hashprice_usd_per_ph_day

    i, p, r, acc = run.inputs, run.problem, run.result, run.accounts
    t = {k: v[0] for k, v in acc.totals().items()}
    hashprice = hashprice_usd_per_ph_day(
        i.difficulty, i.subsidy_btc_per_block, i.fees_btc_per_block, i.btc_price_usd
    )
    months, monthly = acc.by("month", MONTHLY_LINES)
    return {
        "scenario": run.name,
        "description": run.loaded.scenario.description,
        "start": i.index[0].isoformat(),
        "hours": i.hours,
        "energy_mwh": {name: _energy(t[f"{name}_mwh"]) for name in ENERGY_LINES},
        "revenue_usd": {
            "grid": _money(t["grid_revenue_usd"]),
            "mining": _money(t["mining_revenue_usd"]),
            "demand_response": _money(t["demand_response_revenue_usd"]),
            "total": _money(t["revenue_usd"]),
        },
        "cost_usd": _money(t["cost_usd"]),
        "cost_breakdown_usd": {c: _money(t[f"cost_usd:{c}"]) for c in COST_CATEGORIES},
        "net_usd": _money(t["net_usd"]),
        "penalty_usd": {name: _money(t[f"penalty_usd:{name}"]) for name in PENALTIES},
        "btc_mined": round(float(t["btc_mined"]), 8),
        "capacity_factor": round(float(t["capacity_factor"]), 6),
        "unserved_firm_mwh": _energy(t["unserved_firm_mwh"]),
        "hours_by_state": {
            name: int(t[f"hours_{name}"])
            for name in ("restricted", "mining_blocked", "on_diesel", "station_blackout")
        },
        "monthly": {
            label: {name: _round(name, monthly[name][0, m]) for name in MONTHLY_LINES}
            for m, label in enumerate(months)
        },
        "safety": safety_summary(run),
        "demand_response": demand_response_summary(i, t["demand_response_revenue_usd"]),
        "marginal_value_usd_per_mwh": {
            "mean": _money(r.marginal_value_usd_per_mwh.mean()),
            "median": _money(np.median(r.marginal_value_usd_per_mwh)),
            "min": _money(r.marginal_value_usd_per_mwh.min()),
            "max": _money(r.marginal_value_usd_per_mwh.max()),
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
                "generated_mwh": _energy(t[f"generated_mwh:{name}"]),
                "capacity_factor": round(float(t[f"capacity_factor:{name}"]), 6),
                "cost_usd": _money(t[f"cost_usd:generation:{name}"]),
            }
            for u, name in enumerate(i.unit_names)
        },
        "offtakes": {
            name: {
                "delivered_mwh": _energy(t[f"grid_mwh:{name}"]),
                "revenue_usd": _money(t[f"grid_revenue_usd:{name}"]),
                "firm_mwh": _energy(p.offtake_firm_mw[o].sum()),
                "unserved_firm_mwh": _energy(r.unserved_mw[o].sum()),
                "average_price_usd_per_mwh": _money(
                    t[f"grid_revenue_usd:{name}"] / t[f"grid_mwh:{name}"]
                    if t[f"grid_mwh:{name}"] else 0.0
                ),
            }
            for o, name in enumerate(i.offtake_names)
        },
        "miners": {
            name: {
                "model": i.class_models[k].name,
                "count": int(i.class_count[k]),
                "capacity_mw": round(float(i.class_max_mw[k]), 6),
                "energy_mwh": _energy(t[f"mining_mwh:{name}"]),
                "btc": round(float(t[f"btc_mined:{name}"]), 8),
                "revenue_usd": _money(t[f"mining_revenue_usd:{name}"]),
                "opex_usd": _money(t[f"mining_opex_usd:{name}"]),
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
            # How the optimum was found: certified by the ramp rows without any LP, or
            # with LP solutions for lp_hours of the hours (all of them: --solver lp).
            "certified": bool(r.certified),
            "lp_hours": int(i.hours if r.lp_hours is None else r.lp_hours),
            # The optimizer's own figure: revenue − variable costs − penalties.  Not
            # money (the penalties are not paid); see net_usd and penalty_usd.
            "objective_usd": _money(t["objective_usd"]),
        },
        "assumptions": list(run.loaded.scenario.assumptions),
    }


def solver_text(solver: dict[str, Any], hours: int) -> str:
    """How summary.json's ``solver`` found the optimum, in words: ``"certified, no LP"``,
    ``"LP in 37 of 8,760 h"`` or ``"one LP of all 8,760 h"``."""
    if solver["certified"]:
        return "certified, no LP"
    if solver["lp_hours"] >= hours and solver["name"] == "highs":
        return f"one LP of all {hours:,} h"
    return f"LP in {solver['lp_hours']:,} of {hours:,} h"


def demand_response_summary(i: Inputs, revenue_usd: float) -> dict[str, Any]:
    """Demand-response hours per site and reason, each curtailment (from, to, hours by
    reason, and why it began: the rule and its levels), and each site's programme payments
    (capacity held available, energy curtailed on call).  The dispatch treats the rule's
    hours as a site limit; the payments, which no dispatch decision changes, are the
    accounts' ``demand_response_revenue_usd`` (``revenue_usd``), whose total is
    ``revenue_usd`` here. [USD]"""
    from gridhash.demand_response import REASONS
    from gridhash.safety.envelope import spans
    from gridhash.scenario.resolve import site_limits
    from gridhash.scenario.series import hour_stamp

    sites = {}
    limits = site_limits(i) if i.site_dr_codes.any() else {}
    for s_, name in enumerate(i.site_names):
        codes = i.site_dr_codes[s_]
        if not codes.any() and not i.site_dr_availability_usd[s_].any():
            continue
        why = limits.get(name) or []
        windows = []
        for a, b in spans(codes != 0):
            details = [why[t]["detail"] for t in range(a, b)
                       if why[t] and why[t]["constraint"] == "demand_response"]
            windows.append({
                "from": hour_stamp(i.index, a), "to": hour_stamp(i.index, b), "hours": b - a,
                "hours_by_reason": {REASONS[c]: int((codes[a:b] == c).sum())
                                    for c in sorted(set(codes[a:b].tolist()))},
                # the rule that began it (which rule, its levels, hours above the strike)
                "why": details[0] if details else REASONS[int(codes[a])],
            })
        sites[name] = {
            "curtailed_hours": int((codes != 0).sum()),
            "hours_by_reason": {REASONS[c]: int((codes == c).sum())
                                for c in sorted(set(codes.tolist()) - {0})},
            "curtailments": windows,
            "availability_usd": _money(i.site_dr_availability_usd[s_].sum()),
            "curtailed_on_call_usd": _money(i.site_dr_energy_usd[s_].sum()),
        }
    return {"sites": sites, "revenue_usd": _money(revenue_usd)}


def hourly_frame(run: Run) -> pd.DataFrame:
    """One row per hour: the totals of HOURLY_COLUMNS, then ``unit:<name>``,
    ``offtake:<name>`` and ``miner:<name>`` columns (MW), indexed by UTC time."""
    import pandas as pd

    from gridhash.bitcoin.economics import hashprice_usd_per_ph_day

    i, p, r, acc = run.inputs, run.problem, run.result, run.accounts

    def line(name: str) -> np.ndarray:
        return acc.hourly(name)[0]

    cols: dict[str, np.ndarray] = {
        "available_mw": line("available_mwh"),
        "generation_mw": line("generated_mwh"),
        "imported_mw": line("imported_mwh"),
        "house_load_mw": line("house_load_mwh"),
        "grid_mw": line("grid_mwh"),
        "mining_mw": line("mining_mwh"),
        "curtailed_mw": line("curtailed_mwh"),
        "unserved_firm_mw": line("unserved_firm_mwh"),
        "marginal_value_usd_per_mwh": r.marginal_value_usd_per_mwh,
        "btc_price_usd": i.btc_price_usd,
        "difficulty": i.difficulty,
        "hashprice_usd_per_ph_day": hashprice_usd_per_ph_day(
            i.difficulty, i.subsidy_btc_per_block, i.fees_btc_per_block, i.btc_price_usd
        ),
        "diesel_mw": line("diesel_mwh"),
        "house_load_unsupplied_mw": line("house_load_unsupplied_mwh"),
        **envelope_columns(run),
        "revenue_usd": line("revenue_usd"),
        "cost_usd": line("cost_usd"),
        "net_usd": line("net_usd"),
        "penalty_usd:unserved_firm": line("penalty_usd:unserved_firm"),
        "penalty_usd:station_blackout": line("penalty_usd:station_blackout"),
        "btc_mined": line("btc_mined"),
    }
    for u, name in enumerate(i.unit_names):
        cols[f"unit:{name}"] = r.unit_mw[u]
    for o, name in enumerate(i.offtake_names):
        cols[f"offtake:{name}"] = r.delivered_mw[o]
        cols[f"price:{name}"] = p.offtake_price_usd_per_mwh[o]
    for k, name in enumerate(i.class_names):
        cols[f"miner:{name}"] = r.mining_mw[k]
    frame = pd.DataFrame(cols, index=i.index.rename("time"))
    return frame
