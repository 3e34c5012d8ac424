"""``report.html``: one self-contained page with the run's charts (plotly.js).

plotly.js is embedded once in the page, so the report opens offline and can be
mailed as a single file.  The figures are plain JSON handed to ``Plotly.newPlot``
(no plotly ``graph_objs``: validating and deep-copying a year of hourly points
took seconds), and an hourly series longer than a chart has pixels is thinned
to each bucket's minimum and maximum (:func:`_thin`).
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.dispatch.problem import mining_values
from gridhash.report.summary import solver_text

if TYPE_CHECKING:
    import pandas as pd

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


#: Points a chart can show: about one per pixel of a ~1,400-pixel-wide chart.  A
#: longer hourly series is thinned to the minimum and the maximum of each of this
#: many buckets (see :func:`_thin`), so spikes survive.
CHART_PIXELS = 1400


def _resample(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Daily means for long runs (a year of hourly points is unreadable), else hourly."""
    if len(frame) > 24 * 21:
        return frame.resample("D").mean(), "daily mean"
    return frame, "hourly"


def _stamps(index: pd.DatetimeIndex) -> list[str]:
    """ISO 8601 times as plotly.js reads them (``2027-01-01T00:00:00+00:00``)."""
    if index.tz is not None and str(index.tz) == "UTC":
        text = np.datetime_as_string(index.tz_localize(None).to_numpy(), unit="s").tolist()
        return [t + "+00:00" for t in text]
    return [t.isoformat() for t in index]


def _values(a: Any) -> list[Any]:
    """Numbers as a JSON list: NaN and infinities as ``null`` (a gap in a line)."""
    arr = np.asarray(a, dtype=float)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return arr.tolist()
    out = arr.astype(object)
    out[bad] = None
    return out.tolist()


def _thin(y: np.ndarray, pixels: int = CHART_PIXELS) -> np.ndarray:
    """Positions of ``y`` worth drawing on a chart ``pixels`` wide, in order.

    First exactly: a point inside a run of equal values draws nothing a straight
    (or step) line through its neighbours would not.  If more than ``2 × pixels``
    points remain, the series is cut into ``pixels`` buckets of consecutive
    points and each keeps its minimum and its maximum (M4-style), so a one-hour
    spike still reaches its height; a bucket with a missing value keeps one, so
    gaps stay gaps.  The first and last points are always kept (the axis range
    does not change).
    """
    n = len(y)
    if n <= 2:
        return np.arange(n)
    same = y[1:] == y[:-1]
    keep = np.ones(n, dtype=bool)
    keep[1:-1] = ~(same[:-1] & same[1:])
    if int(keep.sum()) <= 2 * pixels:
        return np.flatnonzero(keep)
    k = -(-n // pixels)
    m = -(-n // k)
    pad = m * k - n
    lo = np.concatenate([y, np.full(pad, np.inf)]).reshape(m, k)
    hi = np.concatenate([y, np.full(pad, -np.inf)]).reshape(m, k)
    nan = np.isnan(lo)
    starts = np.arange(m) * k
    picks = [starts + np.argmin(np.where(nan, np.inf, lo), axis=1),
             starts + np.argmax(np.where(nan, -np.inf, hi), axis=1)]
    if nan.any():
        rows = np.flatnonzero(nan.any(axis=1))
        picks.append(starts[rows] + np.argmax(nan[rows], axis=1))
    picks.append(np.array([0, n - 1]))
    return np.unique(np.concatenate(picks))


def _line(index: pd.DatetimeIndex, y: Any, **trace: Any) -> dict[str, Any]:
    """A scatter trace of an hourly series, thinned to what the chart can show."""
    arr = np.asarray(y, dtype=float)
    at = _thin(arr)
    return {"type": "scatter", "mode": "lines", **trace, "x": _stamps(index[at]),
            "y": _values(arr[at])}


def _dispatch_stack(run: Run, hourly: pd.DataFrame) -> dict[str, Any]:
    i = run.inputs
    cols = ["house_load_mw"] + [f"offtake:{n}" for n in i.offtake_names]
    cols += [f"miner:{n}" for n in i.class_names] + ["curtailed_mw"]
    data, how = _resample(hourly[[*cols, "available_mw", "imported_mw"]])
    x = _stamps(data.index)
    names = {"house_load_mw": "house load", "curtailed_mw": "curtailed"}
    traces = []
    for c in cols:
        label = names.get(c, c.replace("offtake:", "grid: ").replace("miner:", "mining: "))
        traces.append({"type": "scatter", "mode": "lines", "name": label, "stackgroup": "uses",
                       "line": {"width": 0.5}, "x": x, "y": _values(data[c])})
    traces.append({"type": "scatter", "mode": "lines", "name": "available",
                   "line": {"color": "black", "width": 1, "dash": "dot"}, "x": x,
                   "y": _values(data["available_mw"])})
    layout = {"title": {"text": f"Where the plant's output went ({how}, MW)"},
              "yaxis": {"title": {"text": "MW"}}, "hovermode": "x unified", "height": 430}
    return {"data": traces, "layout": layout}


def _by_month(run: Run, hourly: pd.DataFrame) -> dict[str, Any]:
    monthly = (
        hourly[["grid_mw", "mining_mw", "curtailed_mw", "unserved_firm_mw"]].resample("MS").sum()
        / 1000.0
    )
    labels = monthly.index.strftime("%Y-%m").tolist()
    traces = [
        {"type": "bar", "name": name, "x": labels, "y": _values(monthly[c])}
        for c, name in (
            ("grid_mw", "grid"),
            ("mining_mw", "mining"),
            ("curtailed_mw", "curtailed"),
            ("unserved_firm_mw", "unserved firm"),
        )
    ]
    layout = {"title": {"text": "Grid vs mining by month (GWh)"}, "barmode": "group",
              "yaxis": {"title": {"text": "GWh"}}, "height": 380}
    return {"data": traces, "layout": layout}


def _value_vs_price(run: Run, hourly: pd.DataFrame) -> dict[str, Any]:
    """Grid prices and mining values (left axis) and the plant's marginal value (right).

    The marginal value is the penalty (thousands of USD/MWh) in hours when a firm
    obligation or house load goes unserved; on one axis those spikes would press
    every price into the bottom few per cent.  It gets its own axis, scaled to
    its ordinary hours, and the penalty hours are shaded instead of plotted.
    """
    import pandas as pd

    i = run.inputs
    _, _, value = mining_values(i)
    frame = pd.DataFrame(
        {f"price:{n}": run.problem.offtake_price_usd_per_mwh[o]
         for o, n in enumerate(i.offtake_names)},
        index=hourly.index,
    )
    for k, n in enumerate(i.class_names):
        frame[f"value:{n}"] = value[k]
    penalty = run.problem.unserved_penalty
    marginal = np.asarray(run.result.marginal_value_usd_per_mwh, dtype=float)
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
    x = _stamps(data.index)
    traces: list[dict[str, Any]] = []
    n_penalty = int(in_penalty.sum())
    if n_penalty:
        marked = data.index[data["penalty"].to_numpy() > 0]
        span_ms = (24 if how != "hourly" else 1) * 3_600_000
        traces.append({
            "type": "bar", "x": _stamps(marked + pd.Timedelta(milliseconds=span_ms / 2)),
            "y": _values(np.full(len(marked), top - low)), "base": low, "width": span_ms,
            "marker": {"color": "rgba(196,69,60,0.18)", "line": {"width": 0}},
            "name": f"{'days with ' if how != 'hourly' else ''}penalty hours ({n_penalty:,} h): "
                    f"marginal value = unserved penalty, {penalty:,.0f} USD/MWh",
            "hoverinfo": "skip"})
    for c in lines.columns:
        if c.startswith("price:"):
            label, style = f"grid price: {c[6:]}", {"width": 2}
        else:
            label, style = f"mining value: {c[6:]}", {"width": 1.5}
        traces.append({"type": "scatter", "mode": "lines", "name": label, "line": style,
                       "x": x, "y": _values(data[c])})
    ordinary = data["marginal"].to_numpy()
    traces.append({
        "type": "scatter", "mode": "lines", "yaxis": "y2", "x": x, "y": _values(ordinary),
        "name": "marginal value of a MW at the plant (right axis; penalty hours left out)",
        "line": {"dash": "dot", "width": 1.2, "color": "#444"}})
    finite = ordinary[np.isfinite(ordinary)]
    m_top = float(np.percentile(finite, 99.5)) * 1.08 if finite.size else 1.0
    m_low = min(0.0, float(finite.min())) if finite.size else 0.0
    layout = {
        "title": {"text": f"Value of a MWh: mining vs grid ({how}, USD/MWh)"},
        "yaxis": {"title": {"text": "price and mining value [USD/MWh]"}, "range": [low, top]},
        "yaxis2": {"title": {"text": "marginal value [USD/MWh]"}, "overlaying": "y",
                   "side": "right", "range": [m_low, m_top if m_top > m_low else m_low + 1],
                   "showgrid": False},
        "legend": {"orientation": "h", "y": -0.18},
        "bargap": 0,
        "hovermode": "x unified",
        "height": 460,
    }
    return {"data": traces, "layout": layout}


def _revenue(summary: dict[str, Any]) -> dict[str, Any]:
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
    trace = {"type": "bar", "x": names, "y": values, "marker": {"color": colors}}
    layout = {"title": {"text": "Revenue by source and costs (million USD)"},
              "yaxis": {"title": {"text": "million USD"}}, "height": 380}
    return {"data": [trace], "layout": layout}


_MODE_COLORS = ["#2e8b57", "#9acd32", "#f0b429", "#4a90d9", "#7b5ea7"]


def _mode_columns(modes: np.ndarray, pixels: int = CHART_PIXELS) -> tuple[np.ndarray, np.ndarray]:
    """The hours (columns) of a units × hours mode map worth drawing, and their modes.

    A heatmap cell spans half-way to its neighbours, so the first and last hour of
    every run in which no unit changes mode (and the first two and last two hours)
    draw exactly what every hour did.  If that is more than ``2 × pixels``
    columns, each of ``pixels`` buckets shows, per unit, the mode furthest from
    power operation in it (a short shutdown stays visible).
    """
    n = modes.shape[1]
    if n <= 4:
        return np.arange(n), modes
    change = np.flatnonzero(np.any(modes[:, 1:] != modes[:, :-1], axis=0)) + 1
    cols = np.unique(np.concatenate([[0, 1, n - 2, n - 1], change, change - 1]))
    if cols.size <= 2 * pixels:
        return cols, modes[:, cols]
    k = -(-n // pixels)
    m = -(-n // k)
    padded = np.concatenate([modes, np.repeat(modes[:, -1:], m * k - n, axis=1)], axis=1)
    worst = padded.reshape(modes.shape[0], m, k).max(axis=2)
    centre = np.minimum(np.arange(m) * k + k // 2, n - 1)
    return centre, worst


def _safety_timeline(run: Run, hourly: pd.DataFrame) -> dict[str, Any]:
    """Hourly envelope vs dispatch (top) and each unit's operating mode (bottom)."""
    from gridhash.scenario.safety import MODES

    env = run.envelope
    assert env is not None
    x = hourly.index
    top = {"xaxis": "x", "yaxis": "y"}
    restricted = np.where(env.restricted, float(env.max_net_output_mw.max()) or 1.0, 0.0)
    traces = [_line(x, restricted, name="restricted hour", fill="tozeroy",
                    line={"width": 0, "shape": "hv"}, fillcolor="rgba(196,69,60,0.15)",
                    hoverinfo="skip", **top)]
    for col, name, line in (
        ("envelope_max_net_output_mw", "max net output allowed", {"color": "black", "width": 1}),
        ("grid_mw", "to the grid", {"color": "#2b7bba", "width": 1}),
        ("mining_cap_mw", "mining cap", {"color": "#f0b429", "width": 1, "dash": "dot"}),
        ("mining_mw", "mining", {"color": "#d9822b", "width": 1}),
        ("diesel_mw", "diesel", {"color": "#7b5ea7", "width": 1}),
    ):
        traces.append(_line(x, hourly[col].to_numpy(), name=name, line=line, **top))
    colorscale: list[list[Any]] = []
    for m, color in enumerate(_MODE_COLORS):
        colorscale += [[m / len(MODES), color], [(m + 1) / len(MODES), color]]
    cols, z = _mode_columns(np.asarray(env.unit_mode))
    traces.append({
        "type": "heatmap", "xaxis": "x2", "yaxis": "y2", "x": _stamps(x[cols]),
        "y": list(env.unit_names), "z": z.tolist(), "zmin": -0.5, "zmax": len(MODES) - 0.5,
        "colorscale": colorscale, "showscale": True,
        "colorbar": {"tickvals": list(range(len(MODES))), "ticktext": list(MODES),
                     "len": 0.3, "y": 0.12},
        "customdata": np.array(MODES, dtype=object)[z].tolist(),
        "hovertemplate": "%{y}: %{customdata}<extra></extra>",
    })
    # The two rows as plotly's make_subplots(rows=2, shared_xaxes=True,
    # row_heights=[0.72, 0.28], vertical_spacing=0.04) lays them out.
    layout = {
        "xaxis": {"anchor": "y", "domain": [0.0, 1.0], "matches": "x2", "showticklabels": False},
        "yaxis": {"anchor": "x", "domain": [0.3088, 1.0], "title": {"text": "MW"}},
        "xaxis2": {"anchor": "y2", "domain": [0.0, 1.0]},
        "yaxis2": {"anchor": "x2", "domain": [0.0, 0.2688]},
        "title": {"text": "Safety envelope and operating modes (hourly, MW)"},
        "height": 560,
        "hovermode": "x unified",
    }
    return {"data": traces, "layout": layout}


def _plotly_file(*parts: str) -> Path:
    """A file shipped in plotly's package data, found without importing plotly."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        raise RuntimeError("plotly is not installed (a base dependency of gridhash)")
    return Path(next(iter(spec.submodule_search_locations)), "package_data", *parts)


@functools.cache
def _template() -> dict[str, Any]:
    """plotly's ``plotly_white`` template, as ``template="plotly_white"`` embeds it."""
    return json.loads(_plotly_file("templates", "plotly_white.json").read_text("utf-8"))


#: What :func:`plotlyjs_script` puts before and after plotly.js.
_PLOTLY_OPEN = "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>"
_PLOTLY_CLOSE = "</script>"


def plotlyjs_script() -> str:
    """plotly.js (the copy plotly ships) in ``<script>`` tags, for an offline page."""
    js = _plotly_file("plotly.min.js").read_text("utf-8")
    return f"{_PLOTLY_OPEN}{js}{_PLOTLY_CLOSE}"


def figure_html(fig: dict[str, Any], div_id: str) -> str:
    """A figure (``{"data": [...], "layout": {...}}`` of plain JSON values) as a
    ``<div>`` drawn by ``Plotly.newPlot``; plotly.js must be on the page."""
    layout = {**fig["layout"], "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
              "template": _template()}

    def js(value: Any) -> str:  # JSON ("</" escaped: no text can end the script early)
        return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")

    height = layout.get("height")
    return (
        f'<div style="height:{f"{height}px" if height else "100%"}; width:100%;">'
        f'<div id="{div_id}" class="plotly-graph-div" style="height:100%; width:100%;"></div>'
        f'<script>if (document.getElementById("{div_id}")) {{Plotly.newPlot("{div_id}", '
        f'{js(fig["data"])}, {js(layout)}, {{"displaylogo": false, "responsive": true}})}};'
        "</script></div>"
    )


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


#: Demand-response curtailments listed per site in the report (all in summary.json).
DR_ROWS = 50


def _dr_table(summary: dict[str, Any]) -> str:
    """Each site's demand-response curtailments: when its cap was 0 MW and which rule
    held it there (summary.json's ``demand_response.sites.<site>.curtailments``)."""
    sites = (summary.get("demand_response") or {}).get("sites") or {}
    rows, more = [], 0
    for site, v in sites.items():
        windows = v.get("curtailments", [])
        more += max(0, len(windows) - DR_ROWS)
        for w in windows[:DR_ROWS]:
            reasons = ", ".join(f"{k} {n} h" for k, n in w["hours_by_reason"].items())
            rows.append(f"<tr><td>{html.escape(site)}</td><td>{html.escape(w['from'])}</td>"
                        f"<td>{html.escape(w['to'])}</td><td>{w['hours']}</td>"
                        f"<td class='text'>{html.escape(w['why'])}</td>"
                        f"<td class='text'>{html.escape(reasons)}</td></tr>")
    if not rows:
        return ""
    note = (f"<p class='sub'>{more:,} more in summary.json "
            "(<code>demand_response.sites.&lt;site&gt;.curtailments</code>)</p>" if more else "")
    return ("<h2>Sites at 0 MW by their demand-response rule</h2><div class='scroll'><table>"
            "<tr><th>site</th><th>from</th><th>to</th><th>hours</th>"
            "<th class='text'>why it began</th><th class='text'>hours by reason</th></tr>"
            + "".join(rows) + "</table></div>" + note)


def render_html(run: Run, summary: dict[str, Any], hourly: pd.DataFrame) -> str:
    """The whole report page as a string."""
    head, tail = _page(run, summary, hourly)
    return head + plotlyjs_script() + tail


def write_html(path: Path, run: Run, summary: dict[str, Any], hourly: pd.DataFrame) -> None:
    """Write the page of :func:`render_html` to ``path`` (atomically), byte for byte, with
    plotly.js (4.8 MB) copied from plotly's file as bytes: never decoded, re-encoded or
    joined into one string with the page."""
    import shutil

    from gridhash.files import atomic_write

    head, tail = _page(run, summary, hourly)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as out, _plotly_file("plotly.min.js").open("rb") as js:
            out.write((head + _PLOTLY_OPEN).encode("utf-8"))
            shutil.copyfileobj(js, out)
            out.write((_PLOTLY_CLOSE + tail).encode("utf-8"))

    atomic_write(path, write)


def _page(run: Run, summary: dict[str, Any], hourly: pd.DataFrame) -> tuple[str, str]:
    """The report page before and after plotly.js's ``<script>`` tags."""
    figures = [
        _dispatch_stack(run, hourly),
        _by_month(run, hourly),
        _value_vs_price(run, hourly),
        _revenue(summary),
    ]
    if run.envelope is not None:
        figures.insert(1, _safety_timeline(run, hourly))
    parts = [figure_html(fig, f"figure-{n}") for n, fig in enumerate(figures)]
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
    head = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gridhash · {html.escape(summary["scenario"])}</title><style>{_CSS}</style></head>
<body>
<h1>gridhash · {html.escape(summary["scenario"])}</h1>
<p class="sub">{html.escape(summary["description"])}<br>
{summary["hours"]:,} hours from {html.escape(summary["start"])} · solver {solver["name"]}
({html.escape(solver["status"])}, {solver["seconds"]:.2f} s,
{html.escape(solver_text(solver, summary["hours"]))}) · median marginal value of a MW at the
plant ${mv}/MWh</p>
<div class="kpis">{kpi_html}</div>
{warnings}
"""
    tail = f"""{"".join(parts)}
{safety}
{_dr_table(summary)}
{record_vs_scenario_table(run)}
<h2>Units</h2>
<table><tr><th>unit</th><th>capacity MW</th><th>generated GWh</th><th>capacity factor</th></tr>
{units}</table>
<h2>Assumptions</h2><ul>{assumptions or "<li>none stated</li>"}</ul>
{_provenance(run)}
</body></html>
"""
    return head, tail


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
