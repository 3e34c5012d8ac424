"""`gridhash compare` and `gridhash settle` in the terminal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from gridhash.pipeline import Run
    from gridhash.scenario.load import LoadedScenario


def compare_agreements(
    loaded: LoadedScenario,
    names: list[str],
    *,
    progress: Callable[..., None] | None = None,
) -> list[dict[str, Any]]:
    """Run the scenario under each agreement; one JSON-ready row per agreement.

    Shortfalls are measured twice: against the scenario's own firm deficit
    (``grid.offtakes[].firm_mw``, the same reference for every agreement:
    ``short_of_scenario_deficit_mwh``) and against the agreement's own obligation
    (its firm energy after its obligations: ``unserved_firm_mwh``).
    """
    from gridhash.accounts import PENALTIES
    from gridhash.pipeline import run_scenario
    from gridhash.scenario.resolve import resolve
    from gridhash.scenario.resolve_agreement import find_agreement
    from gridhash.settlement.statements import settle, totals

    rows = []
    for name in names:
        find_agreement(loaded, name)  # unknown names fail before any work
    deficit = resolve(loaded).offtake_firm_mw  # (O, T) the scenario's, before any agreement
    for name in names:
        if progress:
            progress(f"planning under {name}")
        run = run_scenario(loaded, agreement=name)
        agreement = run.agreement
        assert agreement is not None
        tot = totals(settle(run, agreement))
        t = {k: float(v[0]) for k, v in run.accounts.totals().items()}
        rows.append(
            {
                "agreement": name,
                "description": agreement.description,
                "grid_mwh": {o: round(t[f"grid_mwh:{o}"], 3) for o in run.inputs.offtake_names},
                "unserved_firm_mwh": round(t["unserved_firm_mwh"], 3),
                "short_of_scenario_deficit_mwh": round(
                    float((deficit - run.accounts.flows.delivered[0]).clip(min=0.0).sum()), 3),
                "grid_first": agreement.grid_first,
                "mining_mwh": round(t["mining_mwh"], 3),
                "diesel_mwh": round(t["diesel_mwh"], 3),
                "house_load_unsupplied_mwh": round(t["house_load_unsupplied_mwh"], 3),
                "btc_mined": round(t["btc_mined"], 8),
                "revenue_usd": round(t["revenue_usd"], 2),
                "cost_usd": round(t["cost_usd"], 2),
                "net_usd": round(t["net_usd"], 2),
                "penalty_usd": {p: round(t[f"penalty_usd:{p}"], 2) for p in PENALTIES},
                # The optimizer's figure (money less penalties): not money.
                "optimizer_objective_usd": round(t["objective_usd"], 2),
                "parties": {
                    pid: {
                        "role": agreement.party(pid).role,
                        "revenue_usd": v["revenue_cents"] / 100,
                        "costs_usd": v["costs_cents"] / 100,
                        "btc": v["btc_sats"] / 1e8,
                        "usd_owed": v["usd_owed_cents"] / 100,
                    }
                    for pid, v in tot.items()
                },
            }
        )
        if progress:
            progress(f"planned under {name}", done=True)
    return rows


def print_comparison(console: Console, scenario: str, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    t = Table(title=f"gridhash compare · {scenario}")
    t.add_column("")
    for row in rows:
        t.add_column(row["agreement"], justify="right")
    offtakes = list(rows[0]["grid_mwh"])
    for o in offtakes:
        t.add_row(f"to {o} [GWh]", *(f"{row['grid_mwh'][o] / 1000:,.1f}" for row in rows))
    t.add_row("rule above the obligations",
              *("grid first" if row["grid_first"] else "by value" for row in rows))
    t.add_row("short of the scenario's deficit [GWh]",
              *(f"{row['short_of_scenario_deficit_mwh'] / 1000:,.1f}" for row in rows))
    t.add_row("short of its own obligation [GWh]",
              *(f"{row['unserved_firm_mwh'] / 1000:,.1f}" for row in rows))
    t.add_row("to mining [GWh]", *(f"{row['mining_mwh'] / 1000:,.1f}" for row in rows))
    t.add_row("diesel for house load [GWh]",
              *(f"{row['diesel_mwh'] / 1000:,.1f}" for row in rows))
    t.add_row("BTC mined", *(f"{row['btc_mined']:,.2f}" for row in rows))
    t.add_section()
    t.add_row("plant net (revenue − costs)", *(f"{row['net_usd'] / 1e6:,.2f} M" for row in rows))
    t.add_row("penalty: unserved firm (not money)",
              *(f"{row['penalty_usd']['unserved_firm'] / 1e6:,.2f} M" for row in rows))
    t.add_row("penalty: station blackout (not money)",
              *(f"{row['penalty_usd']['station_blackout'] / 1e6:,.2f} M" for row in rows))
    t.add_section()
    parties: list[str] = []
    for row in rows:
        parties += [p for p in row["parties"] if p not in parties]
    for pid in parties:
        for key, label in (("revenue_usd", "revenue"), ("costs_usd", "costs"),
                           ("btc", "BTC"), ("usd_owed", "USD owed")):
            cells = []
            for row in rows:
                v = row["parties"].get(pid)
                if v is None:
                    cells.append("–")
                elif key == "btc":
                    cells.append(f"{v[key]:,.2f}")
                else:
                    cells.append(f"{v[key] / 1e6:,.2f} M")
            if any(c not in ("–", "0.00 M", "0.00") for c in cells):
                t.add_row(f"{pid}: {label}", *cells)
    console.print(t)
    console.print("Shortfalls: against the scenario's firm deficit (grid.offtakes firm_mw, "
                  "the same for every agreement) and against the agreement's own "
                  "obligations. Money in USD (M = million) over the horizon, from daily "
                  "statements in integer cents and satoshis; see docs/agreements.md.")


def print_settlement(console: Console, run: Run, res: dict[str, Any], folder: Path) -> None:
    from rich.table import Table

    agreement = run.agreement
    assert agreement is not None
    t = Table(title=f"gridhash settle · {run.name} · {agreement.name} · "
                    f"{len(res['periods'])} periods")
    for col in ("party", "role", "energy [GWh]", "revenue [USD]", "costs [USD]", "BTC",
                "USD owed"):
        t.add_column(col, justify="left" if col in ("party", "role") else "right")
    for pid, v in res["totals"].items():
        t.add_row(pid, agreement.party(pid).role, f"{v['entitlement_kwh'] / 1e6:,.1f}",
                  f"{v['revenue_cents'] / 100:,.2f}", f"{v['costs_cents'] / 100:,.2f}",
                  f"{v['btc_sats'] / 1e8:,.8f}", f"{v['usd_owed_cents'] / 100:,.2f}")
    console.print(t)
    console.print(
        f"wrote {folder / 'statements.json'}, {folder / 'statements.csv'}; appended "
        f"{res['entries']} entries to {res['ledger']} (tree size {res['tree_size']}, head signed "
        f"by {', '.join(res['signed_by'])}; key(s) from {res['keys']})"
    )
