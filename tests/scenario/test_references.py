"""Cross-references are checked by the schema: every command refuses the same input alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gridhash.errors import ScenarioError

from conftest import tiny_scenario
from helpers import loaded, run_cli, write_scenario

AGREEMENT: dict[str, Any] = {
    "name": "deal",
    "parties": [{"id": "a", "name": "A", "role": "owner"}],
    "entitlements": {"a": 1.0},
    "mining": {"owners": {"a": 1.0}, "energy_price_usd_per_mwh": 40.0},
    "approval": {"role": "owner", "required": 1},
}


def _with(safety: dict[str, Any] | None = None, **agreement: Any) -> dict[str, Any]:
    data = tiny_scenario(hours=48, **({"safety": safety} if safety is not None else {}))
    if agreement:
        data["agreements"] = [AGREEMENT | agreement]
    return data


CASES = [
    (_with({"events": [{"kind": "line_cut", "line": "L9", "hour": 1, "hours": 2}]}),
     "safety.events[0].line", "unknown line 'L9' in a line_cut event"),
    (_with({"offsite": {"lines": ["L1", "L9"]}}), "safety.offsite.lines[1]", "unknown line 'L9'"),
    (_with({"units": [{"name": "U9", "initial_mode": "cold_shutdown"}]}),
     "safety.units[0].name", "unknown unit 'U9'"),
    (_with({"rules": [{"name": "r", "when": "line:L7 == 0", "actions": [{"block_mining": True}]}]}),
     "safety.rules[0].when", "unknown line 'L7' in the condition"),
    (_with({"rules": [{"name": "r", "when": "offsite_lines == 0",
                       "actions": [{"mode": "hot_shutdown", "units": ["U1", "U9"]}]}]}),
     "safety.rules[0].actions[0].units", "unknown unit 'U9'"),
    (_with({"events": [{"kind": "safety_hold", "hour": 47, "hours": 2}]}),
     "safety.events[0].hours", "runs past the end of the horizon"),
    (_with({"events": [{"kind": "safety_hold", "hour": 48, "hours": 1}]}),
     "safety.events[0]", "outside the horizon"),
    (_with({"events": [{"kind": "staff", "hour": 1, "hours": 2, "value": 3}]}),
     "safety.events[0]", "needs a level"),
    (_with({"staff": {"on_shift": 9},
            "events": [{"kind": "staff", "hour": 1, "hours": 2, "value": 2.5}]}),
     "safety.events[0].value", "is a count"),
    (_with(obligations=[{"offtake": "nowhere", "mw": 1.0}]),
     "agreements[0].obligations[0].offtake", "unknown offtake 'nowhere'"),
    (_with(prices=[{"offtake": "nowhere", "price_usd_per_mwh": 50.0}]),
     "agreements[0].prices[0].offtake", "unknown offtake 'nowhere'"),
]


@pytest.mark.parametrize(("data", "field", "words"), CASES)
def test_the_schema_refuses_unknown_names(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        loaded(data)
    assert info.value.field == field, str(info.value)
    assert words in str(info.value)


def test_a_good_scenario_with_every_reference_passes() -> None:
    data = _with({"offsite": {"lines": ["L1"]}, "units": [{"name": "U2",
                                                           "initial_mode": "cold_shutdown"}],
                  "events": [{"kind": "line_cut", "line": "L2", "hour": 46, "hours": 2}],
                  "rules": [{"name": "r", "when": "line:L1 == 0 and offsite_lines < 1",
                             "actions": [{"mode": "hot_shutdown", "units": ["U1"]}]}]},
                 obligations=[{"offtake": "city", "mw": 1.0}])
    assert loaded(data).scenario.safety is not None


# The same bad input, through every command that reads a scenario: exit 2, the same field.
COMMANDS = [
    ("run",), ("safety",), ("risk", "--paths", "2"), ("size", "--paths", "2"),
    ("compare",), ("settle",), ("export", "--pypsa"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_refuses_a_line_cut_on_an_unknown_line(tmp_path: Path,
                                                             command: tuple[str, ...]) -> None:
    data = _with({"events": [{"kind": "line_cut", "line": "L9", "hour": 1, "hours": 2}]})
    data["agreements"] = [AGREEMENT]
    path = write_scenario(tmp_path, data)
    name, *opts = command
    args = [name, str(path), *opts]
    if name == "export":
        args.append(str(tmp_path / "n.nc"))
    elif name in ("run", "risk", "size", "settle"):
        args += ["--out", str(tmp_path / "o")]
    if name == "settle":
        args += ["--demo-keys", str(tmp_path / "keys")]
    res = run_cli(*args)
    assert res.exit_code == 2, res.output
    assert "safety.events[0].line" in res.stderr and "unknown line 'L9'" in res.stderr
    assert "Traceback" not in res.output


@pytest.mark.parametrize("command", [("run",), ("risk", "--paths", "2")], ids=lambda c: c[0])
def test_agreements_are_checked_without_asking_for_one(tmp_path: Path,
                                                       command: tuple[str, ...]) -> None:
    path = write_scenario(tmp_path, _with(obligations=[{"offtake": "nowhere", "mw": 1.0}]))
    res = run_cli(*command, str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "agreements[0].obligations[0].offtake" in res.stderr
