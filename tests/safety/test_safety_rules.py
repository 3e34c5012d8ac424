"""Each shipped rule on a hand-built state series, with the envelope worked out by hand.

The plant is ``tiny_scenario``: U1 (100 MW, minimum 40 MW, ramps 30 MW/h) and
U2 (50 MW, no ramp limit), house load 10 MW, two lines L1/L2 (both off-site
circuits), one 30 MW mining site.  Shipped transition times: hot → cold shutdown
12 h; cold → hot shutdown 24 h, hot shutdown → hot standby 6 h, hot standby →
power 2 h.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gridhash.pipeline import run_scenario
from gridhash.safety import envelope_for
from gridhash.safety.envelope import Envelope
from gridhash.scenario.resolve import resolve

from conftest import tiny_scenario
from helpers import loaded

P, HSB, HSD, CSD, RF = range(5)
H0 = 10  # events start here


def envelope(hours: int = 200, events: list[dict[str, Any]] | None = None, **safety: Any
             ) -> Envelope:
    part = {
        "diesel": {"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 20.0,
                   "required_fuel_days": 7.0},
        **safety,
        "events": events or [],
    }
    ld = loaded(tiny_scenario(hours=hours, safety=part))
    env = envelope_for(ld, resolve(ld))
    assert env is not None
    return env


def cut(line: str, hours: int, hour: int = H0) -> dict[str, Any]:
    return {"kind": "line_cut", "line": line, "hour": hour, "hours": hours}


def modes(env: Envelope, unit: int = 0) -> np.ndarray:
    return env.unit_mode[unit]


def active(env: Envelope, rule: str) -> np.ndarray:
    """Hours where the rule's actions (not its approach) are in force."""
    out = np.zeros(env.hours, dtype=bool)
    for a in env.activations:
        if a.rule == rule and a.kind == "action":
            out[a.start : a.end] = True
    return out


# --------------------------------------------------------------------------- #
# Technical-Specification rules
# --------------------------------------------------------------------------- #


def test_one_offsite_circuit_restored_within_78_hours_keeps_units_at_power() -> None:
    # Restore within 72 h, else hot shutdown within a further 6 h: a cut lasting
    # 78 h (last hour elapsed 77) never needs the shutdown.
    env = envelope(events=[cut("L2", 78)])
    assert (modes(env) == P).all()
    assert np.allclose(env.unit_cap_mw[0], 100.0)
    assert not active(env, "ts-offsite-circuit-lost").any()


def test_one_offsite_circuit_lost_for_79_hours_forces_hot_shutdown_at_hour_78() -> None:
    env = envelope(events=[cut("L2", 79)])
    due = H0 + 78
    # Worked by hand: U1 must be at 0 MW at `due`, ramping down 30 MW/h: caps
    # 100 (full) until due-4, then 90, 60, 30, 0.
    assert np.allclose(env.unit_cap_mw[0, : due - 3], 100.0)
    assert env.unit_cap_mw[0, due - 3 : due + 1].tolist() == [90.0, 60.0, 30.0, 0.0]
    assert modes(env)[due] == HSD and (modes(env)[:due] == P).all()
    # U2 has no ramp limit: full until the hour it must be off.
    assert env.unit_cap_mw[1, due - 1] == 50.0 and env.unit_cap_mw[1, due] == 0.0
    assert np.flatnonzero(active(env, "ts-offsite-circuit-lost")).tolist() == [due]
    # Restored at due+1: released, hot shutdown 6 h, hot standby 2 h, power at due+9.
    assert modes(env)[due + 1 : due + 7].tolist() == [HSD] * 6
    assert modes(env)[due + 7 : due + 9].tolist() == [HSB] * 2
    assert modes(env)[due + 9] == P


def test_one_offsite_circuit_lost_for_a_week_reaches_cold_shutdown_at_108_hours() -> None:
    env = envelope(hours=300, events=[cut("L2", 24 * 7)])
    m = modes(env)
    assert m[H0 + 77] == P and m[H0 + 78] == HSD
    # Cold shutdown due at 108 h; the 12 h cooldown starts at 96 h in hot shutdown.
    assert (m[H0 + 78 : H0 + 108] == HSD).all()
    assert m[H0 + 108] == CSD and m[H0 + 107] == HSD
    end = H0 + 24 * 7  # first hour with both lines back
    assert m[end - 1] == CSD
    # From cold shutdown: 24 h + 6 h + 2 h = 32 h before power.
    assert (m[end : end + 32] > P).all() and m[end + 32] == P


@pytest.mark.parametrize(("hours", "cold"), [(60, False), (61, True)])
def test_loss_of_all_offsite_power_trips_at_once_and_cold_shutdown_at_60_hours(
    hours: int, cold: bool
) -> None:
    env = envelope(events=[cut("L1", hours), cut("L2", hours)])
    m = modes(env)
    assert m[H0 - 1] == P and m[H0] == HSD  # trip: no ramp
    assert env.unit_cap_mw[:, H0].tolist() == [0.0, 0.0]
    assert not env.ramp_allowed[0, H0]
    assert (m[H0 + 60] == CSD) == cold
    # On diesel: generators supply house load (4 x 5 MW ≥ 10 MW), mining blocked.
    on = slice(H0, H0 + hours)
    assert np.allclose(env.diesel_cap_mw[on], 10.0)
    assert (env.diesel_cap_mw[: H0] == 0).all()
    assert not env.mining_allowed[on].any()
    assert active(env, "mining-not-on-diesel")[on].all()
    assert active(env, "mining-needs-two-offsite-lines")[on].all()


def test_diesel_generators_inoperable_restore_within_78_hours() -> None:
    ok = envelope(events=[{"kind": "diesel_generators", "hour": H0, "hours": 78, "value": 1}])
    assert (modes(ok) == P).all()
    bad = envelope(events=[{"kind": "diesel_generators", "hour": H0, "hours": 79, "value": 1}])
    assert modes(bad)[H0 + 78] == HSD and modes(bad)[H0 + 77] == P
    # Mining is not a diesel-generator matter: still allowed.
    assert bad.mining_allowed[H0 + 50]


@pytest.mark.parametrize(("delivery_hour", "shutdown"), [(126, False), (127, True)])
def test_diesel_fuel_below_seven_days_restore_within_126_hours(
    delivery_hour: int, shutdown: bool
) -> None:
    # 5 days on site, 7 required: the condition holds from hour 0 until a delivery.
    env = envelope(
        diesel={"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 5.0,
                "required_fuel_days": 7.0},
        events=[{"kind": "diesel_delivery", "hour": delivery_hour, "days": 3.0}],
    )
    fuel = env.state.quantities["diesel_fuel_days"]
    assert fuel[0] == 5.0 and fuel[delivery_hour] == 8.0  # not on diesel: nothing burnt
    assert (modes(env)[126] == HSD) == shutdown
    assert (modes(env)[:126] == P).all()


def test_fuel_burns_while_on_diesel_and_a_dry_tank_is_a_station_blackout() -> None:
    env = envelope(
        diesel={"generators": 4, "required": 2, "generator_mw": 5.0, "fuel_days": 1.0,
                "required_fuel_days": 0.0},
        events=[cut("L1", 48), cut("L2", 48)],
    )
    fuel = env.state.quantities["diesel_fuel_days"]
    # 1 day of fuel: 24 hours on diesel, then empty.
    assert fuel[H0] == pytest.approx(1.0) and fuel[H0 + 12] == pytest.approx(0.5)
    assert fuel[H0 + 23] > 0 and fuel[H0 + 24] == 0
    assert (env.diesel_cap_mw[H0 : H0 + 24] == 10.0).all()
    assert (env.diesel_cap_mw[H0 + 24 : H0 + 48] == 0.0).all()


@pytest.mark.parametrize(("hours", "shutdown"), [(6, False), (7, True)])
def test_cooling_water_below_minimum_hot_shutdown_within_6_hours(
    hours: int, shutdown: bool
) -> None:
    env = envelope(
        cooling={"level_m": 14.0, "minimum_m": 13.0},
        events=[{"kind": "cooling_water", "hour": H0, "hours": hours, "value": 12.5}],
    )
    assert (modes(env)[H0 + 6] == HSD) == shutdown
    if shutdown:
        # Planned descent from the onset: 100 → caps 90, 60, 30 in the 3 hours before.
        assert env.unit_cap_mw[0, H0 + 3 : H0 + 7].tolist() == [90.0, 60.0, 30.0, 0.0]
    else:
        assert (env.unit_cap_mw[0] == 100.0).all()


def test_physical_damage_blocks_mining_at_once_and_cold_shutdown_within_36_hours() -> None:
    env = envelope(events=[{"kind": "physical_damage", "hour": H0, "hours": 40}])
    assert not env.mining_allowed[H0 : H0 + 40].any() and env.mining_allowed[H0 - 1]
    assert modes(env)[H0 + 5] == P and modes(env)[H0 + 6] == HSD
    assert modes(env)[H0 + 35] == HSD and modes(env)[H0 + 36] == CSD


@pytest.mark.parametrize(("hours", "shutdown"), [(8, False), (9, True)])
def test_staff_below_minimum_blocks_mining_and_shutdown_after_8_hours(
    hours: int, shutdown: bool
) -> None:
    env = envelope(
        staff={"on_shift": 12, "minimum": 10},
        events=[{"kind": "staff", "hour": H0, "hours": hours, "value": 8}],
    )
    assert not env.mining_allowed[H0 : H0 + hours].any()
    assert env.mining_allowed[H0 - 1] and env.mining_allowed[H0 + 40]
    assert (modes(env)[H0 + 8] == HSD) == shutdown


@pytest.mark.parametrize("kind", ["monitoring_down", "comms_down"])
@pytest.mark.parametrize(("hours", "shutdown"), [(78, False), (79, True)])
def test_monitoring_and_communications_block_mining_then_shutdown_after_78_hours(
    kind: str, hours: int, shutdown: bool
) -> None:
    env = envelope(events=[{"kind": kind, "hour": H0, "hours": hours}])
    assert not env.mining_allowed[H0 : H0 + hours].any()
    assert (modes(env)[H0 + 78] == HSD) == shutdown


def test_a_rule_without_its_data_is_skipped_and_listed() -> None:
    env = envelope()  # no staff, no cooling water given
    skipped = dict(env.rules.skipped)
    assert "needs safety.staff.minimum" in skipped["pillar-3-staff"]
    assert "ts-cooling-water-low" in skipped
    assert "pillar-3-staff" not in {r.name for r in env.rules.rules}


# --------------------------------------------------------------------------- #
# Completion-time edge: hour 71 vs hour 72
# --------------------------------------------------------------------------- #


def test_completion_time_edge_hour_71_vs_72() -> None:
    rule = {
        "name": "block-after-72",
        "when": "line:L2 == 0",
        "actions": [{"block_mining": True, "within_hours": 72}],
    }
    env = envelope(events=[cut("L2", 100)], default_rules="none", rules=[rule])
    blocked = active(env, "block-after-72")
    assert not blocked[H0 + 71]  # the 72nd hour of the condition: still within 72 h
    assert blocked[H0 + 72]  # the 73rd: the completion time has passed
    assert env.mining_allowed[H0 + 71] and not env.mining_allowed[H0 + 72]
    assert env.rule_activations() == {"block-after-72": 1}


# --------------------------------------------------------------------------- #
# Mining rules
# --------------------------------------------------------------------------- #


def test_no_mining_on_a_single_offsite_line() -> None:
    env = envelope(events=[cut("L1", 5)])
    assert not env.mining_allowed[H0 : H0 + 5].any()
    assert env.mining_allowed[H0 - 1] and env.mining_allowed[H0 + 5]
    assert env.rule_activations()["mining-needs-two-offsite-lines"] == 1


def test_safety_hold_stops_mining_at_once() -> None:
    env = envelope(events=[{"kind": "safety_hold", "hour": H0, "hours": 3}])
    assert env.mining_allowed.tolist()[H0 - 1 : H0 + 4] == [True, False, False, False, True]
    assert (modes(env) == P).all()  # a hold stops mining, not the reactors


def test_mining_cap_keeps_the_margin_below_allowed_output() -> None:
    # Allowed output 150 MW, house 10, margin 120 → mining ≤ 20 MW (fleet can take 30).
    env = envelope(mining_margin_mw=120.0)
    assert np.allclose(env.mining_cap_mw, 20.0)
    env = envelope(mining_margin_mw=145.0)
    assert not env.mining_allowed.any()


def test_mining_is_shed_first_when_output_is_held_back() -> None:
    # A rule caps both units at 40 %: 40 + 20 = 60 MW allowed; house 10, margin 0;
    # the grid can take 80 MW (demand) over 100 MW of lines → nothing left to mine.
    rule = {"name": "derate", "when": "line:L2 == 0",
            "actions": [{"max_output_fraction": 0.4}]}
    env = envelope(events=[cut("L2", 5)], default_rules="none", rules=[rule],
                   mining_margin_mw=0.0)
    on = slice(H0, H0 + 5)
    assert np.allclose(env.unit_cap_mw[:, on].sum(axis=0), 60.0)
    assert (env.mining_cap_mw[on] == 0).all() and not env.mining_blocked[on].any()
    assert env.rule_activations() == {"derate": 1, "mining-first-shed": 1}
    # Before the derate: the fleet's own limit (28.25 MW of machines, cooling included).
    assert env.mining_cap_mw[H0 - 1] == pytest.approx(28.2534, abs=1e-4)


def test_dispatch_sheds_mining_before_the_grid_under_a_derate() -> None:
    rule = {"name": "derate", "when": "line:L2 == 0",
            "actions": [{"max_output_fraction": 0.4}]}
    data = tiny_scenario(hours=30, safety={"default_rules": "none", "rules": [rule],
                                           "mining_margin_mw": 0.0,
                                           "events": [cut("L2", 5)]})
    run = run_scenario(loaded(data))
    on = slice(H0, H0 + 5)
    assert np.allclose(run.result.total_mining_mw[on], 0.0)
    # L1 (60 MW) is the only line left: 60 MW allowed − 10 house = 50 to the grid.
    assert np.allclose(run.result.grid_mw[on], 50.0)
    assert run.result.total_mining_mw[H0 - 1] > 0


def test_docs_list_every_shipped_rule_and_quantity() -> None:
    from pathlib import Path

    from gridhash.safety.rules import QUANTITIES, shipped_rules

    doc = (Path(__file__).parents[2] / "docs" / "safety.md").read_text()
    for s in shipped_rules():
        assert f"`{s.rule.name}`" in doc and s.rule.when in doc, s.rule.name
    for name in QUANTITIES:
        assert f"`{name}`" in doc, name
