"""`gridhash risk` and `gridhash size` outputs: terminal tables, risk.parquet, risk.html."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go
    from rich.console import Console

_LABELS = {
    "net_usd": ("net money (revenue − costs)", "M USD", 1e6),
    "revenue_usd": ("revenue", "M USD", 1e6),
    "cost_usd": ("costs", "M USD", 1e6),
    "penalty_usd:unserved_firm": ("penalty: unserved firm energy (not money)", "M USD", 1e6),
    "penalty_usd:station_blackout": ("penalty: station blackout (not money)", "M USD", 1e6),
    "unserved_firm_mwh": ("unserved firm energy", "GWh", 1e3),
    "house_load_unsupplied_mwh": ("house load unsupplied (blackout)", "MWh", 1.0),
    "hours_station_blackout": ("hours in station blackout", "h", 1.0),
    "diesel_mwh": ("diesel for house load", "GWh", 1e3),
    "hours_on_diesel": ("hours on diesel", "h", 1.0),
    "btc_mined": ("BTC mined", "BTC", 1.0),
    "mining_revenue_usd": ("mining revenue", "M USD", 1e6),
    "mining_net_usd": ("mining net of opex, power, capital", "M USD", 1e6),
    "demand_response_revenue_usd": ("demand-response payments", "M USD", 1e6),
    "grid_mwh": ("energy to the grid", "GWh", 1e3),
    "capacity_factor": ("plant capacity factor", "%", 0.01),
    "hours_restricted": ("hours of safety restriction", "h", 1.0),
    "hours_mining_blocked": ("hours mining blocked", "h", 1.0),
    "objective_usd": ("optimizer objective (money less penalties; not money)", "M USD", 1e6),
}

#: Histograms in risk.html, each with its bad tail marked.
HISTOGRAMS = ("net_usd", "penalty_usd:unserved_firm", "penalty_usd:station_blackout",
              "hours_station_blackout", "unserved_firm_mwh", "btc_mined", "mining_net_usd",
              "grid_mwh", "diesel_mwh", "hours_restricted")


def _label(key: str) -> tuple[str, str, float]:
    if key.startswith("party_revenue_usd:"):
        return (f"revenue of {key.split(':', 1)[1]}", "M USD", 1e6)
    return _LABELS.get(key, (key, "", 1.0))


def _tail(d: dict[str, Any]) -> str:
    return "p95 (high is bad)" if d.get("bad") == "high" else "p5 (low is bad)"


def headline(summary: dict[str, Any]) -> list[str]:
    """The risk in sentences: net money VaR/CVaR, station blackouts, unserved energy."""
    a = round(summary["alpha"] * 100)
    n, mn = summary["net_usd"], summary["mining_net_usd"]
    sb, uf = summary["station_blackout"], summary["unserved_firm"]
    return [
        f"net money (revenue − costs): VaR {a} % {n['var'] / 1e6:,.2f} M USD, "
        f"CVaR {a} % {n['cvar'] / 1e6:,.2f} M USD",
        f"mining net: VaR {a} % {mn['var'] / 1e6:,.2f} M USD, CVaR {a} % "
        f"{mn['cvar'] / 1e6:,.2f} M USD; probability that mining loses money "
        f"{summary['probability_mining_loses_money']:.1%}",
        f"probability of any station blackout: {sb['probability']:.1%} of paths "
        f"({sb['paths']:,}); hours in blackout: mean {sb['mean_hours']:,.1f}, "
        f"{sb['mean_hours_when_any']:,.1f} where any, p95 {sb['p95_hours']:,.0f}, "
        f"max {sb['max_hours']:,.0f}",
        f"unserved firm energy: in {uf['probability']:.1%} of paths; mean "
        f"{uf['mean_mwh'] / 1e3:,.1f} GWh, p95 {uf['p95_mwh'] / 1e3:,.1f} GWh",
    ]


def print_risk(console: Console, scenario: str, summary: dict[str, Any], folder: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"gridhash risk · {scenario} · {summary['paths']:,} paths")
    for col in ("", "unit", "mean", "p5", "median", "p95", "bad tail"):
        t.add_column(col, justify="left" if col in ("", "unit", "bad tail") else "right")
    for key, d in summary["distributions"].items():
        name, unit, scale = _label(key)
        t.add_row(name, unit, *(f"{d[k] / scale:,.2f}" for k in ("mean", "p5", "median", "p95")),
                  _tail(d))
    console.print(t)
    for line in headline(summary):
        console.print(escape(line))
    console.print(
        f"certified by the fast path: {summary['certified_paths']:,} of {summary['paths']:,} "
        f"paths ({summary['lp_hours']:,} hours solved by LP)\n"
        f"wrote {folder / 'risk.parquet'}, {folder / 'risk.json'}, {folder / 'risk.html'}"
    )


def _fan(df: pd.DataFrame, prefix: str, title: str, unit: str, scale: float, cumulative: bool
         ) -> go.Figure:
    import plotly.graph_objects as go

    cols = sorted(c for c in df.columns if c.startswith(prefix))
    x = [c.split(":", 1)[1] for c in cols]
    data = df[cols].to_numpy(dtype=float) / scale
    if cumulative:
        data = np.cumsum(data, axis=1)
    q = np.quantile(data, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    fig = go.Figure()
    for lo, hi, name, alpha in ((0, 4, "5-95 %", 0.15), (1, 3, "25-75 %", 0.3)):
        fig.add_trace(go.Scatter(x=x, y=q[hi], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=q[lo], mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor=f"rgba(43,123,186,{alpha})", name=name))
    fig.add_trace(go.Scatter(x=x, y=q[2], mode="lines+markers", name="median",
                             line={"color": "#2b7bba", "width": 2}))
    fig.update_layout(title=title, xaxis_title="month", yaxis_title=unit, height=380)
    return fig


def _hist(df: pd.DataFrame, key: str) -> go.Figure:
    """A metric's distribution over the paths, its bad tail marked: the 5 % at the low
    end for money, energy and BTC, the 5 % at the high end (p95) for penalties,
    unserved energy and hours."""
    import plotly.graph_objects as go

    from gridhash.accounts import bad_end

    name, unit, scale = _label(key)
    x = df[key].to_numpy(dtype=float) / scale
    high = bad_end(key) == "high"
    q = float(np.quantile(x, 0.95 if high else 0.05))
    fig = go.Figure(go.Histogram(x=x, nbinsx=40, marker_color="#2b7bba"))
    lo, hi = (q, float(x.max())) if high else (float(x.min()), q)
    fig.add_vrect(x0=lo, x1=hi, fillcolor="#c4453c", opacity=0.12, line_width=0)
    fig.add_vline(x=q, line_dash="dot", line_color="#c4453c",
                  annotation_text="p95: worst 5 % above" if high else "p5: worst 5 % below")
    fig.update_layout(title=f"{name} ({unit})", xaxis_title=unit, yaxis_title="paths", height=330)
    return fig


def render_risk_html(scenario: str, df: pd.DataFrame, summary: dict[str, Any]) -> str:
    figures = [
        _fan(df, "monthly_mining_revenue_usd:", "Mining revenue, cumulative (fan over paths)",
             "M USD", 1e6, True),
        _fan(df, "monthly_btc_price_usd:", "BTC price, monthly mean (fan over paths)", "USD",
             1.0, False),
    ]
    figures += [_hist(df, k) for k in HISTOGRAMS if k in df.columns]
    parts = []
    for n, fig in enumerate(figures):
        fig.update_layout(margin={"l": 60, "r": 20, "t": 50, "b": 40}, template="plotly_white")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(n == 0),
                                 config={"displaylogo": False}))
    rows = "".join(
        f"<tr><td>{html.escape(_label(k)[0])}</td><td>{html.escape(_label(k)[1])}</td>"
        + "".join(f"<td>{d[q] / _label(k)[2]:,.2f}</td>" for q in ("mean", "p5", "median", "p95"))
        + f"<td>{html.escape(_tail(d))}</td></tr>"
        for k, d in summary["distributions"].items()
    )
    lines = "".join(f"<li>{html.escape(x)}</li>" for x in headline(summary))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>gridhash risk · {html.escape(scenario)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2rem auto;padding:0 1rem}}
td,th{{padding:.25rem .8rem;border-bottom:1px solid #e3e7eb;text-align:right}}
td:first-child,th:first-child{{text-align:left}} table{{border-collapse:collapse}}</style>
</head><body>
<h1>gridhash risk · {html.escape(scenario)}</h1>
<p>{summary['paths']:,} paths. Money is revenue − costs; penalties are the optimizer's
price on unserved firm energy and on a station blackout, shown apart and never added
into money.</p>
<ul>{lines}</ul>
<table><tr><th></th><th>unit</th><th>mean</th><th>p5</th><th>median</th><th>p95</th>
<th>bad tail</th></tr>
{rows}</table>
{"".join(parts)}
</body></html>
"""


def write_risk(folder: Path, scenario: str, df: pd.DataFrame, summary: dict[str, Any]) -> None:
    from gridhash.files import atomic_write, atomic_write_text
    from gridhash.report.write import json_text

    folder.mkdir(parents=True, exist_ok=True)
    text = json_text(summary, what="risk.json")  # before anything is written
    atomic_write(folder / "risk.parquet", lambda tmp: df.to_parquet(tmp, index=False))
    atomic_write_text(folder / "risk.json", text)
    atomic_write_text(folder / "risk.html", render_risk_html(scenario, df, summary))
