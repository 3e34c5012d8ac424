"""``report.html``: one self-contained page with the run's charts (plotly).

plotly.js is embedded once in the page, so the report opens offline and can be
mailed as a single file.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.dispatch.problem import mining_values

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from gridhash.pipeline import Run

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;color:#1d2733;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem}
.sub{color:#5b6773;margin-top:0} table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .8rem;border-bottom:1px solid #e3e7eb;text-align:right}
td:first-child,th:first-child{text-align:left} .kpis{display:flex;flex-wrap:wrap;gap:1rem}
.kpi{background:#f4f6f8;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.kpi b{display:block;font-size:1.3rem} ul{color:#3a4652}
"""


def _resample(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Daily means for long runs (a year of hourly points is unreadable), else hourly."""
    if len(frame) > 24 * 21:
        return frame.resample("D").mean(), "daily mean"
    return frame, "hourly"


def _dispatch_stack(run: Run, hourly: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    i = run.inputs
    cols = ["house_load_mw"] + [f"offtake:{n}" for n in i.offtake_names]
    cols += [f"miner:{n}" for n in i.class_names] + ["curtailed_mw"]
    data, how = _resample(hourly[[*cols, "available_mw", "imported_mw"]])
    fig = go.Figure()
    names = {"house_load_mw": "house load", "curtailed_mw": "curtailed"}
    for c in cols:
        label = names.get(c, c.replace("offtake:", "grid: ").replace("miner:", "mining: "))
        fig.add_trace(
            go.Scatter(
                x=data.index,
                y=data[c],
                name=label,
                stackgroup="uses",
                mode="lines",
                line={"width": 0.5},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=data.index,
            y=data["available_mw"],
            name="available",
            mode="lines",
            line={"color": "black", "width": 1, "dash": "dot"},
        )
    )
    fig.update_layout(
        title=f"Where the plant's output went ({how}, MW)",
        yaxis_title="MW",
        hovermode="x unified",
        height=430,
    )
    return fig


def _by_month(run: Run, hourly: pd.DataFrame) -> go.Figure:
    import plotly.graph_objects as go

    monthly = (
        hourly[["grid_mw", "mining_mw", "curtailed_mw", "unserved_firm_mw"]].resample("MS").sum()
        / 1000.0
    )
    labels = monthly.index.strftime("%Y-%m")
    fig = go.Figure()
    for c, name in (
        ("grid_mw", "grid"),
        ("mining_mw", "mining"),
        ("curtailed_mw", "curtailed"),
        ("unserved_firm_mw", "unserved firm"),
    ):
        fig.add_trace(go.Bar(x=labels, y=monthly[c], name=name))
    fig.update_layout(
        title="Grid vs mining by month (GWh)", barmode="group", yaxis_title="GWh", height=380
    )
    return fig


def _value_vs_price(run: Run, hourly: pd.DataFrame) -> go.Figure:
    import pandas as pd
    import plotly.graph_objects as go

    i = run.inputs
    _, _, value = mining_values(i)
    frame = pd.DataFrame(
        {f"price:{n}": run.problem.offtake_price[o] for o, n in enumerate(i.offtake_names)},
        index=hourly.index,
    )
    for k, n in enumerate(i.class_names):
        frame[f"value:{n}"] = value[k]
    frame["marginal"] = run.result.marginal_value
    data, how = _resample(frame)
    fig = go.Figure()
    for c in data.columns:
        if c == "marginal":
            label, style = "marginal value of a MW at the plant", {"dash": "dot", "width": 1}
        elif c.startswith("price:"):
            label, style = f"grid price: {c[6:]}", {"width": 2}
        else:
            label, style = f"mining value: {c[6:]}", {"width": 1.5}
        fig.add_trace(go.Scatter(x=data.index, y=data[c], name=label, mode="lines", line=style))
    fig.update_layout(
        title=f"Value of a MWh: mining vs grid ({how}, USD/MWh)",
        yaxis_title="USD/MWh",
        hovermode="x unified",
        height=400,
    )
    return fig


def _revenue(summary: dict[str, Any]) -> go.Figure:
    import plotly.graph_objects as go

    names = [f"grid: {n}" for n in summary["offtakes"]] + [
        f"mining: {n}" for n in summary["miners"]
    ]
    values = [v["revenue_usd"] / 1e6 for v in summary["offtakes"].values()] + [
        v["revenue_usd"] / 1e6 for v in summary["miners"].values()
    ]
    for key, v in summary["cost_breakdown_usd"].items():
        names.append(f"cost: {key.replace('_', ' ')}")
        values.append(-v / 1e6)
    colors = ["#2b7bba" if v >= 0 else "#c4453c" for v in values]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colors))
    fig.update_layout(
        title="Revenue by source and costs (million USD)", yaxis_title="million USD", height=380
    )
    return fig


def render_html(run: Run, summary: dict[str, Any], hourly: pd.DataFrame) -> str:
    """The whole report page as a string."""
    figures = [
        _dispatch_stack(run, hourly),
        _by_month(run, hourly),
        _value_vs_price(run, hourly),
        _revenue(summary),
    ]
    parts = []
    for n, fig in enumerate(figures):
        fig.update_layout(margin={"l": 60, "r": 20, "t": 50, "b": 40}, template="plotly_white")
        parts.append(
            fig.to_html(full_html=False, include_plotlyjs=(n == 0), config={"displaylogo": False})
        )
    e, rev = summary["energy_mwh"], summary["revenue_usd"]
    kpis = [
        ("to the grid", f"{e['grid'] / 1000:,.0f} GWh"),
        ("to mining", f"{e['mining'] / 1000:,.0f} GWh"),
        ("curtailed", f"{e['curtailed'] / 1000:,.0f} GWh"),
        ("unserved firm", f"{summary['unserved_firm_mwh'] / 1000:,.1f} GWh"),
        ("grid revenue", f"${rev['grid'] / 1e6:,.1f} M"),
        ("mining revenue", f"${rev['mining'] / 1e6:,.1f} M"),
        ("BTC mined", f"{summary['btc_mined']:,.1f}"),
        ("objective", f"${summary['objective_usd'] / 1e6:,.1f} M"),
    ]
    kpi_html = "".join(
        f"<div class='kpi'>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in kpis
    )
    units = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{u['capacity_mw']:,.0f}</td>"
        f"<td>{u['generated_mwh'] / 1000:,.1f}</td><td>{u['capacity_factor']:.1%}</td></tr>"
        for n, u in summary["units"].items()
    )
    assumptions = "".join(f"<li>{html.escape(a)}</li>" for a in summary["assumptions"])
    solver = summary["solver"]
    mv = np.round(summary["marginal_value_usd_per_mwh"]["mean"], 1)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gridhash · {html.escape(summary["scenario"])}</title><style>{_CSS}</style></head>
<body>
<h1>gridhash · {html.escape(summary["scenario"])}</h1>
<p class="sub">{html.escape(summary["description"])}<br>
{summary["hours"]:,} hours from {html.escape(summary["start"])} · solver {solver["name"]}
({html.escape(solver["status"])}, {solver["seconds"]:.2f} s) · mean marginal value of a MW at the
plant ${mv}/MWh</p>
<div class="kpis">{kpi_html}</div>
{"".join(parts)}
<h2>Units</h2>
<table><tr><th>unit</th><th>capacity MW</th><th>generated GWh</th><th>capacity factor</th></tr>
{units}</table>
<h2>Assumptions</h2><ul>{assumptions or "<li>none stated</li>"}</ul>
</body></html>
"""
