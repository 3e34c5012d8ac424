"""Property: any scenario document gives exit 0, or exit 2 with one ``error:`` line.

Documents are drawn by mutating a valid scenario at random places (the schema's
own field paths): a value replaced by any TOML value (numbers at the extremes,
text, booleans, dates, arrays, tables), a field removed, an unknown field added.
The CLI runs in-process; a traceback (any exception other than the ones the
entry point turns into exit 2) fails the test.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import tiny_scenario
from helpers import run_cli, write_scenario

BASE = tiny_scenario(hours=24, safety={
    "diesel": {"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 3.0},
    "events": [{"kind": "line_cut", "line": "L1", "hour": 5, "hours": 6, "reason": "cut"}],
})


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in the document, tables and arrays included."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(BASE)

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 24, 10**18, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e308, -1e308, 0.5, 1.5]),
    st.text(max_size=12),
    st.sampled_from(["", "8760", "L1", "S", "city", "profile", "\x1b[2J", "é"]),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31),
                 timezones=st.sampled_from([dt.UTC, None])),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            parent[last]  # still there after the earlier mutations?
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "remove":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(values)
    return doc


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc=documents())
def test_any_document_is_run_or_refused_in_one_line(tmp_path: Path, doc: dict[str, Any]) -> None:
    try:
        path = write_scenario(tmp_path, doc)
    except (TypeError, ValueError):  # not representable as TOML (tomli_w refuses it)
        return
    out = tmp_path / "out"
    res = run_cli("run", str(path), "--out", str(out))
    assert res.exit_code in (0, 2), res.output
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        assert res.stderr.startswith("error: ") and res.stderr.count("error:") == 1, res.output
        for ch in ("\x1b", "\x07"):
            assert ch not in res.output
    else:
        json.loads((out / "summary.json").read_text(),
                   parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
