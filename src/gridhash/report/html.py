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
td,th{white-space:nowrap;vertical-align:top} td.text,th.text{white-space:normal;min-width:10rem;
text-align:left} .nw{white-space:nowrap}
.scroll{overflow-x:auto} ul.warn{color:#8a4b00}
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
    """Grid prices and mining values (left axis) and the plant's marginal value (right).

    The marginal value is the penalty (thousands of USD/MWh) in hours when a firm
    obligation or house load goes unserved; on one axis those spikes would press
    every price into the bottom few per cent.  It gets its own axis, scaled to
    its ordinary hours, and the penalty hours are shaded instead of plotted.
    """
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
    penalty = run.problem.unserved_penalty
    marginal = np.asarray(run.result.marginal_value, dtype=float)
    in_penalty = (marginal >= 0.999 * penalty) | (hourly["unserved_firm_mw"].to_numpy() > 1e-6)
    frame["marginal"] = np.where(in_penalty, np.nan, marginal)
    frame["penalty"] = in_penalty.astype(float)
    data, how = _resample(frame)
    if how != "hourly":  # a day with any penalty hour is marked; its mean omits them
        data["penalty"] = frame["penalty"].resample("D").max()
    lines = data.drop(columns=["marginal", "penalty"])
    top = float(np.nanmax(lines.to_numpy())) if lines.size else 1.0
    low = min(0.0, float(np.nanmin(lines.to_numpy()))) if lines.size else 0.0
    top = top * 1.08 if top > 0 else 1.0
    fig = go.Figure()
    n_penalty = int(in_penalty.sum())
    if n_penalty:
        marked = data.index[data["penalty"].to_numpy() > 0]
        span_ms = (24 if how != "hourly" else 1) * 3_600_000
        fig.add_trace(go.Bar(
            x=marked + pd.Timedelta(milliseconds=span_ms / 2), y=np.full(len(marked), top - low),
            base=low, width=span_ms, marker={"color": "rgba(196,69,60,0.18)", "line":
                                            {"width": 0}},
            name=f"{'days with ' if how != 'hourly' else ''}penalty hours ({n_penalty:,} h): "
                 f"marginal value = unserved penalty, {penalty:,.0f} USD/MWh",
            hoverinfo="skip"))
    for c in lines.columns:
        if c.startswith("price:"):
            label, style = f"grid price: {c[6:]}", {"width": 2}
        else:
            label, style = f"mining value: {c[6:]}", {"width": 1.5}
        fig.add_trace(go.Scatter(x=data.index, y=data[c], name=label, mode="lines", line=style))
    ordinary = data["marginal"].to_numpy()
    fig.add_trace(go.Scatter(
        x=data.index, y=ordinary, name="marginal value of a MW at the plant (right axis; "
        "penalty hours left out)", mode="lines", yaxis="y2",
        line={"dash": "dot", "width": 1.2, "color": "#444"}))
    finite = ordinary[np.isfinite(ordinary)]
    m_top = float(np.percentile(finite, 99.5)) * 1.08 if finite.size else 1.0
    m_low = min(0.0, float(finite.min())) if finite.size else 0.0
    fig.update_layout(
        title=f"Value of a MWh: mining vs grid ({how}, USD/MWh)",
        yaxis={"title": "price and mining value [USD/MWh]", "range": [low, top]},
        yaxis2={"title": "marginal value [USD/MWh]", "overlaying": "y", "side": "right",
                "range": [m_low, m_top if m_top > m_low else m_low + 1], "showgrid": False},
        legend={"orientation": "h", "y": -0.18},
        bargap=0,
        hovermode="x unified",
        height=460,
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


_MODE_COLORS = ["#2e8b57", "#9acd32", "#f0b429", "#4a90d9", "#7b5ea7"]


def _safety_timeline(run: Run, hourly: pd.DataFrame) -> go.Figure:
    """Hourly envelope vs dispatch (top) and each unit's operating mode (bottom)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from gridhash.scenario.safety import MODES

    env = run.envelope
    assert env is not None
    x = hourly.index
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.04)
    restricted = np.where(env.restricted, float(env.max_net_output_mw.max()) or 1.0, 0.0)
    fig.add_trace(go.Scatter(x=x, y=restricted, name="restricted hour", mode="lines",
                             fill="tozeroy", line={"width": 0, "shape": "hv"},
                             fillcolor="rgba(196,69,60,0.15)", hoverinfo="skip"), row=1, col=1)
    traces = (
        ("envelope_max_net_output_mw", "max net output allowed", {"color": "black", "width": 1}),
        ("grid_mw", "to the grid", {"color": "#2b7bba", "width": 1}),
        ("mining_cap_mw", "mining cap", {"color": "#f0b429", "width": 1, "dash": "dot"}),
        ("mining_mw", "mining", {"color": "#d9822b", "width": 1}),
        ("diesel_mw", "diesel", {"color": "#7b5ea7", "width": 1}),
    )
    for col, name, line in traces:
        fig.add_trace(go.Scatter(x=x, y=hourly[col], name=name, mode="lines", line=line),
                      row=1, col=1)
    colorscale = []
    for m, color in enumerate(_MODE_COLORS):
        colorscale += [[m / len(MODES), color], [(m + 1) / len(MODES), color]]
    fig.add_trace(
        go.Heatmap(
            x=x, y=list(env.unit_names), z=env.unit_mode, zmin=-0.5, zmax=len(MODES) - 0.5,
            colorscale=colorscale, showscale=True,
            colorbar={"tickvals": list(range(len(MODES))), "ticktext": list(MODES),
                      "len": 0.3, "y": 0.12},
            customdata=np.array(MODES, dtype=object)[env.unit_mode],
            hovertemplate="%{y}: %{customdata}<extra></extra>",
        ),
        row=2, col=1,
    )
    fig.update_layout(title="Safety envelope and operating modes (hourly, MW)", height=560,
                      hovermode="x unified")
    fig.update_yaxes(title_text="MW", row=1, col=1)
    return fig


def _words(text: str) -> str:
    """Escaped text that wraps between words only: a browser would also break a word
    after a hyphen (``NUREG-`` / ``1431``, ``2027-02-`` / ``10T12:00Z``)."""
    return " ".join(
        f"<span class='nw'>{html.escape(w)}</span>" if "-" in w else html.escape(w)
        for w in text.split(" ")
    )


def _rule_table(run: Run) -> str:
    env = run.envelope
    assert env is not None
    counts = env.rule_activations()
    hours: dict[str, np.ndarray] = {}
    first: dict[str, int] = {}
    for a in env.activations:
        if a.kind == "action" and a.rule:
            mask = hours.setdefault(a.rule, np.zeros(env.hours, dtype=bool))
            mask[a.start : a.end] = True
            first[a.rule] = min(first.get(a.rule, a.start), a.start)
    from gridhash.scenario.series import hour_stamp

    rows = []
    sources = {r.name: r for r in env.rules.rules}
    for name, n in counts.items():
        rule = sources.get(name)
        what = "; ".join(a.describe() for a in rule.actions) if rule else "built in"
        src = rule.source if rule else "the brief: mining is the first load shed"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{n}</td><td>{int(hours[name].sum())}</td>"
            f"<td>{html.escape(hour_stamp(env.index, first[name]))}</td>"
            f"<td class='text'>{_words(rule.when if rule else '')}</td>"
            f"<td class='text'>{_words(what)}</td>"
            f"<td class='text'>{_words(src)}</td></tr>"
        )
    skipped = "".join(
        f"<li>{html.escape(n)}: not evaluated ({html.escape(why)})</li>"
        for n, why in env.rules.skipped
    )
    return (
        "<h2>Safety rules that acted</h2><div class='scroll'><table><tr><th>rule</th>"
        "<th>times</th><th>hours</th>"
        "<th>first</th><th class='text'>when</th><th class='text'>requires</th>"
        "<th class='text'>source</th></tr>"
        + ("".join(rows) or "<tr><td colspan=7>no rule acted</td></tr>")
        + "</table></div>"
        + (f"<ul>{skipped}</ul>" if skipped else "")
    )


def _provenance(run: Run) -> str:
    """The scenario's series files and where their numbers came from (source, URL
    without credentials, fetch time, range, libraries, the fetcher's assumptions)."""
    from gridhash.scenario.series import series_files

    files = series_files(run.loaded.scenario, run.loaded.base_dir)
    if not files:
        return ""
    esc = html.escape
    rows = []
    for f in files:
        p = f["provenance"]
        if p is None:
            what = "no provenance recorded (a file made by hand?)"
            notes = ""
        else:
            libs = ", ".join(f"{k} {v}" for k, v in sorted(p.get("libraries", {}).items()))
            fx = p.get("fx")
            what = (f"{p.get('source')} · {p.get('url') or p.get('file') or ''} · "
                    f"{p.get('start')} to {p.get('complete_until', p.get('end'))} · fetched "
                    f"{p.get('fetched_at')}" + (f" · {p['currency']}" if p.get("currency") else "")
                    + (f" at {fx['source']} rates {fx['min_per_usd']:g}–{fx['max_per_usd']:g}"
                       f" {fx['currency']}/USD" if fx else "") + f" · {libs}")
            notes = "".join(f"<li>{esc(a)}</li>" for a in p.get("assumptions", []))
        rows.append(
            f"<tr><td>{esc(f['field'])}</td><td style='text-align:left'>"
            f"{esc(f['file'])}{' [' + esc(f['column']) + ']' if f['column'] else ''}</td>"
            f"<td style='text-align:left'>{esc(what)}"
            f"{'<ul>' + notes + '</ul>' if notes else ''}</td></tr>")
    return ("<h2>Data sources</h2><table><tr><th>field</th><th>file [column]</th>"
            "<th>provenance and assumptions</th></tr>" + "".join(rows) + "</table>")


def render_html(run: Run, summary: dict[str, Any], hourly: pd.DataFrame) -> str:
    """The whole report page as a string."""
    figures = [
        _dispatch_stack(run, hourly),
        _by_month(run, hourly),
        _value_vs_price(run, hourly),
        _revenue(summary),
    ]
    if run.envelope is not None:
        figures.insert(1, _safety_timeline(run, hourly))
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
        ("net (revenue − costs)", f"${summary['net_usd'] / 1e6:,.1f} M"),
        ("diesel", f"{e['diesel'] / 1000:,.1f} GWh"),
        ("capacity factor", f"{summary['capacity_factor']:.1%}"),
        # Penalties are the optimizer's price on failures, not money: kept apart.
        ("penalty: unserved firm (not money)",
         f"${summary['penalty_usd']['unserved_firm'] / 1e6:,.1f} M"),
        ("penalty: station blackout (not money)",
         f"${summary['penalty_usd']['station_blackout'] / 1e6:,.1f} M"),
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
    warned = summary.get("warnings") or []
    warnings = ("<h2>Warnings: legal, but probably not what was meant</h2><ul class='warn'>"
                + "".join(f"<li>{html.escape(w)}</li>" for w in warned) + "</ul>"
                if warned else "")
    solver = summary["solver"]
    mv = np.round(summary["marginal_value_usd_per_mwh"]["median"], 1)
    safety = _rule_table(run) if run.envelope is not None else ""
    sf = summary.get("safety")
    if sf:
        kpis.append(("hours restricted", f"{sf['hours_restricted']:,}"))
        kpis.append(("mining blocked", f"{sf['hours_mining_blocked']:,} h"))
        kpi_html += "".join(
            f"<div class='kpi'>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in kpis[-2:]
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gridhash · {html.escape(summary["scenario"])}</title><style>{_CSS}</style></head>
<body>
<h1>gridhash · {html.escape(summary["scenario"])}</h1>
<p class="sub">{html.escape(summary["description"])}<br>
{summary["hours"]:,} hours from {html.escape(summary["start"])} · solver {solver["name"]}
({html.escape(solver["status"])}, {solver["seconds"]:.2f} s) · median marginal value of a MW at the
plant ${mv}/MWh</p>
<div class="kpis">{kpi_html}</div>
{warnings}
{"".join(parts)}
{safety}
{record_vs_scenario_table(run)}
<h2>Units</h2>
<table><tr><th>unit</th><th>capacity MW</th><th>generated GWh</th><th>capacity factor</th></tr>
{units}</table>
<h2>Assumptions</h2><ul>{assumptions or "<li>none stated</li>"}</ul>
{_provenance(run)}
</body></html>
"""


#: The built-in scenario holding the plant's recorded year (docs/sources.md §1.4a).
RECORD_SCENARIO = "znpp-record"


def _offsite_figures(env: Any, line_names: tuple[str, ...], house_mw: np.ndarray) -> dict[str, str]:
    """The figures the record and a scenario are compared on, as table cells."""
    from gridhash.report.safety import offsite_power_figures

    rec = offsite_power_figures(env)
    n = env.state.quantities["offsite_lines"]
    zero = np.concatenate(([False], n == 0, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(zero))
    losses = edges[1::2] - edges[::2]
    lines = [name for name, off in zip(line_names, env.state.offsite, strict=True) if off]
    by = rec["hours_by_offsite_lines"]
    return {
        "grid lines in the model": ", ".join(line_names),
        "off-site lines modelled": ", ".join(lines),
        "hours with 2 or more lines": f"{sum(h for k, h in by.items() if int(k) >= 2):,}",
        "hours on a single line": f"{by.get('1', 0):,}",
        "hours with no off-site line": f"{by.get('0', 0):,}",
        "complete losses of off-site power": (
            f"{losses.size} (longest {int(losses.max()) if losses.size else 0:,} h)"),
        "hours on diesel": f"{rec['hours_on_diesel']:,}",
        "diesel fuel at the first hour": f"{float(env.state.fuel0):g} days",
        "diesel fuel at its lowest": f"{rec['diesel_fuel_days_lowest']['days']:g} days",
        "house load (mean)": f"{float(np.mean(house_mw)):,.0f} MW",
        "hours mining allowed by the rules": f"{rec['share_hours_mining_allowed']:.1%}",
    }


def record_vs_scenario_table(run: Run) -> str:
    """'Record vs scenario': the plant's recorded year beside this run's, figure by figure.

    Shown for a run of the recorded plant (same ``plant.name`` as the built-in
    ``znpp-record``) other than the record itself, with a safety part; empty
    otherwise.  The record's figures come from the built-in scenario's own
    events (its envelope, no dispatch).
    """
    from gridhash.safety import envelope_for
    from gridhash.scenario.load import load_scenario
    from gridhash.scenario.resolve import resolve

    if run.envelope is None or run.name == RECORD_SCENARIO:
        return ""
    record = load_scenario(RECORD_SCENARIO)
    if record.scenario.plant.name != run.loaded.scenario.plant.name:
        return ""
    rec_inputs = resolve(record)
    rec_env = envelope_for(record, rec_inputs)
    if rec_env is None:  # pragma: no cover - the record has a safety part
        return ""
    year = str(rec_inputs.index[0].year)
    theirs = _offsite_figures(rec_env, rec_inputs.line_names, rec_inputs.house_load_mw)
    ours = _offsite_figures(run.envelope, run.inputs.line_names, run.inputs.house_load_mw)
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(theirs[k])}</td>"
        f"<td>{html.escape(ours[k])}</td></tr>" for k in theirs
    )
    return (
        "<h2>Record vs scenario</h2><p class='sub'>The plant's off-site power in the public "
        f"record ({year}, built-in <code>{RECORD_SCENARIO}</code>, docs/sources.md) and in this "
        "scenario; the scenario's assumptions say why they differ.</p>"
        f"<table><tr><th>figure</th><th>record {year}</th><th>{html.escape(run.name)}</th></tr>"
        f"{rows}</table>"
    )
