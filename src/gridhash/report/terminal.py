"""Tables for the terminal (rich): the run summary and the fleet's economics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def print_summary(console: Console, s: dict[str, Any], folder: Path, *,
                  files: list[str] | None = None) -> None:
    """Print the run's summary: energy (balanced, diesel included), money (net of
    costs), each penalty on its own line, BTC, the solver, and the files written."""
    e, rev = s["energy_mwh"], s["revenue_usd"]
    table = Table(title=f"gridhash run · {s['scenario']} · {s['hours']:,} h from {s['start'][:10]}")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    table.add_column("", style="dim")
    for label, key in (
        ("available", "available"),
        ("generated", "generated"),
        ("imported for house load", "imported"),
        ("diesel for house load", "diesel"),
        ("house load unsupplied (blackout)", "house_load_unsupplied"),
        ("house load", "house_load"),
        ("to the grid", "grid"),
        ("to mining", "mining"),
        ("curtailed", "curtailed"),
    ):
        table.add_row(label, _num(e[key] / 1000, 1), "GWh")
    table.add_row("unserved firm obligation", _num(s["unserved_firm_mwh"] / 1000, 3), "GWh")
    table.add_row("plant capacity factor", f"{s['capacity_factor']:.1%}", "of all units")
    table.add_section()
    table.add_row("grid revenue", _num(rev["grid"] / 1e6, 2), "million USD")
    table.add_row("mining revenue", _num(rev["mining"] / 1e6, 2), "million USD")
    for cat, v in s["cost_breakdown_usd"].items():
        if v:
            table.add_row(f"cost: {cat.replace('_', ' ')}", _num(-v / 1e6, 2), "million USD")
    table.add_row("net (revenue − costs)", _num(s["net_usd"] / 1e6, 2), "million USD")
    dr = s.get("demand_response") or {}
    if dr.get("sites"):
        hours = sum(v["curtailed_hours"] for v in dr["sites"].values())
        table.add_row("demand-response payments", _num(dr["revenue_usd"] / 1e6, 2),
                      f"million USD, not in net above ({hours:,} site-hours curtailed)")
    table.add_row("BTC mined", _num(s["btc_mined"], 2), "BTC")
    table.add_section()
    pen = s["penalty_usd"]
    table.add_row("penalty: unserved firm energy", _num(pen["unserved_firm"] / 1e6, 2),
                  "million USD, not money")
    table.add_row("penalty: station blackout", _num(pen["station_blackout"] / 1e6, 2),
                  "million USD, not money")
    hs = s["hours_by_state"]
    table.add_row("hours restricted / on diesel / in blackout",
                  f"{hs['restricted']:,} / {hs['on_diesel']:,} / {hs['station_blackout']:,}", "h")
    mv = s["marginal_value_usd_per_mwh"]
    table.add_row("marginal value at plant", f"{mv['median']:,.1f}", "USD/MWh, median")
    table.add_section()
    sv = s["solver"]
    table.add_row("solver", f"{sv['name']} {sv['status']}", f"{sv['seconds']:.2f} s")
    table.add_row("optimizer objective", _num(sv["objective_usd"] / 1e6, 2),
                  "million USD, net less penalties, fixed costs out")
    console.print(table)
    files = files or ["summary.json", "hourly.parquet", "report.html"]
    console.print(f"outputs in [bold]{escape(str(folder))}[/bold]: {', '.join(files)}")


def print_economics(
    console: Console,
    scenario: str | None,
    *,
    catalogue: bool = False,
    power_price: float | None = None,
) -> None:
    """Print breakeven, revenue per day and payback per ASIC model.

    Uses the scenario's first-hour Bitcoin figures. The power is valued at
    ``power_price`` or, by default, at the median over the hours of the marginal
    value of a MW at the plant from the scenario's optimal dispatch: what the
    scenario says a MWh is worth there (grid price when the grid takes it, less
    when it would be curtailed).  The median, not the mean: in the hours when a firm
    obligation goes unserved (a line cut, a shutdown) the marginal value is the
    penalty, thousands of USD/MWh, which would swamp a mean.
    """
    import numpy as np

    from gridhash.bitcoin.economics import (
        breakeven_power_price_usd_per_mwh,
        payback_days,
        revenue_usd_per_day,
    )
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import resolve, scenario_models

    loaded = load_scenario(scenario)
    i = resolve(loaded)
    if power_price is None:
        from gridhash.pipeline import run_scenario

        marginal = run_scenario(loaded).result.marginal_value
        power_value = float(np.median(marginal))
        basis = "median marginal value at the plant"
    else:
        power_value = power_price
        basis = "given"
    d, sub, fees, price = (
        float(i.difficulty[0]),
        float(i.subsidy_btc_per_block[0]),
        float(i.fees_btc_per_block[0]),
        float(i.btc_price_usd[0]),
    )
    opex = float(np.mean(i.mining_opex))
    models = (
        list(scenario_models(loaded).values())
        if catalogue or not i.class_models
        else list(dict.fromkeys(i.class_models))
    )
    table = Table(
        title=(
            f"mining economics · {loaded.name} · BTC ${price:,.0f}, difficulty {d / 1e12:,.1f} T, "
            f"subsidy {sub:g} + fees {fees:g} BTC/block, power at ${power_value:,.1f}/MWh ({basis})"
        )
    )
    for col in (
        "model",
        "TH/s",
        "W",
        "J/TH",
        "price USD",
        "breakeven USD/MWh",
        "revenue USD/day",
        "power+opex USD/day",
        "payback days",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    common = dict(
        difficulty=d,
        subsidy_btc=sub,
        fees_btc_per_block=fees,
        btc_price_usd=price,
        pool_fee=i.pool_fee,
    )
    for m in models:
        breakeven = breakeven_power_price_usd_per_mwh(
            m.efficiency_j_per_th,
            cooling_overhead=i.cooling_overhead,
            opex_usd_per_mwh=opex,
            **common,
        )
        revenue = revenue_usd_per_day(m.hashrate_th, **common)
        power = m.power_w * (1 + i.cooling_overhead) * 24 / 1e6 * (power_value + opex)
        payback = payback_days(
            m.price_usd,
            m.hashrate_th,
            m.power_w,
            power_price_usd_per_mwh=power_value,
            cooling_overhead=i.cooling_overhead,
            opex_usd_per_mwh=opex,
            **common,
        )
        table.add_row(
            m.name,
            _num(m.hashrate_th, 0),
            _num(m.power_w, 0),
            _num(m.efficiency_j_per_th, 1),
            _num(m.price_usd, 0),
            _num(float(breakeven), 1),
            _num(float(revenue), 2),
            _num(power, 2),
            "never" if not np.isfinite(payback) else _num(float(payback), 0),
        )
    console.print(table)
