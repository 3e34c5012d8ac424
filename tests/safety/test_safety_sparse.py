"""The event-sparse envelope equals the dense one it replaced, exactly.

``gridhash.safety.envelope.envelope_arrays`` evaluates rules on the hours their
conditions hold and builds the mode trajectory from the need's drops;
``envelope_reference.reference_envelope_arrays`` is the dense implementation it
replaced, frozen.  For random tiny scenarios (events, initial modes, outages,
ramp rates, margins, transition times including zeros, the scenario's own rules
with every kind of action and unit-specific actions), for many random paths at
once (a tiny scenario with random per-path cuts and forced outages, and the
built-in ``znpp`` sampled as :func:`gridhash.risk.sweep.run_paths` does) every
array the two return must be identical, and so must ``climb`` on random needs.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from envelope_reference import climb as reference_climb
from envelope_reference import reference_envelope_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gridhash.safety.envelope import Activation, climb, envelope_arrays, envelope_kwargs
from gridhash.safety.rules import DEFAULT_TRANSITIONS, build_ruleset, shipped_rules
from gridhash.safety.state import resolve_state
from gridhash.scenario.resolve import resolve
from gridhash.scenario.safety import MODES

from conftest import tiny_scenario
from helpers import SAFETY_EVENT_KINDS, loaded, safety_events

HOURS = 160
START = datetime(2027, 1, 1)
CSD = MODES.index("cold_shutdown")
_PAIRS = tuple(DEFAULT_TRANSITIONS)
_SHIPPED = {s.rule.name: s.rule for s in shipped_rules()}


def _stamp(hour: int) -> str:
    return (START + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _down(mode: str, tr: dict[tuple[str, str], int]) -> int:
    """Least hours from power operation down to ``mode`` (as the rule checks count them)."""
    d = MODES.index(mode)
    return sum(tr[(MODES[i], MODES[i + 1])] for i in range(d))


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray], what: str = "") -> None:
    """Same keys; every array the same shape, kind of dtype and values."""
    assert sorted(got) == sorted(want), what
    for k in want:
        g, w = np.asarray(got[k]), np.asarray(want[k])
        assert g.shape == w.shape, (what, k, g.shape, w.shape)
        # The kind, not the width: the sparse code keeps modes in int8 where the dense
        # one widened them to int64 when outages were present.
        assert g.dtype.kind == w.dtype.kind, (what, k, g.dtype, w.dtype)
        if not np.array_equal(g, w):
            bad = np.argwhere(g != w)
            first = tuple(int(i) for i in bad[0])
            raise AssertionError(
                f"{what} {k}: {len(bad)} entries differ, first at {first}: "
                f"production {g[first]!r}, reference {w[first]!r}"
            )


# --------------------------------------------------------------------------- #
# Strategies: tiny scenarios
# --------------------------------------------------------------------------- #

_hour = st.one_of(st.just(0), st.integers(0, HOURS - 1))
_window = st.tuples(_hour, st.integers(1, HOURS))


def events() -> st.SearchStrategy[list[dict[str, Any]]]:
    kinds = (*SAFETY_EVENT_KINDS[:4], "cooling_water", *SAFETY_EVENT_KINDS[4:])
    return safety_events(HOURS, _window, kinds)


@st.composite
def transitions(draw: st.DrawFn) -> dict[tuple[str, str], int]:
    """Overrides of the shipped minimum times: none, some or all of them, often zero."""
    out: dict[tuple[str, str], int] = {}
    for pair in _PAIRS:
        v = draw(st.one_of(st.none(), st.just(0), st.integers(0, 30)))
        if v is not None:
            out[pair] = v
    return out


# Clauses on one quantity each (the key); any two on different quantities can hold together.
_CLAUSES: dict[str, list[str]] = {
    "offsite_lines": ["offsite_lines <= 1", "offsite_lines == 0", "offsite_lines < 2"],
    "line:L1": ["line:L1 == 0", "line:L1 != 1"],
    "line:L2": ["line:L2 == 0"],
    "staff_on_shift": ["staff_on_shift < 11", "staff_on_shift < staff_minimum"],
    "diesel_generators": ["diesel_generators < 3",
                          "diesel_generators <= diesel_generators_required"],
    "diesel_fuel_days": ["diesel_fuel_days < 1.5"],
    "radiation_monitoring": ["radiation_monitoring == 0"],
    "communications": ["communications == 0"],
    "safety_hold": ["safety_hold == 1"],
    "physical_damage": ["physical_damage == 1"],
    "on_diesel": ["on_diesel == 1"],
    "cooling_water_level_m": ["cooling_water_level_m < 5", "cooling_water_level_m <= 4.5"],
}
_UNITS = st.sampled_from([None, [], ["U1"], ["U2"], ["U1", "U2"]])


@st.composite
def action(draw: st.DrawFn, tr: dict[tuple[str, str], int]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["mode", "max_output_fraction", "block_mining", "mining_cap_mw"]))
    a: dict[str, Any]
    if kind == "mode":
        mode = draw(st.sampled_from(["hot_standby", "hot_shutdown", "cold_shutdown"]))
        a = {"mode": mode, "within_hours": _down(mode, tr) + draw(st.integers(0, 40))}
    elif kind == "max_output_fraction":
        f = draw(st.one_of(st.sampled_from([0.0, 0.3, 0.5, 1.0]), st.floats(0.0, 1.0)))
        a = {"max_output_fraction": f, "within_hours": draw(st.integers(0, 40))}
    elif kind == "block_mining":
        a = {"block_mining": True, "within_hours": draw(st.integers(0, 30))}
    else:
        a = {"mining_cap_mw": draw(st.sampled_from([0.0, 5.0, 12.5, 40.0])),
             "within_hours": draw(st.integers(0, 30))}
    units = draw(_UNITS) if kind in ("mode", "max_output_fraction") else None
    if units is not None:
        a["units"] = units
    return a


def _no_contradiction(actions: list[dict[str, Any]]) -> None:
    """A deeper mode is never due before a shallower one for the same units (checked)."""
    latest: dict[frozenset[str], int] = {}
    modes = [a for a in actions if "mode" in a]
    for a in sorted(modes, key=lambda a: MODES.index(a["mode"])):
        key = frozenset(a.get("units") or ["*"])
        a["within_hours"] = max(a["within_hours"], latest.get(key, 0))
        latest[key] = a["within_hours"]


@st.composite
def custom_rules(draw: st.DrawFn, tr: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        keys = draw(st.lists(st.sampled_from(sorted(_CLAUSES)), min_size=1, max_size=2,
                             unique=True))
        when = " and ".join(draw(st.sampled_from(_CLAUSES[k])) for k in keys)
        acts = draw(st.lists(action(tr), min_size=1, max_size=3))
        _no_contradiction(acts)
        # Sometimes replace a shipped rule of the same name.
        names = [f"custom-{i}", f"custom-{i}"] + (["mining-safety-hold"] if i == 0 else [])
        name = draw(st.sampled_from(names))
        out.append({"name": name, "when": when, "actions": acts})
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    overrides = draw(transitions())
    tr = {**DEFAULT_TRANSITIONS, **overrides}
    # Shipped rules that the drawn transition times make impossible to meet are left out.
    impossible = sorted(
        name for name, rule in _SHIPPED.items()
        if any(a.mode is not None and a.within_hours < _down(a.mode, tr) for a in rule.actions)
    )
    units = [{"name": u, "initial_mode": draw(st.sampled_from(MODES))}
             for u in draw(st.sampled_from([[], ["U1"], ["U2"], ["U1", "U2"]]))]
    safety = {
        "diesel": {
            "generators": draw(st.integers(0, 4)),
            "required": 2,
            "generator_mw": 5.0,
            "fuel_days": draw(st.floats(0.0, 3.0)),
            "required_fuel_days": draw(st.sampled_from([0.0, 1.0])),
        },
        "staff": {"on_shift": 12, "minimum": 10},
        "cooling": {"level_m": 10.0, "minimum_m": 5.0},
        "mining_margin_mw": draw(st.sampled_from([0.0, 20.0, 60.0])),
        "units": units,
        "transitions": [{"mode": a, "to": b, "min_hours": v} for (a, b), v in overrides.items()],
        "default_rules": draw(st.sampled_from(["all", "all", "mining", "none"])),
        "disable_rules": impossible,
        "rules": draw(custom_rules(tr)),
        "events": draw(events()),
    }
    data = tiny_scenario(hours=HOURS, safety=safety)
    plant = data["plant"]["units"]
    plant[0]["ramp_down_mw_per_h"] = draw(st.sampled_from([15.0, 30.0, 100.0]))
    u2_ramp = draw(st.sampled_from([None, 10.0, 25.0]))
    if u2_ramp is not None:
        plant[1]["ramp_down_mw_per_h"] = u2_ramp
    plant[1]["min_stable_mw"] = draw(st.sampled_from([0.0, 20.0]))
    for u in plant:
        windows = []
        for _ in range(draw(st.integers(0, 2))):
            h, d = draw(_window)
            windows.append({"start": _stamp(h), "hours": min(d, HOURS - h),
                            "reason": draw(st.sampled_from(["", "refuelling"]))})
        if windows:
            u["outages"] = windows
    return data


def built(data: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(inputs, state, rules) of a scenario, as :func:`gridhash.safety.envelope_for` builds them."""
    ld = loaded(data)
    inputs = resolve(ld)
    state = resolve_state(ld, inputs)
    safety = ld.scenario.safety
    assert safety is not None
    rules = build_ruleset(safety, lines=inputs.line_names,
                          provided=set(state.provided), source=ld.source)
    return inputs, state, rules


def path_kwargs(kw: dict[str, Any], k: int, n: int) -> dict[str, Any]:
    """Path ``k``'s arrays (no leading axis) out of batched keyword arguments."""
    out = dict(kw)
    out["quantities"] = {q: (v[k] if v.ndim == 2 else v) for q, v in kw["quantities"].items()}
    for name in ("unit_available_mw", "unit_min_mw", "outage_depth", "line_in_service"):
        v = kw[name]
        out[name] = v[k] if v.ndim == 3 and v.shape[0] == n else v
    return out


# --------------------------------------------------------------------------- #
# 1. One path of a tiny scenario
# --------------------------------------------------------------------------- #


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_single_path_equals_the_dense_reference(data: dict[str, Any]) -> None:
    inputs, state, rules = built(data)
    kw = envelope_kwargs(inputs, state)
    want, _ = reference_envelope_arrays(inputs, rules, **kw)
    got, acts = envelope_arrays(inputs, rules, **kw)
    assert acts == []
    assert_same(got, want, "explain=False")
    # With explanations: the same arrays, and activations that are Activations.
    got_x, acts_x = envelope_arrays(inputs, rules, **kw, explain=True)
    assert_same(got_x, want, "explain=True")
    assert np.array_equal(got_x["restricted"], want["restricted"])
    assert all(isinstance(a, Activation) for a in acts_x)
    assert all(0 <= a.start < a.end <= HOURS for a in acts_x)
    # Restricted hours are exactly the union of what the activations explain.
    explained = np.zeros(HOURS, dtype=bool)
    for a in acts_x:
        explained[a.start : a.end] = True
    assert np.array_equal(explained, want["restricted"])


# --------------------------------------------------------------------------- #
# 1b. Many paths of a tiny scenario: random per-path cuts and forced outages
# --------------------------------------------------------------------------- #


@st.composite
def masks(draw: st.DrawFn, n: int, rows: int) -> np.ndarray:
    """(n, rows, HOURS) bool: True except in a few random windows (some touching the ends)."""
    out = np.ones((n, rows, HOURS), dtype=bool)
    for _ in range(draw(st.integers(0, 2 * n))):
        p, r = draw(st.integers(0, n - 1)), draw(st.integers(0, rows - 1))
        h = draw(st.one_of(st.just(0), st.integers(0, HOURS - 1)))
        d = draw(st.one_of(st.just(HOURS), st.integers(1, HOURS)))
        out[p, r, h : h + d] = False
    return out


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_tiny_paths_batched_equal_the_reference_and_single_paths(data: st.DataObject) -> None:
    inputs, state, rules = built(data.draw(scenarios()))
    n = data.draw(st.integers(1, 4))
    L, U = state.line_in_service.shape[0], inputs.unit_available_mw.shape[0]
    line_up = data.draw(masks(n, L))
    unit_up = data.draw(masks(n, U))
    # As gridhash.risk.sweep.run_paths builds each path's plant.
    lines = state.line_in_service[None] & line_up
    q, _ = state.with_lines(lines, inputs.house_load_mw)
    avail = inputs.unit_available_mw[None] * unit_up
    umin = np.where(avail > 0, inputs.unit_min_mw, 0.0)
    forced = (avail <= 0) & (state.unit_outage_depth[None] == 0)
    depth = np.where(forced, CSD, state.unit_outage_depth[None])
    kw = dict(quantities=q, unit_available_mw=avail, unit_min_mw=umin, outage_depth=depth,
              initial_depth=state.unit_initial_depth, line_in_service=lines,
              margin_mw=state.margin_mw)
    want, _ = reference_envelope_arrays(inputs, rules, **kw)
    got, acts = envelope_arrays(inputs, rules, **kw, explain=True)
    assert acts == []  # explanations are for one path only
    assert_same(got, want, "batched")
    for k in range(n):
        one, _ = envelope_arrays(inputs, rules, **path_kwargs(kw, k, n))
        assert_same(one, {key: v[k] for key, v in got.items()}, f"path {k} alone")
    if n == 4:  # two leading axes: (2, 2) paths
        def square(v: np.ndarray) -> np.ndarray:
            return v.reshape(2, 2, *v.shape[1:]) if v.ndim >= 2 and v.shape[0] == n else v

        kw2 = {k: square(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        kw2["quantities"] = {k: square(v) for k, v in q.items()}
        got2, _ = envelope_arrays(inputs, rules, **kw2)
        assert_same(got2, {k: square(v) for k, v in got.items()}, "(2, 2) paths")


# --------------------------------------------------------------------------- #
# 2. Many paths of znpp, sampled as the risk sweep samples them
# --------------------------------------------------------------------------- #


@functools.cache
def _znpp() -> tuple[Any, Any, Any, Any]:
    from gridhash.scenario.load import load_scenario

    ld = load_scenario("znpp")
    inputs = resolve(ld)
    state = resolve_state(ld, inputs)
    assert ld.scenario.safety is not None
    rules = build_ruleset(ld.scenario.safety, lines=inputs.line_names,
                          provided=set(state.provided), source=ld.source)
    return ld, inputs, state, rules


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1),
       ids=st.lists(st.integers(0, 100_000), min_size=1, max_size=8, unique=True))
def test_znpp_paths_batched_equal_the_reference_and_single_paths(seed: int, ids: list[int]
                                                                 ) -> None:
    from gridhash.risk.models import sample_paths
    from gridhash.risk.sweep import _select_units

    ld, i, st_, rules = _znpp()
    rp = sample_paths(i, np.asarray(ids, dtype=np.int64), seed=seed, scenario=ld)
    n = len(ids)
    # As gridhash.risk.sweep.run_paths does.
    avail = rp.unit_available_mw(i)
    umin = np.where(avail > 0, i.unit_min_mw, 0.0)
    lines = st_.line_in_service[None] & rp.line_in_service
    q, _ = st_.with_lines(lines, i.house_load_mw)
    forced = (avail <= 0) & (st_.unit_outage_depth[None] == 0)
    depth = np.where(forced, CSD, st_.unit_outage_depth[None])
    on = (avail > 0).any(axis=(0, 2))
    sub = _select_units(i, on)
    kw = dict(quantities=q, unit_available_mw=avail[:, on], unit_min_mw=umin[:, on],
              outage_depth=depth[:, on], initial_depth=st_.unit_initial_depth[on],
              line_in_service=lines, margin_mw=st_.margin_mw)
    want, _ = reference_envelope_arrays(sub, rules, **kw)
    got, _ = envelope_arrays(sub, rules, **kw)
    assert_same(got, want, f"znpp seed={seed} ids={ids}")
    for k in range(n):
        one, _ = envelope_arrays(sub, rules, **path_kwargs(kw, k, n))
        assert_same(one, {key: v[k] for key, v in got.items()},
                    f"znpp seed={seed} ids={ids} path {ids[k]} alone")


# --------------------------------------------------------------------------- #
# 3. climb on random needs
# --------------------------------------------------------------------------- #


@st.composite
def climb_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict[tuple[str, str], int]]:
    T = draw(st.integers(1, 80))
    lead = draw(st.sampled_from([(), (1,), (3,)]))
    rows = draw(st.integers(1, 5))
    sparse = draw(st.booleans())
    dtype = draw(st.sampled_from([np.int8, np.int64]))
    need = draw(arrays(dtype, (*lead, rows, T), elements=st.integers(0, 4),
                       fill=st.just(0) if sparse else None))
    initial = draw(arrays(np.int64, (rows,), elements=st.integers(0, 4)))
    tr = {pair: draw(st.one_of(st.just(0), st.integers(0, 30))) for pair in _PAIRS}
    return need, initial, tr


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(climb_cases())
def test_climb_equals_the_dense_reference(
    case: tuple[np.ndarray, np.ndarray, dict[tuple[str, str], int]],
) -> None:
    need, initial, tr = case
    want = reference_climb(need, initial, tr)
    got = climb(need.copy(), initial.copy(), tr)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want), (need.tolist(), initial.tolist(), tr, got, want)
    assert (got >= need).all()
