"""Property tests: for random plant states and events, the dispatch obeys the envelope."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridhash.pipeline import run_scenario
from gridhash.scenario.safety import MODES

from conftest import tiny_scenario
from helpers import loaded, safety_events

HOURS = 96
TOL = 1e-6

_window = st.tuples(st.integers(0, HOURS - 1), st.integers(1, 80))


def events() -> st.SearchStrategy[list[dict[str, Any]]]:
    return safety_events(HOURS, _window)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    safety = {
        "diesel": {
            "generators": draw(st.integers(0, 4)),
            "required": 2,
            "generator_mw": 5.0,
            "fuel_days": draw(st.floats(0.0, 3.0)),
            "required_fuel_days": draw(st.sampled_from([0.0, 1.0])),
        },
        "staff": {"on_shift": 12, "minimum": 10},
        "mining_margin_mw": draw(st.sampled_from([0.0, 20.0, 60.0])),
        "units": [{"name": "U1", "initial_mode": draw(st.sampled_from(MODES[:4]))}],
        "events": draw(events()),
    }
    data = tiny_scenario(hours=HOURS, safety=safety)
    data["plant"]["units"][0]["ramp_down_mw_per_h"] = draw(st.sampled_from([15.0, 30.0, 100.0]))
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_dispatch_obeys_the_envelope(data: dict[str, Any]) -> None:
    run = run_scenario(loaded(data))
    env, r = run.envelope, run.result
    assert env is not None
    m = r.total_mining_mw
    # Never mines while mining is blocked; never above the envelope's cap.
    assert (m[~env.mining_allowed] <= TOL).all()
    assert (m <= env.mining_cap_mw + TOL).all()
    # Units never above the envelope, and off outside power operation.
    assert (r.unit_mw <= env.unit_cap_mw + TOL).all()
    assert (r.unit_mw[env.unit_mode != 0] <= TOL).all()
    # Energy balance, every hour.
    supply = r.generation_mw + r.imported_mw + r.diesel_mw + r.blackout_mw
    demand = run.inputs.house_load_mw + r.grid_mw + m
    assert np.allclose(supply, demand, atol=1e-5)
    # Mining never runs on imports or diesel; diesel only when no off-site line is up.
    assert (r.imported_mw[m > TOL] <= TOL).all()
    assert (r.diesel_mw[~env.on_diesel] <= TOL).all()
    mining = m > TOL
    own = r.generation_mw - run.inputs.house_load_mw
    assert (m[mining] <= own[mining] + TOL).all()


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_modes_respect_the_minimum_times(data: dict[str, Any]) -> None:
    from gridhash.safety import envelope_for
    from gridhash.scenario.resolve import resolve

    ld = loaded(data)
    env = envelope_for(ld, resolve(ld))
    assert env is not None
    for u in range(env.unit_mode.shape[0]):
        mode = env.unit_mode[u]
        # Going up, one step at a time, after at least the step's minimum time in the
        # mode left (shipped: cold → hot shutdown 24 h, → hot standby 6 h, → power 2 h).
        assert (np.diff(mode) >= -1).all()
        up = {3: 24, 2: 6, 1: 2, 4: 0}
        for t in np.flatnonzero(np.diff(mode) == -1) + 1:
            j = int(mode[t - 1])
            start = t - 1
            while start > 0 and mode[start - 1] == j:
                start -= 1
            assert t - start >= up[j], (u, t, j)
        # Output only in power operation.
        assert (env.unit_cap_mw[u][mode > 0] == 0).all()
