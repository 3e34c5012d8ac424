"""report.html's figures: plain JSON for plotly.js, hourly series thinned exactly
where that draws the same, and to each bucket's minimum and maximum where a chart
cannot show more points than it has pixels."""

from __future__ import annotations

import json
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridhash.report.html import CHART_PIXELS, _mode_columns, _thin, figure_html


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, 2.5, float("nan")]), min_size=0, max_size=400))
def test_thinning_a_short_series_draws_the_same_line(values: list[float]) -> None:
    y = np.array(values)
    at = _thin(y, pixels=1000)  # short: only the exact step applies
    assert at.tolist() == sorted(set(at.tolist()))
    if y.size:
        assert at[0] == 0 and at[-1] == y.size - 1
    # every dropped point lies inside a run of equal values whose ends are kept,
    # so straight (and step) lines through the kept points pass through it
    kept = set(at.tolist())
    for i in range(y.size):
        if i not in kept:
            assert y[i - 1] == y[i] == y[i + 1]


def test_a_year_is_thinned_to_the_chart_and_keeps_its_spikes() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(1000.0, 50.0, 8760)
    y[4321] = 9999.0  # a one-hour spike
    y[77] = -5.0
    y[6000:6003] = np.nan  # a gap
    at = _thin(y)
    assert at.size <= 2 * CHART_PIXELS + 3
    assert 4321 in at and 77 in at and at[0] == 0 and at[-1] == 8759
    assert np.isnan(y[at]).any()  # the gap is still drawn as a gap
    k = -(-8760 // CHART_PIXELS)  # each bucket keeps its extremes
    for b in range(0, 8760, k):
        part = y[b:b + k]
        if np.isfinite(part).all():
            kept = y[at[(at >= b) & (at < b + k)]]
            assert kept.max() == part.max() and kept.min() == part.min()


def test_mode_columns_draw_every_hour_the_same() -> None:
    modes = np.zeros((3, 500), dtype=np.int8)
    modes[0, 100:140] = 2
    modes[1, 250] = 4  # a one-hour refuelling blip
    modes[2, 300:] = 3
    cols, z = _mode_columns(modes)
    assert cols[:2].tolist() == [0, 1] and cols[-2:].tolist() == [498, 499]
    # a heatmap cell reaches half-way to its neighbours: each hour gets the mode
    # of the nearest column, which must be its own
    nearest = np.abs(np.arange(500)[:, None] - cols[None, :]).argmin(axis=1)
    assert (z[:, nearest] == modes).all()
    many = np.tile(np.array([0, 1], dtype=np.int8), (2, 5000))
    cols, z = _mode_columns(many, pixels=100)  # too many changes: the worst per bucket
    assert cols.size == 100 and (z == 1).all()


def test_figure_html_is_plain_json_that_no_text_can_break_out_of() -> None:
    fig = {"data": [{"type": "bar", "x": ["</script><b>x"], "y": [1.0]}],
           "layout": {"title": {"text": "T"}, "height": 300}}
    page = figure_html(fig, "f0")
    assert "</script><b>" not in page and 'style="height:300px; width:100%;"' in page
    m = re.search(r"Plotly\.newPlot\(\"f0\", (\[.*?\]), (\{.*\}), \{\"displaylogo", page)
    assert m is not None
    assert json.loads(m.group(1))[0]["x"] == ["</script><b>x"]
    layout = json.loads(m.group(2))
    assert layout["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white
    assert layout["margin"]["l"] == 60
