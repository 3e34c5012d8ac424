"""The backtest's part of report.html: figures, the three runs side by side, sources."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from gridhash.history.backtest import Backtest


def _hashprice_figure(bt: Backtest) -> go.Figure:
    import pandas as pd
    import plotly.graph_objects as go

    idx = bt.realized.inputs.index
    fig = go.Figure()
    computed = pd.Series(bt.hashprice, index=idx)
    daily = computed.resample("D").mean()
    fig.add_trace(go.Scatter(x=idx, y=computed, name="computed (hourly)", mode="lines",
                             line={"width": 1, "color": "#9bb7d4"}))
    fig.add_trace(go.Scatter(x=daily.index, y=daily, name="computed (daily mean)",
                             mode="lines+markers", line={"width": 2, "color": "#2b7bba"}))
    if bt.hashprice_realized is not None:
        real = pd.Series(bt.hashprice_realized, index=idx).resample("D").mean()
        fig.add_trace(go.Scatter(x=real.index, y=real, name="realized (blocks found)",
                                 mode="lines+markers", line={"color": "#d9822b"}))
    if bt.published is not None:
        fig.add_trace(go.Scatter(x=bt.published.index, y=bt.published, name="published",
                                 mode="lines+markers", line={"color": "black", "dash": "dot"}))
    fig.update_layout(title="Hashprice: computed vs realized and published (USD per PH/s "
                      "per day)", yaxis_title="USD/PH/day", hovermode="x unified", height=380)
    return fig


def _plan_figure(bt: Backtest) -> go.Figure:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    idx = bt.realized.inputs.index
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.55, 0.45])
    for run, name, dash in ((bt.realized, "perfect foresight", None),
                            (bt.settled, "day-ahead plan", "dot")):
        r = run.result
        fig.add_trace(go.Scatter(x=idx, y=r.total_mining_mw, name=f"mining: {name}",
                                 mode="lines", line={"dash": dash, "color": "#d9822b"}),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=idx, y=r.grid_mw, name=f"grid: {name}", mode="lines",
                                 line={"dash": dash, "color": "#2b7bba"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=idx, y=bt.realized.inputs.btc_price_usd, name="BTC price",
                             mode="lines", line={"color": "black"}), row=2, col=1)
    fig.add_trace(go.Scatter(x=idx, y=bt.plan.inputs.btc_price_usd,
                             name="BTC price the plan assumed", mode="lines",
                             line={"color": "grey", "dash": "dot", "shape": "hv"}), row=2, col=1)
    fig.update_yaxes(title_text="MW", row=1, col=1)
    fig.update_yaxes(title_text="USD/BTC", row=2, col=1)
    fig.update_layout(title="Perfect foresight vs the day-ahead plan (hourly)", height=560,
                      hovermode="x unified")
    return fig


def _corr(x: float | None) -> str:
    return "" if x is None else f"{x:.3f}"


def _money(x: float) -> str:
    return f"{x:,.0f}"


def render_backtest(bt: Backtest, doc: dict[str, Any]) -> str:
    """The backtest's HTML section (plotly.js comes from the page it is put in)."""
    esc = html.escape
    parts = []
    for fig in (_hashprice_figure(bt), _plan_figure(bt)):
        fig.update_layout(margin={"l": 60, "r": 20, "t": 50, "b": 40}, template="plotly_white")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False,
                                 config={"displaylogo": False}))
    pf, da, gap = doc["perfect_foresight"], doc["day_ahead_plan"], doc["gap"]
    rows = [
        ("grid revenue [USD]", pf["revenue_usd"]["grid"], da["revenue_usd"]["grid"]),
        ("mining revenue [USD]", pf["revenue_usd"]["mining"], da["revenue_usd"]["mining"]),
        ("costs [USD]", pf["cost_usd"], da["cost_usd"]),
        ("net: revenue − costs [USD]", pf["net_usd"], da["net_usd"]),
        ("penalty, unserved firm energy [USD]", pf["penalty_usd"]["unserved_firm"],
         da["penalty_usd"]["unserved_firm"]),
        ("penalty, station blackout [USD]", pf["penalty_usd"]["station_blackout"],
         da["penalty_usd"]["station_blackout"]),
    ]
    table = "".join(f"<tr><td>{esc(k)}</td><td>{_money(a)}</td><td>{_money(b)}</td>"
                    f"<td>{_money(a - b)}</td></tr>" for k, a, b in rows)
    table += (f"<tr><td>BTC mined</td><td>{pf['btc_mined']:.6f}</td>"
              f"<td>{da['btc_mined']:.6f}</td><td>{gap['btc']:.6f}</td></tr>")
    hp = doc["hashprice_usd_per_ph_day"]
    cmp_rows = "".join(
        f"<tr><td>{esc(k.replace('vs_', 'vs '))}</td><td>{v['resolution']}</td>"
        f"<td>{v['points']}</td><td>{v['computed_mean']:.3f}</td><td>{v['other_mean']:.3f}</td>"
        f"<td>{v['bias']:+.3f}</td><td>{v['mean_abs_error']:.3f}</td>"
        f"<td>{_corr(v['correlation'])}</td></tr>"
        for k, v in hp.items() if isinstance(v, dict))
    sources = []
    for f in doc["history"]:
        p = f["provenance"] or {}
        what = (f"{p.get('source')} · {p.get('url') or p.get('file') or ''} · fetched "
                f"{p.get('fetched_at')} · {p.get('start')} to "
                f"{p.get('complete_until', p.get('end'))}" if p
                else "no provenance recorded")
        notes = "".join(f"<li>{esc(a)}</li>" for a in p.get("assumptions", []))
        sources.append(f"<tr><td style='text-align:left'>{esc(f['file'])}</td>"
                       f"<td style='text-align:left'>{esc(', '.join(f['columns']))}</td>"
                       f"<td style='text-align:left'>{esc(what)}"
                       f"{'<ul>' + notes + '</ul>' if notes else ''}</td></tr>")
    left = "".join(f"<li>{esc(w)}</li>" for w in doc["windows_left_out"])
    assumptions = "".join(f"<li>{esc(a)}</li>" for a in doc["assumptions"])
    return f"""
<h2>Backtest: perfect foresight vs the day-ahead plan</h2>
<table><tr><th></th><th>perfect foresight</th><th>day-ahead plan</th><th>gap</th></tr>
{table}</table>
<h2>Hashprice (USD per PH/s per day)</h2>
<p>computed mean {hp['computed_mean']:.3f}</p>
<table><tr><th>against</th><th>resolution</th><th>points</th><th>computed</th><th>other</th>
<th>bias</th><th>mean |error|</th><th>correlation</th></tr>{cmp_rows}</table>
{"".join(parts)}
<h2>History files</h2>
<table><tr><th>file</th><th>columns</th><th>provenance and assumptions</th></tr>
{"".join(sources)}</table>
<h2>Backtest assumptions</h2><ul>{assumptions}</ul>
{f"<p>Dated windows outside the period, left out:</p><ul>{left}</ul>" if left else ""}
"""


def insert_section(page: str, section: str) -> str:
    """``section`` put into a report page just before its end."""
    head, sep, tail = page.rpartition("</body>")
    return head + section + sep + tail if sep else page + section

