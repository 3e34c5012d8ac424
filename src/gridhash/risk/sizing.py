"""Fleet sizing: which ASIC model, and how many MW of it, to buy.

For each candidate model and size, the scenario's fleet is replaced by that
model at that size (spread over the sites in proportion to their capacity) and
the same stochastic paths are run (common random numbers, so differences
between candidates are not sampling noise).  Each path's first-year mining
cash flow — revenue − opex − the agreement's power price × MWh — is projected
over the machines' life and discounted:

    NPV = Σ_{y=1..L} CF₁ · g^(y−1) · s_y / (1 + r)^y − capex

* ``g``: the scenario's own yearly drift of revenue per hash, (BTC price growth)
  / (difficulty growth), read from the first and last hour of its series;
* ``s_y``: the halving factor, (mean subsidy of year y + fees) / (that of year 1),
  from the block height (the halving schedule in :mod:`gridhash.bitcoin.subsidy`);
* ``capex``: machines × catalogue price (prices flagged as assumptions in the
  catalogue stay assumptions here);
* ``L`` = :data:`gridhash.accounts.fixed.FLEET_LIFETIME_YEARS`, ``r`` = 10 %/yr
  (ASSUMPTION: a merchant-risk discount rate).  Opex and power are held flat.

The choice maximises the mean NPV, or a chosen quantile of it (``quantile=0.05``
for "the best size in a bad year").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.accounts.fixed import FLEET_LIFETIME_YEARS
from gridhash.risk.sweep import sweep

if TYPE_CHECKING:
    from gridhash.scenario.load import LoadedScenario

DISCOUNT_RATE = 0.10


def _with_fleet(loaded: LoadedScenario, model: str, mw: float) -> LoadedScenario:
    """The scenario with its fleet replaced by ``mw`` of ``model`` (cooling included)."""
    from gridhash.bitcoin.catalogue import get_model
    from gridhash.scenario.load import LoadedScenario as Loaded
    from gridhash.scenario.resolve import scenario_models

    sc = loaded.scenario
    asic = get_model(model, scenario_models(loaded))
    sites = sc.mining.sites
    caps = np.array([s.capacity_mw if isinstance(s.capacity_mw, int | float) else 0.0
                     for s in sites], dtype=float)
    if caps.sum() <= 0:
        caps = np.ones(len(sites))
    per_machine = asic.power_w * (1.0 + sc.mining.cooling_overhead) / 1e6
    fleet = []
    for s, share in zip(sites, caps / caps.sum(), strict=True):
        count = int(mw * share / per_machine)
        if count:
            fleet.append({"model": asic.name, "count": count, "site": s.name})
    from gridhash.scenario.models import FleetEntry

    mining = sc.mining.model_copy(update={"fleet": [FleetEntry(**f) for f in fleet]})
    return Loaded(sc.model_copy(update={"mining": mining}), loaded.source, loaded.base_dir, "")


def size_candidates(
    loaded: LoadedScenario, requested: list[str] | None = None, n: int = 3
) -> list[str]:
    """The ASIC models `gridhash size` weighs: only machines on sale when the horizon starts.

    Without ``requested``: the ``n`` most efficient models of the catalogue and
    ``mining.models`` released by the horizon's first day, plus every model the
    scenario defines itself (released by then).  A requested model must be
    known and released by then.

    Raises
    ------
    CatalogueError
        For an unknown model, or one released after the horizon starts.
    """
    from gridhash.bitcoin.catalogue import get_model, released_by
    from gridhash.errors import CatalogueError
    from gridhash.scenario.resolve import scenario_models

    known = scenario_models(loaded)
    start = loaded.scenario.horizon.start.date()
    if requested:
        names = []
        for name in requested:
            m = get_model(name, known)  # an unknown model fails here, naming it
            if not released_by(m, start):
                raise CatalogueError(
                    f"ASIC model {m.name!r} is released {m.released}, after the horizon starts "
                    f"on {start.isoformat()}; `size` offers only machines on sale by then",
                    field="model",
                    value=name,
                    expected=f"a model released by {start.isoformat()}",
                )
            names.append(m.name)
        return list(dict.fromkeys(names))
    on_sale = sorted((m for m in known.values() if released_by(m, start)),
                     key=lambda m: m.efficiency_j_per_th)
    own = [m.name for m in on_sale if m.manufacturer == "user-defined"]
    return list(dict.fromkeys([m.name for m in on_sale[:n]] + own))


def _projection(loaded: LoadedScenario, years: int, rate: float) -> np.ndarray:
    """Discounted multipliers of the first year's cash flow, one per year of life."""
    from gridhash.bitcoin.subsidy import mean_subsidy_btc_per_block
    from gridhash.scenario.resolve import resolve

    i = resolve(loaded)
    T = i.hours
    growth = (i.btc_price_usd[-1] / i.btc_price_usd[0]) / (i.difficulty[-1] / i.difficulty[0])
    g = float(growth) ** (8760.0 / max(T - 1, 1))
    fees = float(np.mean(i.fees_btc_per_block))
    per_year = []
    for y in range(years):
        start = i.start_height + y * 8760 * i.blocks_per_hour
        sub = float(np.mean(mean_subsidy_btc_per_block(start, 8760, i.blocks_per_hour)))
        per_year.append(sub + fees)
    halving = np.array(per_year) / per_year[0]
    y = np.arange(1, years + 1)
    return g ** (y - 1) * halving / (1.0 + rate) ** y


def size_fleet(
    loaded: LoadedScenario,
    *,
    models: list[str],
    mw_levels: list[float],
    paths: int = 50,
    seed: int = 0,
    agreement: str | None = None,
    quantile: float | None = None,
    lifetime_years: float = FLEET_LIFETIME_YEARS,
    discount_rate: float = DISCOUNT_RATE,
    progress: Any = None,
    scenario_line_cuts: bool = False,
) -> dict[str, Any]:
    """Value of every (model, MW) candidate over the same paths, and the best one
    (``scenario_line_cuts``: see :func:`gridhash.risk.sweep.prepare`)."""
    from gridhash.bitcoin.catalogue import get_model
    from gridhash.scenario.resolve import scenario_models

    years = max(1, round(lifetime_years))
    factors = _projection(loaded, years, discount_rate)
    known = scenario_models(loaded)
    rows = []
    for model in models:
        asic = get_model(model, known)
        for mw in mw_levels:
            if mw <= 0:
                rows.append({"model": model, "mw": 0.0, "machines": 0, "capex_usd": 0.0,
                             "npv_mean_usd": 0.0, "npv_p5_usd": 0.0, "npv_p95_usd": 0.0,
                             "objective_usd": 0.0, "btc_mined_mean": 0.0})
                continue
            cand = _with_fleet(loaded, model, mw)
            df = sweep(cand, paths, seed=seed, agreement=agreement,
                       scenario_line_cuts=scenario_line_cuts)
            machines = sum(e.count for e in cand.scenario.mining.fleet)
            capex = machines * asic.price_usd
            cash = (df["mining_revenue_usd"] - df["mining_opex_usd"]
                    - df["mining_power_cost_usd"]).to_numpy(dtype=float)
            npv = cash * factors.sum() - capex
            score = float(np.mean(npv) if quantile is None else np.quantile(npv, quantile))
            rows.append({
                "model": model,
                "mw": float(mw),
                "machines": int(machines),
                "capex_usd": float(capex),
                "npv_mean_usd": float(np.mean(npv)),
                "npv_p5_usd": float(np.quantile(npv, 0.05)),
                "npv_p95_usd": float(np.quantile(npv, 0.95)),
                "objective_usd": score,
                "btc_mined_mean": float(df["btc_mined"].mean()),
            })
            if progress:
                progress(f"{model} · {mw:,.0f} MW")
    best = max(rows, key=lambda r: (r["objective_usd"], -r["mw"]))
    return {
        "criterion": "mean NPV" if quantile is None else f"NPV quantile {quantile:g}",
        "paths": paths,
        "seed": seed,
        "scenario_line_cuts": scenario_line_cuts,
        "lifetime_years": years,
        "discount_rate": discount_rate,
        "factors": factors.tolist(),
        "candidates": rows,
        "best": best,
    }


def render_size_html(scenario: str, result: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    fig = go.Figure()
    by: dict[str, list[dict[str, Any]]] = {}
    for r in result["candidates"]:
        by.setdefault(r["model"], []).append(r)
    for model, rows in by.items():
        rows = sorted(rows, key=lambda r: r["mw"])
        x = [r["mw"] for r in rows]
        fig.add_trace(go.Scatter(x=x, y=[r["npv_mean_usd"] / 1e6 for r in rows],
                                 mode="lines+markers", name=f"{model}: mean"))
        fig.add_trace(go.Scatter(x=x, y=[r["npv_p5_usd"] / 1e6 for r in rows], mode="lines",
                                 line={"dash": "dot"}, name=f"{model}: 5 %"))
    b = result["best"]
    fig.update_layout(
        title=f"Fleet value against size ({result['criterion']}; best: {b['model']}, "
              f"{b['mw']:,.0f} MW)",
        xaxis_title="MW of miners (cooling included)", yaxis_title="NPV, million USD",
        template="plotly_white", height=520,
    )
    body = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gridhash size · "
            f"{scenario}</title></head><body style='font-family:system-ui,sans-serif'>"
            f"<h1>gridhash size · {scenario}</h1>{body}</body></html>\n")
