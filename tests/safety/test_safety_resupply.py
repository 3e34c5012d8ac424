"""Diesel fuel resupply answers a loss of off-site power, whenever it falls (the issue:
deliveries on the scenario's fixed dates only, so every long sampled loss at another
time ran the tanks dry)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_safety_rules import H0, cut, envelope

from gridhash.safety.state import fuel_levels, restock_hours_after_losses, resupply_deliveries


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


# Restocking after a loss (safety.diesel.restock_hours): the tanks are topped back up
# to fuel_days once off-site power is back, so short losses no longer eat the reserve
# of the next long one.

def test_restock_hours_by_hand() -> None:
    on = np.zeros(300, dtype=bool)
    on[10:20] = True  # back at 20
    on[100:105] = True  # back at 105
    on[290:] = True  # still on diesel at the end: no restock
    assert np.flatnonzero(restock_hours_after_losses(on, 48.0)).tolist() == [68, 153]
    assert np.flatnonzero(restock_hours_after_losses(on, 0.0)).tolist() == [20, 105]
    assert not restock_hours_after_losses(on, 300.0).any()  # beyond the horizon
    later = np.zeros_like(on)
    later[7:] = on[:-7]  # the same losses 7 h later, on a second path
    both = restock_hours_after_losses(np.stack([on, later]), 48.0)
    assert np.flatnonzero(both[1]).tolist() == [75, 160]


def _loop(fuel0: float, delivery: np.ndarray, burn: np.ndarray, restock: np.ndarray
          ) -> np.ndarray:
    """The oracle: hour by hour, top up, deliver, report, burn, floor at zero."""
    out = np.empty(len(burn))
    p = fuel0
    for t in range(len(burn)):
        if restock[t] and t > 0:
            p = max(p, fuel0)
        p += delivery[t]
        out[t] = p if p >= 1e-9 else 0.0
        p = max(0.0, p - burn[t])
    return out


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 20.0), st.integers(2, 400))
def test_fuel_levels_with_restock_are_the_loop(seed: int, fuel0: float, T: int) -> None:
    rng = np.random.default_rng(seed)
    on = rng.random((3, T)) < rng.uniform(0.05, 0.9)
    burn = on / 24.0
    delivery = np.where(rng.random(T) < 0.02, rng.uniform(0.0, 10.0, T), 0.0)
    restock = rng.random((3, T)) < 0.05
    got = fuel_levels(fuel0, delivery, burn, restock)
    for p in range(3):
        np.testing.assert_allclose(got[p], _loop(fuel0, delivery, burn[p], restock[p]),
                                   rtol=1e-9, atol=1e-9)
    # without a restock, the same as before the option existed
    none = np.zeros_like(restock)
    np.testing.assert_array_equal(fuel_levels(fuel0, delivery, burn, none),
                                  fuel_levels(fuel0, delivery, burn))
    for p in range(3):
        np.testing.assert_allclose(fuel_levels(fuel0, delivery, burn)[p],
                                   _loop(fuel0, delivery, burn[p], none[p]),
                                   rtol=1e-9, atol=1e-9)


def test_short_losses_no_longer_eat_the_reserve_of_a_long_one() -> None:
    """Four 2-day losses, then a 30-day one: without restocking the tanks hold 2 days
    when the long loss begins and run dry before the first convoy (6 days in); topped
    back up 48 h after each loss, they hold 10 and never do."""
    short = [cut(line, 48, start) for start in (24, 120, 216, 312) for line in ("L1", "L2")]
    long = [cut(line, 720, 480) for line in ("L1", "L2")]
    base = {"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 10.0,
            "required_fuel_days": 0.0}
    kept = envelope(hours=1300, diesel=base, events=short + long)
    topped = envelope(hours=1300, diesel=base | {"restock_hours": 48.0}, events=short + long)
    start = 480
    assert kept.state.quantities["diesel_fuel_days"][start] == pytest.approx(2.0)
    assert (kept.diesel_cap_mw[start + 48 : start + 144] == 0.0).all()  # dry until the convoy
    assert topped.state.quantities["diesel_fuel_days"][start] == pytest.approx(10.0)
    assert (topped.diesel_cap_mw[start : start + 720] == 10.0).all()
    # the sweep's path-by-path recomputation restocks the same way
    q, cap = topped.state.with_lines(topped.state.line_in_service[None],
                                        np.full(1300, 10.0))
    np.testing.assert_array_equal(q["diesel_fuel_days"][0],
                                  topped.state.quantities["diesel_fuel_days"])
    np.testing.assert_array_equal(cap[0], topped.diesel_cap_mw)
