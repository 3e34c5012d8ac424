"""Every bad input: exit 2 and one line naming file, field, value and what was expected.

Each case is something a new user produced while trying gridhash (issue 14).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import tiny_scenario
from helpers import run_cli, write_scenario


def _error_line(tmp_path: Path, data: dict[str, Any] | None = None, *, raw: bytes | None = None,
                command: str = "run", file: str = "bad.toml") -> str:
    """Run ``command`` on a bad scenario: exit 2, one ``error:`` line, nothing else."""
    path = tmp_path / "bad.toml"
    if raw is not None:
        path.write_bytes(raw)
    else:
        write_scenario(tmp_path, data or {}, "bad.toml")
    args = [command, str(path)]
    if command in ("run", "settle", "risk", "size"):
        args += ["--out", str(tmp_path / "out")]
    if command == "settle":
        args += ["--demo-keys", str(tmp_path / "keys")]
    res = run_cli(*args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "Warning" not in res.output, res.output
    text = " ".join(res.stderr.split())  # undo terminal wrapping
    assert text.startswith("error: ") and text.count("error:") == 1, res.output
    assert file in text
    assert not (tmp_path / "out").exists()
    return text


def _tiny(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(tiny_scenario(hours=24))
    for path, value in changes.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return data


# --------------------------------------------------------------------------- #
# Files that are not UTF-8
# --------------------------------------------------------------------------- #

GOOD = tiny_scenario(hours=24)


def _toml(data: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(data)


NOT_UTF8 = {
    "random bytes": bytes(range(256)) * 4,
    "UTF-16": _toml(GOOD).encode("utf-16"),
    "UTF-16 without BOM": _toml(GOOD).encode("utf-16-le"),
    "one Latin-1 byte": ("# Zaporizhzhia, caf\u00e9\n" + _toml(GOOD)).encode("latin-1"),
}


@pytest.mark.parametrize("kind", list(NOT_UTF8))
def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path, kind: str) -> None:
    msg = _error_line(tmp_path, raw=NOT_UTF8[kind])
    assert "UTF-8" in msg
    if kind.startswith("UTF-16"):
        assert "UTF-16" in msg


@pytest.mark.parametrize("command", ["run", "compare", "settle", "risk", "size", "safety",
                                     "economics", "export"])
def test_every_command_refuses_a_latin1_file(tmp_path: Path, command: str) -> None:
    msg = _error_line(tmp_path, raw=NOT_UTF8["one Latin-1 byte"], command=command)
    assert "not UTF-8" in msg and "0xe9" in msg


# --------------------------------------------------------------------------- #
# Types and ranges
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("horizon.hours", "8760", "wrong type: text"),
        ("horizon.hours", True, "wrong type: a boolean"),
        ("horizon.hours", 24.0, "wrong type: a float"),
        ("plant.units.0.capacity_mw", "950", "wrong type: text"),
        ("plant.units.0.capacity_mw", False, "wrong type: a boolean"),
        ("mining.fleet.0.count", "4000", "wrong type: text"),
        ("bitcoin.price_usd", "90000", "wrong type: text"),
    ],
)
def test_strings_and_booleans_are_not_numbers(tmp_path: Path, field: str, value: Any,
                                              words: str) -> None:
    msg = _error_line(tmp_path, _tiny(**{field: value}))
    shown = field.replace(".0.", "[0].")
    assert f"{shown}: {words}" in msg and repr(value) in msg
    assert "without quotes" in msg or "no decimal point" in msg
    assert "outage" not in msg and "window" not in msg


def test_a_huge_capacity_is_refused_with_its_unit(tmp_path: Path) -> None:
    msg = _error_line(tmp_path, _tiny(**{"plant.units.0.capacity_mw": 1e308}))
    assert "plant.units[0].capacity_mw: out of range (got 1e+308)" in msg
    assert "≤ 1e+06 MW" in msg


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grid.offtakes.0.price_usd_per_mwh", -1e300),
        ("grid.offtakes.0.price_usd_per_mwh", -2e6),
        ("grid.lines.0.capacity_mw", 1e300),
        ("grid.offtakes.0.demand_mw", 1e19),
        ("mining.sites.0.capacity_mw", 1e200),
        ("bitcoin.difficulty", 1e300),
    ],
)
def test_huge_values_are_refused_at_their_field(tmp_path: Path, field: str, value: float) -> None:
    msg = _error_line(tmp_path, _tiny(**{field: value}))
    assert field.replace(".0.", "[0].") in msg
    assert len(msg) < 400, msg  # no 301-digit expectation
    assert "unserved" not in msg


def test_start_height_far_beyond_the_last_halving(tmp_path: Path) -> None:
    msg = _error_line(tmp_path, _tiny(**{"bitcoin.start_height": 10**18}))
    assert "bitcoin.start_height: out of range" in msg and "≤ 10,000,000" in msg


@pytest.mark.parametrize("command", ["run", "settle", "risk"])
def test_start_height_after_the_subsidy_ends_is_legal(tmp_path: Path, command: str) -> None:
    """Heights past 6,930,000 mean no subsidy, fees only: no crash."""
    data = _tiny(**{"bitcoin.start_height": 9_000_000})
    path = write_scenario(tmp_path, data)
    args = [command, str(path), "--out", str(tmp_path / "o")]
    if command == "settle":
        args += ["--demo-keys", str(tmp_path / "keys")]
    res = run_cli(*args, *(["--paths", "3"] if command == "risk" else []))
    assert res.exit_code in (0, 2), res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("value", [1e-300, 0.5])
def test_a_difficulty_below_the_protocol_minimum_is_refused(tmp_path: Path, value: float) -> None:
    msg = _error_line(tmp_path, _tiny(**{"bitcoin.difficulty": value}))
    assert "bitcoin.difficulty" in msg and "≥ 1" in msg and "unserved" not in msg


@pytest.mark.parametrize(("field", "value"), [("bitcoin.price_usd", 1e11),
                                              ("bitcoin.fees_btc_per_block", 2e7),
                                              ("bitcoin.difficulty", 1.0)])
def test_absurd_bitcoin_figures_are_blamed_not_the_penalty(tmp_path: Path, field: str,
                                                           value: float) -> None:
    msg = _error_line(tmp_path, _tiny(**{field: value}))
    assert "bad.toml: bitcoin: mining would be worth up to" in msg
    assert "grid.unserved_penalty_usd_per_mwh" not in msg
    assert len(msg.replace(str(tmp_path), "")) < 400


# --------------------------------------------------------------------------- #
# Messages that blamed the wrong thing or said too much
# --------------------------------------------------------------------------- #


def test_a_check_on_a_whole_table_does_not_dump_it(tmp_path: Path) -> None:
    msg = _error_line(tmp_path, _tiny(**{"mining.fleet.0.site": "nowhere"}))
    assert "mining: fleet entry 'Antminer S21 XP' is at unknown site 'nowhere'" in msg
    assert "{" not in msg and "expected The mining load" not in msg
    assert "expected one of ['S']" in msg


def test_min_stable_above_capacity_names_both(tmp_path: Path) -> None:
    msg = _error_line(tmp_path, _tiny(**{"plant.units.1.min_stable_mw": 60.0}))
    assert "plant.units[1]: min_stable_mw 60.0 exceeds capacity_mw 50.0" in msg
    assert "{" not in msg and "expected A generating unit" not in msg


def test_a_start_year_9999_is_blamed_on_the_start(tmp_path: Path) -> None:
    msg = _error_line(tmp_path, _tiny(**{"horizon.start": "9999-01-01T00:00:00Z"}))
    assert "horizon.start: time out of range" in msg
    assert "2009-01-03" in msg and "2200-01-01" in msg
    assert "window" not in msg and "outage" not in msg


@pytest.mark.parametrize(
    ("field", "extra"),
    [("horizon.start", None), ("plant.units.0.outages", "start")],
)
def test_half_past_is_refused_everywhere_alike(tmp_path: Path, field: str, extra: str | None
                                               ) -> None:
    stamp = "2027-01-01T00:30:00Z"
    value: Any = stamp if extra is None else [{"start": stamp, "hours": 2}]
    msg = _error_line(tmp_path, _tiny(**{field: value}))
    shown = field.replace(".0.", "[0].") + ("[0].start" if extra else "")
    assert f"{shown}: time not on the hour" in msg and "HH:00:00" in msg


def test_half_past_in_a_series_file_is_refused_alike(tmp_path: Path) -> None:
    rows = "".join(f"2027-01-01T{h:02d}:30:00Z,50\n" for h in range(24))
    (tmp_path / "price.csv").write_text("time,price\n" + rows)
    data = _tiny(**{"grid.offtakes.0.price_usd_per_mwh": {"file": "price.csv"}})
    msg = _error_line(tmp_path, data, file="price.csv")
    assert "time not on the hour" in msg and "'2027-01-01T00:30:00Z'" in msg
    assert "gap" not in msg


def test_an_event_that_starts_inside_but_runs_past_the_end(tmp_path: Path) -> None:
    safety = {"events": [{"kind": "safety_hold", "hour": 20, "hours": 10, "reason": "drill"}]}
    msg = _error_line(tmp_path, tiny_scenario(hours=24, safety=safety))
    assert "safety.events[0].hours" in msg and "runs past the end of the horizon" in msg
    assert "outside the horizon" not in msg and "at most 4 h" in msg


def test_csv_errors_carry_no_pandas_hints(tmp_path: Path) -> None:
    (tmp_path / "price.csv").write_text(
        "time,price\n2027-01-01T00:00:00Z,50\nyesterday at noon,51\n"
    )
    data = _tiny(**{"grid.offtakes.0.price_usd_per_mwh": {"file": "price.csv"}})
    msg = _error_line(tmp_path, data, file="price.csv").replace(str(tmp_path), "")
    assert "cannot parse the time column 'time' at data row 2" in msg
    assert "'yesterday at noon'" in msg
    for hint in ("You might want", "format=", "dayfirst", "doc", "http"):
        assert hint not in msg


def test_an_overflowing_series_prints_no_runtime_warning(tmp_path: Path) -> None:
    """In a real process (pytest would swallow the warning): the error line alone."""
    import subprocess
    import sys

    (tmp_path / "demand.csv").write_text("demand\n" + "1e308\n" * 24)
    data = _tiny(**{"grid.offtakes.0.demand_mw": {"file": "demand.csv", "scale": 1e10}})
    path = write_scenario(tmp_path, data, "bad.toml")
    res = subprocess.run([sys.executable, "-m", "gridhash.cli", "run", str(path), "--out",
                          str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == "", res.stdout
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: "), res.stderr
    assert "Warning" not in res.stderr and "grid.offtakes[0].demand_mw" in res.stderr


# --------------------------------------------------------------------------- #
# Scenario text is never printed raw
# --------------------------------------------------------------------------- #

HOSTILE = "hold\x1b]0;pwned\x07\x1b[2J\u202eevil"


def test_control_characters_in_scenario_text_are_escaped(tmp_path: Path) -> None:
    safety = {"events": [{"kind": "safety_hold", "hour": 2, "hours": 3, "reason": HOSTILE}]}
    data = tiny_scenario(hours=24, safety=safety, description=HOSTILE)
    path = write_scenario(tmp_path, data)
    outputs = [run_cli("safety", str(path)), run_cli("run", str(path), "--out",
                                                     str(tmp_path / "o"))]
    bad = copy.deepcopy(data)
    bad["grid"]["lines"][0]["serves"] = HOSTILE  # and an error that quotes the text
    outputs.append(run_cli("run", write_scenario(tmp_path, bad, "bad.toml").as_posix()))
    for res in outputs:
        for ch in ("\x1b", "\x07", "\u202e"):
            assert ch not in res.output, res.output
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in outputs[0].stdout
    doc = json.loads(run_cli("safety", str(path), "--json").stdout)
    assert any(HOSTILE in row["text"] for row in doc["timeline"])  # JSON keeps it exactly
