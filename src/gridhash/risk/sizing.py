"""Fleet sizing: which ASIC model, and how many MW of it, to buy.

For each candidate model and size, the scenario's fleet is replaced by that
model at that size (spread over the sites in proportion to their capacity) and
the same stochastic paths are run (common random numbers, so differences
between candidates are not sampling noise).  Each path's first year — revenue,
MWh mined and opex as dispatched — is valued over the machines' life by
:func:`gridhash.bitcoin.economics.lifetime_value`, the valuation ``gridhash
economics`` uses too:

    NPV = Σ_{y=1..L} (R₁ f_y − E₁ (c_power + c_opex)) / (1 + r)^y − capex + ρ capex / (1 + r)^L

* ``f_y``: revenue per hash of year y relative to year 1
  (:func:`gridhash.bitcoin.economics.revenue_factors`): the scenario's BTC price
  over difficulty drift, read from the first and last hour of its series, and the
  halvings by block height;
* ``c_power``: what the fleet pays for a MWh: the agreement's power price, or
  without an agreement the value of power at the plant in the hours the candidate
  mines (its dispatch of the scenario's own year: the marginal value of a MW
  weighted by the MWh drawn), as ``gridhash economics`` values it;
* ``capex``: machines × catalogue price (prices flagged as assumptions in the
  catalogue stay assumptions here); ``ρ`` the resale fraction;
* ``L``, ``r``, ``ρ``: :data:`~gridhash.bitcoin.economics.ASIC_LIFETIME_YEARS` (the
  accounts' :data:`gridhash.accounts.fixed.FLEET_LIFETIME_YEARS` too),
  :data:`~gridhash.bitcoin.economics.DISCOUNT_RATE`,
  :data:`~gridhash.bitcoin.economics.RESALE_FRACTION` (assumptions).

The choice maximises the mean NPV, or a chosen quantile of it (``quantile=0.05``
for "the best size in a bad year"); when no candidate has a positive value the
choice is to buy nothing (``best.model`` is null).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.accounts.fixed import FLEET_LIFETIME_YEARS
from gridhash.bitcoin.economics import DISCOUNT_RATE, RESALE_FRACTION
from gridhash.risk.sweep import sweep

if TYPE_CHECKING:
    from gridhash.scenario.load import LoadedScenario



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


def _factors(loaded: LoadedScenario, years: int) -> np.ndarray:
    """Revenue per hash of each year of life relative to the first (undiscounted)."""
    from gridhash.bitcoin.economics import revenue_factors, revenue_growth_per_year
    from gridhash.scenario.resolve import resolve

    i = resolve(loaded)
    return revenue_factors(i.start_height, i.blocks_per_hour, float(np.mean(i.fees_btc_per_block)),
                           revenue_growth_per_year(i.btc_price_usd, i.difficulty), years)


def _projection(loaded: LoadedScenario, years: int, rate: float) -> np.ndarray:
    """Discounted multipliers of the first year's revenue, one per year of life."""
    y = np.arange(1, years + 1)
    return _factors(loaded, years) / (1.0 + rate) ** y


def choice_text(best: dict[str, Any]) -> str:
    """The choice in words, the same in the terminal, size.json and the chart's title."""
    if best.get("model") is None or best["mw"] <= 0:
        return "buy nothing: no candidate has a positive value"
    return f"{best['model']}, {best['mw']:,.0f} MW ({best['machines']:,} machines)"


def _fleet_power_price(cand: LoadedScenario) -> float:
    """Without an agreement: the value of power at the plant in the hours the candidate
    mines, from its dispatch of the scenario's own year (as ``gridhash economics``)."""
    from gridhash.pipeline import fleet_use, run_scenario

    return float(fleet_use(run_scenario(cand))["fleet_power_price"])


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
    resale_fraction: float = RESALE_FRACTION,
    progress: Any = None,
    scenario_line_cuts: bool = False,
) -> dict[str, Any]:
    """Value of every (model, MW) candidate over the same paths, and the best one
    (``scenario_line_cuts``: see :func:`gridhash.risk.sweep.prepare`)."""
    from gridhash.bitcoin.catalogue import get_model
    from gridhash.bitcoin.economics import lifetime_value
    from gridhash.scenario.resolve import scenario_models

    years = max(1, round(lifetime_years))
    factors = _factors(loaded, years)
    known = scenario_models(loaded)
    empty = {"capex_usd": 0.0, "npv_mean_usd": 0.0, "npv_p5_usd": 0.0, "npv_p95_usd": 0.0,
             "objective_usd": 0.0, "btc_mined_mean": 0.0, "uptime_mean": 0.0,
             "power_price_usd_per_mwh": None, "breakeven_power_usd_per_mwh": None,
             "breakeven_hashprice_usd_per_ph_day": None, "breakeven_btc_usd": None}
    rows = []
    hours = None
    for model in models:
        asic = get_model(model, known)
        for mw in mw_levels:
            if mw <= 0:
                rows.append({"model": model, "mw": 0.0, "machines": 0, **empty})
                continue
            cand = _with_fleet(loaded, model, mw)
            df = sweep(cand, paths, seed=seed, agreement=agreement,
                       scenario_line_cuts=scenario_line_cuts)
            if hours is None:
                from gridhash.scenario.resolve import resolve

                i0 = resolve(cand)
                hours = i0.hours
                hashprice0 = _hashprice0(i0)
                btc0 = float(i0.btc_price_usd[0])
            per_year = 8760.0 / hours
            machines = sum(e.count for e in cand.scenario.mining.fleet)
            capex = machines * asic.price_usd
            mwh = df["mining_mwh"].to_numpy(dtype=float)
            revenue = df["mining_revenue_usd"].to_numpy(dtype=float)
            safe = np.where(mwh > 0, mwh, 1.0)
            opex = np.where(mwh > 0, df["mining_opex_usd"].to_numpy(dtype=float) / safe, 0.0)
            if agreement is not None:
                power = np.where(mwh > 0, df["mining_power_cost_usd"].to_numpy(dtype=float)
                                 / safe, 0.0)
            else:
                power = np.full(len(df), _fleet_power_price(cand))
            v = lifetime_value(revenue * per_year, mwh * per_year, capex,
                               power_price_usd_per_mwh=power, factors=factors,
                               opex_usd_per_mwh=opex, discount_rate=discount_rate,
                               resale_fraction=resale_fraction)
            npv = np.asarray(v.npv_usd, dtype=float)
            # Break-evens over the paths that mine: a path that mines nothing has none
            # (no power price or BTC price makes idle machines pay); null if none mines.
            scale = _finite_mean(v.breakeven_revenue_scale)
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
                "uptime_mean": float(np.mean(mwh) / (mw * hours)),
                "power_price_usd_per_mwh": float(np.mean(power)),
                "breakeven_power_usd_per_mwh": _finite_mean(v.breakeven_power_usd_per_mwh),
                "breakeven_hashprice_usd_per_ph_day": None if scale is None else scale * hashprice0,
                "breakeven_btc_usd": None if scale is None else scale * btc0,
            })
            if progress:
                progress(f"{model} · {mw:,.0f} MW")
    best = max(rows, key=lambda r: (r["objective_usd"], -r["mw"]))
    if best["mw"] <= 0 or best["objective_usd"] <= 0:
        best = {"model": None, "mw": 0.0, "machines": 0, **empty}
    return {
        "criterion": "mean NPV" if quantile is None else f"NPV quantile {quantile:g}",
        "paths": paths,
        "seed": seed,
        "scenario_line_cuts": scenario_line_cuts,
        "lifetime_years": years,
        "discount_rate": discount_rate,
        "resale_fraction": resale_fraction,
        "power_price_basis": ("the agreement's power price" if agreement is not None else
                              "value of power at the plant in the hours the fleet mines"),
        "factors": (factors / (1.0 + discount_rate) ** np.arange(1, years + 1)).tolist(),
        "candidates": rows,
        "best": best,
        "choice": choice_text(best),
    }


def _finite_mean(x: Any) -> float | None:
    """The mean of the finite values of ``x``; None when there are none."""
    a = np.asarray(x, dtype=float).reshape(-1)
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else None


def _hashprice0(i: Any) -> float:
    from gridhash.bitcoin.economics import hashprice_usd_per_ph_day

    return float(hashprice_usd_per_ph_day(i.difficulty[0], i.subsidy_btc_per_block[0],
                                          i.fees_btc_per_block[0], i.btc_price_usd[0],
                                          i.pool_fee))


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
    fig.update_layout(
        title=f"Fleet value against size ({result['criterion']}; best: "
              f"{choice_text(result['best'])})",
        xaxis_title="MW of miners (cooling included)", yaxis_title="NPV, million USD",
        template="plotly_white", height=520,
    )
    body = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>gridhash size · "
            f"{scenario}</title></head><body style='font-family:system-ui,sans-serif'>"
            f"<h1>gridhash size · {scenario}</h1>{body}</body></html>\n")
