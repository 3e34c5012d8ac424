"""Bad safety parts: clear errors naming the rule, event, line or field (exit code 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gridhash.errors import ScenarioError
from gridhash.safety import envelope_for
from gridhash.scenario.resolve import resolve

from conftest import tiny_scenario
from helpers import loaded, run_cli, write_scenario


def envelope_of(safety: dict[str, Any], hours: int = 48):
    ld = loaded(tiny_scenario(hours=hours, safety=safety))
    return envelope_for(ld, resolve(ld))


@pytest.mark.parametrize(
    ("safety", "field", "words"),
    [
        ({"disable_rules": ["no-such-rule"]}, "safety.disable_rules[0]", "unknown shipped rule"),
        ({"offsite": {"lines": ["L9"]}}, "safety.offsite.lines[0]", "unknown line 'L9'"),
        (
            {"events": [{"kind": "line_cut", "line": "L9", "hour": 1, "hours": 2}]},
            "safety.events[0].line",
            "unknown line 'L9'",
        ),
        (
            {"events": [{"kind": "safety_hold", "hour": 40, "hours": 20}]},
            "safety.events[0].hours",
            "runs past the end of the horizon",
        ),
        (
            {"events": [{"kind": "safety_hold", "start": "2026-12-31T00:00:00Z", "hours": 2}]},
            "safety.events[0]",
            "outside the horizon",
        ),
        (
            {"rules": [{"name": "r", "when": "offsite_lines < 1 and offsite_lines > 1",
                        "actions": [{"block_mining": True}]}]},
            "safety.rules[0].when",
            "can never hold",
        ),
        (
            {"rules": [{"name": "r", "when": "communications == 2",
                        "actions": [{"block_mining": True}]}]},
            "safety.rules[0].when",
            "can never hold",
        ),
        (
            {"rules": [{"name": "r", "when": "reactor_temperature > 300",
                        "actions": [{"block_mining": True}]}]},
            "safety.rules[0].when",
            "unknown quantity 'reactor_temperature'",
        ),
        (
            {"rules": [{"name": "r", "when": "line:L7 == 0",
                        "actions": [{"block_mining": True}]}]},
            "safety.rules[0].when",
            "unknown line 'L7'",
        ),
        (
            {"rules": [{"name": "r", "when": "offsite_lines ~ 1",
                        "actions": [{"block_mining": True}]}]},
            "safety.rules[0].when",
            "cannot read the clause",
        ),
        (
            {"rules": [{"name": "r", "when": "staff_on_shift < 5",
                        "actions": [{"block_mining": True}]}]},
            "safety.rules[0].when",
            "does not give",
        ),
        (
            {"rules": [{"name": "fast-cold", "when": "offsite_lines == 0",
                        "actions": [{"mode": "cold_shutdown", "within_hours": 6}]}]},
            "safety.rules[0].actions[0].within_hours",
            "cannot be met",
        ),
        (
            {"rules": [{"name": "backwards", "when": "offsite_lines == 0",
                        "actions": [{"mode": "cold_shutdown", "within_hours": 20},
                                    {"mode": "hot_shutdown", "within_hours": 30}]}]},
            "safety.rules[0].actions[0]",
            "contradicts itself",
        ),
        (
            {"rules": [{"name": "r", "when": "offsite_lines == 0",
                        "actions": [{"mode": "hot_shutdown", "units": ["U9"]}]}]},
            "safety.rules[0].actions[0].units",
            "unknown unit 'U9'",
        ),
        (
            {"units": [{"name": "U9", "initial_mode": "cold_shutdown"}]},
            "safety.units[0].name",
            "unknown unit 'U9'",
        ),
        (
            {"events": [{"kind": "staff", "hour": 1, "hours": 2, "value": 3}]},
            "safety.events[0]",
            "needs a level",
        ),
        (
            {"transitions": [{"mode": "hot_shutdown", "to": "cold_shutdown", "min_hours": 70}]},
            "ts-offsite-power-lost",
            "cannot be met",
        ),
    ],
)
def test_errors_name_the_rule_event_or_field(safety: dict[str, Any], field: str, words: str
                                             ) -> None:
    with pytest.raises(ScenarioError) as info:
        envelope_of(safety)
    text = str(info.value)
    assert field in text and words in text, text


@pytest.mark.parametrize(
    ("safety", "words"),
    [
        ({"rules": [{"name": "r", "when": "x", "actions": [{}]}]}, "exactly one of"),
        ({"rules": [{"name": "r", "when": "x",
                     "actions": [{"block_mining": True, "mode": "hot_shutdown"}]}]},
         "exactly one of"),
        ({"transitions": [{"mode": "cold_shutdown", "to": "power_operation", "min_hours": 1}]},
         "not an allowed transition"),
        ({"events": [{"kind": "line_cut", "hour": 1, "hours": 2}]}, "needs line"),
        ({"events": [{"kind": "safety_hold", "hours": 2}]}, "exactly one of start"),
        ({"rules": [{"name": "r", "when": "offsite_lines == 0",
                     "actions": [{"block_mining": True}]}] * 2}, "duplicate rule name"),
    ],
)
def test_schema_errors(safety: dict[str, Any], words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        envelope_of(safety)
    assert words in str(info.value)


def test_cli_exit_code_2_without_traceback(tmp_path: Path) -> None:
    data = tiny_scenario(
        safety={"events": [{"kind": "line_cut", "line": "Nowhere", "hour": 1, "hours": 2}]}
    )
    path = write_scenario(tmp_path, data)
    for command in (["safety", str(path)], ["run", str(path), "--out", str(tmp_path / "o")]):
        res = run_cli(*command)
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        assert "safety.events[0].line" in res.stderr and "Nowhere" in res.stderr
