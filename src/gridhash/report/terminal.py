"""Tables for the terminal (rich): the run summary and the fleet's economics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: Demand-response curtailments listed per site in the terminal (all in summary.json).
SHOWN_CURTAILMENTS = 3


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
    dr = s.get("demand_response") or {}
    if dr.get("sites"):
        hours = sum(v["curtailed_hours"] for v in dr["sites"].values())
        table.add_row("demand-response revenue", _num(rev["demand_response"] / 1e6, 2),
                      f"million USD ({hours:,} site-hours curtailed)")
        for site, v in dr["sites"].items():  # the site limits: which rule, when
            shown = v.get("curtailments", [])[:SHOWN_CURTAILMENTS]
            for w in shown:
                table.add_row(f"  {site} at 0 MW", f"{w['from']} → {w['to']}", w["why"])
            more = len(v.get("curtailments", [])) - len(shown)
            if more > 0:
                table.add_row(f"  {site} at 0 MW", f"{more:,} more", "summary.json")
    for cat, v in s["cost_breakdown_usd"].items():
        if v:
            table.add_row(f"cost: {cat.replace('_', ' ')}", _num(-v / 1e6, 2), "million USD")
    table.add_row("net (revenue − costs)", _num(s["net_usd"] / 1e6, 2), "million USD")
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
    from gridhash.report.summary import solver_text

    sv = s["solver"]
    table.add_row("solver", f"{sv['name']} {sv['status']}",
                  f"{sv['seconds']:.2f} s, {solver_text(sv, s['hours'])}")
    table.add_row("optimizer objective", _num(sv["objective_usd"] / 1e6, 2),
                  "million USD, net less penalties, fixed costs out")
    console.print(table)
    files = files or ["summary.json", "hourly.parquet", "report.html"]
    console.print(f"outputs in [bold]{escape(str(folder))}[/bold]: {', '.join(files)}")


def economics_rows(
    scenario: str | None,
    *,
    catalogue: bool = False,
    power_price: float | None = None,
    agreement: str | None = None,
) -> tuple[Any, list[dict[str, Any]], str]:
    """The run, one valuation row per ASIC model (:func:`gridhash.pipeline.value_models`,
    the valuation ``gridhash size`` uses too) and what the power price is."""
    from gridhash.pipeline import fleet_use, run_scenario, value_models
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import scenario_models

    loaded = load_scenario(scenario)
    run = run_scenario(loaded, agreement=agreement)
    i = run.inputs
    models = (list(scenario_models(loaded).values()) if catalogue or not i.class_models
              else list(dict.fromkeys(i.class_models)))
    rows = value_models(run, models, power_price=power_price)
    basis = "given" if power_price is not None else fleet_use(run)["power_basis"]
    return run, rows, basis


def print_economics(
    console: Console,
    scenario: str | None,
    *,
    catalogue: bool = False,
    power_price: float | None = None,
    agreement: str | None = None,
) -> None:
    """Print each ASIC model's value over its life as the dispatch runs it.

    One valuation with ``gridhash size``: the uptime (the hours the dispatch mines
    with the model, or with the fleet for a model not in it), the power price the
    fleet pays (the agreement's, or the value of power at the plant in the hours it
    mines: the marginal value of a MW, weighted by the MWh drawn), the scenario's
    BTC price and difficulty growth and the halvings over the machine's life, opex,
    resale value and discounting (:func:`gridhash.bitcoin.economics.lifetime_value`).
    Beside the break-even power price: the break-even hashprice and BTC price (the
    level of the whole path, stated at its first hour, at which NPV is zero).
    """
    import numpy as np

    from gridhash.bitcoin import economics as ec

    run, rows, basis = economics_rows(scenario, catalogue=catalogue, power_price=power_price,
                                      agreement=agreement)
    i = run.inputs
    table = Table(
        title=(
            f"mining economics · {run.name} · from BTC ${i.btc_price_usd[0]:,.0f} and difficulty "
            f"{i.difficulty[0] / 1e12:,.1f} T, growing as the scenario says, halvings by "
            f"height · {round(ec.ASIC_LIFETIME_YEARS)} years at {ec.DISCOUNT_RATE:.0%}, resale "
            f"{ec.RESALE_FRACTION:.0%} · power: {basis}"
        )
    )
    for col in ("model", "TH/s", "J/TH", "cooling", "price USD", "uptime", "power USD/MWh",
                "breakeven USD/MWh", "breakeven hashprice USD/PH/day", "breakeven BTC USD",
                "NPV USD", "payback years"):
        table.add_column(col, justify="left" if col == "model" else "right", overflow="fold")
    for r in rows:
        payback = r["payback_years"]
        table.add_row(
            r["model"],
            _num(r["hashrate_th"], 0),
            _num(r["efficiency_j_per_th"], 1),
            r["cooling"] or "-",  # a user-defined model may not say
            _num(r["price_usd"], 0),
            f"{r['uptime']:.0%}",
            _num(r["power_price_usd_per_mwh"], 1),
            _num(r["breakeven_power_usd_per_mwh"], 1),
            _num(r["breakeven_hashprice_usd_per_ph_day"], 1),
            _num(r["breakeven_btc_usd"], 0),
            _num(r["npv_usd"], 0),
            "never" if not np.isfinite(payback) else _num(payback, 1),
        )
    console.print(table)
    console.print("Uptime and power price come from the scenario's dispatch (a model not in "
                  "the fleet runs when the fleet does); gridhash size values fleets the same "
                  "way.")
