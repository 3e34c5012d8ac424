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
    "btc_mined": ("BTC mined", "BTC", 1.0),
    "mining_revenue_usd": ("mining revenue", "M USD", 1e6),
    "mining_net_usd": ("mining net of opex, power, capital", "M USD", 1e6),
    "grid_mwh": ("energy to the grid", "GWh", 1e3),
    "unserved_firm_mwh": ("unserved firm demand", "GWh", 1e3),
    "hours_restricted": ("hours of safety restriction", "h", 1.0),
    "hours_mining_blocked": ("hours mining blocked", "h", 1.0),
    "objective_usd": ("dispatch objective", "M USD", 1e6),
}


def _label(key: str) -> tuple[str, str, float]:
    if key.startswith("revenue_usd:"):
        return (f"revenue of {key.split(':', 1)[1]}", "M USD", 1e6)
    return _LABELS.get(key, (key, "", 1.0))


def print_risk(console: Console, scenario: str, summary: dict[str, Any], folder: Path) -> None:
    from rich.table import Table

    t = Table(title=f"gridhash risk · {scenario} · {summary['paths']:,} paths")
    for col in ("", "unit", "mean", "p5", "median", "p95"):
        t.add_column(col, justify="left" if col in ("", "unit") else "right")
    for key, d in summary["distributions"].items():
        name, unit, scale = _label(key)
        t.add_row(name, unit, *(f"{d[k] / scale:,.2f}" for k in ("mean", "p5", "median", "p95")))
    console.print(t)
    a = int(summary["alpha"] * 100)
    mn, ob = summary["mining_net_usd"], summary["objective_usd"]
    console.print(
        f"mining net: VaR{a}% {mn['var'] / 1e6:,.2f} M USD, "
        f"CVaR{a}% {mn['cvar'] / 1e6:,.2f} M USD; "
        f"dispatch objective: VaR{a}% {ob['var'] / 1e6:,.2f} M USD, "
        f"CVaR{a}% {ob['cvar'] / 1e6:,.2f} M USD\n"
        f"probability that mining loses money: "
        f"[bold]{summary['probability_mining_loses_money']:.1%}[/bold]\n"
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
    import plotly.graph_objects as go

    name, unit, scale = _label(key)
    x = df[key].to_numpy(dtype=float) / scale
    fig = go.Figure(go.Histogram(x=x, nbinsx=40, marker_color="#2b7bba"))
    fig.add_vline(x=float(np.quantile(x, 0.05)), line_dash="dot", line_color="#c4453c",
                  annotation_text="5 %")
    fig.update_layout(title=f"{name} ({unit})", xaxis_title=unit, yaxis_title="paths", height=330)
    return fig


def render_risk_html(scenario: str, df: pd.DataFrame, summary: dict[str, Any]) -> str:
    figures = [
        _fan(df, "monthly_mining_revenue_usd:", "Mining revenue, cumulative (fan over paths)",
             "M USD", 1e6, True),
        _fan(df, "monthly_btc_price_usd:", "BTC price, monthly mean (fan over paths)", "USD",
             1.0, False),
    ]
    figures += [_hist(df, k) for k in ("btc_mined", "mining_net_usd", "grid_mwh",
                                       "unserved_firm_mwh", "hours_restricted")]
    parts = []
    for n, fig in enumerate(figures):
        fig.update_layout(margin={"l": 60, "r": 20, "t": 50, "b": 40}, template="plotly_white")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(n == 0),
                                 config={"displaylogo": False}))
    rows = "".join(
        f"<tr><td>{html.escape(_label(k)[0])}</td><td>{html.escape(_label(k)[1])}</td>"
        + "".join(f"<td>{d[q] / _label(k)[2]:,.2f}</td>" for q in ("mean", "p5", "median", "p95"))
        + "</tr>"
        for k, d in summary["distributions"].items()
    )
    mn = summary["mining_net_usd"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>gridhash risk · {html.escape(scenario)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2rem auto;padding:0 1rem}}
td,th{{padding:.25rem .8rem;border-bottom:1px solid #e3e7eb;text-align:right}}
td:first-child,th:first-child{{text-align:left}} table{{border-collapse:collapse}}</style>
</head><body>
<h1>gridhash risk · {html.escape(scenario)}</h1>
<p>{summary['paths']:,} paths · probability that mining loses money
<b>{summary['probability_mining_loses_money']:.1%}</b> · mining net VaR 5 %
{mn['var'] / 1e6:,.2f} M USD, CVaR 5 % {mn['cvar'] / 1e6:,.2f} M USD</p>
<table><tr><th></th><th>unit</th><th>mean</th><th>p5</th><th>median</th><th>p95</th></tr>
{rows}</table>
{"".join(parts)}
</body></html>
"""


def write_risk(folder: Path, scenario: str, df: pd.DataFrame, summary: dict[str, Any]) -> None:
    from gridhash.report.write import _atomic_write, atomic_write_text, json_text

    folder.mkdir(parents=True, exist_ok=True)
    text = json_text(summary, what="risk.json")  # before anything is written
    _atomic_write(folder / "risk.parquet", lambda tmp: df.to_parquet(tmp, index=False))
    atomic_write_text(folder / "risk.json", text)
    atomic_write_text(folder / "risk.html", render_risk_html(scenario, df, summary))
