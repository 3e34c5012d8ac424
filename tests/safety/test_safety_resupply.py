"""Diesel fuel resupply answers a loss of off-site power, whenever it falls (the issue:
deliveries on the scenario's fixed dates only, so every long sampled loss at another
time ran the tanks dry)."""

from __future__ import annotations

import numpy as np
import pytest
from test_safety_rules import H0, cut, envelope

from gridhash.safety.state import resupply_deliveries


def test_deliveries_by_hand() -> None:
    on = np.zeros(1000, dtype=bool)
    on[100:500] = True  # a 400 h loss
    on[600:700] = True  # a 100 h loss: over before the first convoy
    d = resupply_deliveries(on, 144.0, 10.0)
    assert np.flatnonzero(d).tolist() == [244, 484]  # 144 h in, then every 240 h
    assert d[244] == d[484] == 10.0
    assert not resupply_deliveries(on, 144.0, 0.0).any()  # turned off
    # paths on a leading axis, each on its own
    both = resupply_deliveries(np.stack([on, np.roll(on, 50)]), 144.0, 10.0)
    assert np.flatnonzero(both[1]).tolist() == [294, 534]
    np.testing.assert_array_equal(both[0], d)


def long_loss(**diesel: float):
    base = {"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 10.0,
            "required_fuel_days": 0.0}
    return envelope(hours=900, diesel=base | diesel,
                    events=[cut("L1", 720), cut("L2", 720)])  # 30 days, no dated delivery


def test_a_30_day_loss_is_resupplied_and_never_runs_dry() -> None:
    env = long_loss()
    fuel = env.state.quantities["diesel_fuel_days"]
    loss = slice(H0, H0 + 720)
    assert (env.diesel_cap_mw[loss] == 10.0).all()  # the house load, every hour
    assert fuel[loss].min() > 3.9  # 10 days, burnt to 4 by the first convoy, then held
    assert fuel[H0 + 144] == pytest.approx(10.0 - 144 / 24 + 10.0)


def test_without_resupply_the_tanks_run_dry_after_ten_days() -> None:
    env = long_loss(resupply_days=0.0)
    fuel = env.state.quantities["diesel_fuel_days"]
    assert fuel[H0 + 240] == 0.0 and (env.diesel_cap_mw[H0 + 240 : H0 + 720] == 0.0).all()


def test_sampled_losses_at_any_time_are_resupplied() -> None:
    """The risk sweep recomputes fuel for each path's lines (PlantState.with_lines):
    a loss the scenario never dated gets its convoys too."""
    env = envelope(hours=900, diesel={"generators": 4, "required": 2, "generator_mw": 5.0,
                                      "fuel_days": 10.0, "required_fuel_days": 0.0})
    st = env.state
    lines = np.ones((3, *st.line_in_service.shape), dtype=bool)
    for p, start in enumerate((50, 200, 400)):  # three paths, a 20-day loss at three times
        lines[p, :, start : start + 480] = False
    q, diesel = st.with_lines(lines, np.full(900, 10.0))
    for p, start in enumerate((50, 200, 400)):
        assert (diesel[p, start : start + 480] == 10.0).all(), p
        assert q["diesel_fuel_days"][p, start + 144] == pytest.approx(14.0)
