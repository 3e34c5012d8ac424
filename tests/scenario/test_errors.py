"""Bad input: one clear message naming file, field, value and expectation; exit 2; no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_scenario
from helpers import run_cli, write_scenario


def _run_bad(tmp_path: Path, data: dict | None = None, text: str | None = None):
    path = tmp_path / "bad.toml"
    if text is not None:
        path.write_text(text)
    else:
        write_scenario(tmp_path, data, "bad.toml")
    result = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    out = result.output
    assert result.exit_code == 2, out
    assert "Traceback" not in out
    assert "error:" in out
    assert not (tmp_path / "out").exists(), "nothing is written for a bad scenario"
    return " ".join(out.split())  # undo terminal wrapping


def test_missing_field(tmp_path: Path) -> None:
    data = tiny_scenario()
    del data["plant"]["units"][1]["capacity_mw"]
    msg = _run_bad(tmp_path, data)
    assert "bad.toml" in msg
    assert "plant.units[1].capacity_mw" in msg
    assert "missing required field" in msg
    assert "Net electrical capacity [MW]" in msg


def test_wrong_type(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["horizon"]["hours"] = "forty"
    msg = _run_bad(tmp_path, data)
    assert "horizon.hours" in msg and "'forty'" in msg and "Number of hours [h]" in msg


def test_negative_capacity(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["plant"]["units"][0]["capacity_mw"] = -5.0
    msg = _run_bad(tmp_path, data)
    assert "plant.units[0].capacity_mw" in msg
    assert "-5.0" in msg
    assert "out of range" in msg and "expected a value ≥ 0 MW" in msg


def test_negative_value_in_series(tmp_path: Path) -> None:
    data = tiny_scenario(hours=4)
    data["grid"]["offtakes"][0]["demand_mw"] = [10.0, 10.0, -1.0, 10.0]
    msg = _run_bad(tmp_path, data)
    assert "grid.offtakes[0].demand_mw" in msg
    assert "hour 2 (2027-01-01T02:00Z)" in msg
    assert "-1.0" in msg and "≥ 0" in msg


def test_nan_inline(tmp_path: Path) -> None:
    text = (tmp_path / "x").parent  # noqa: F841 - readability
    data = tiny_scenario(hours=3)
    body = write_scenario(tmp_path, data, "base.toml").read_text()
    body = body.replace("demand_mw = 80.0", "demand_mw = [ 80.0, nan, 80.0 ]")
    msg = _run_bad(tmp_path, text=body)
    assert "grid.offtakes[0].demand_mw[1]" in msg
    assert "finite number" in msg


def test_nan_in_csv(tmp_path: Path) -> None:
    data = tiny_scenario(hours=5)
    pd.DataFrame({"mw": [80, 80, np.nan, 80, 80]}).to_csv(tmp_path / "demand.csv", index=False)
    data["grid"]["offtakes"][0]["demand_mw"] = {"file": "demand.csv"}
    msg = _run_bad(tmp_path, data)
    assert "demand.csv" in msg and "grid.offtakes[0].demand_mw" in msg
    assert "hour 2 (2027-01-01T02:00Z)" in msg and "nan" in msg


def test_gap_in_csv(tmp_path: Path) -> None:
    data = tiny_scenario(hours=5)
    times = pd.date_range("2027-01-01", periods=5, freq="h", tz="UTC").delete(3)
    pd.DataFrame({"time": times, "mw": 80.0}).to_csv(tmp_path / "demand.csv", index=False)
    data["grid"]["offtakes"][0]["demand_mw"] = {"file": "demand.csv", "column": "mw"}
    msg = _run_bad(tmp_path, data)
    assert "gap in the series" in msg and "2027-01-01T03:00Z" in msg
    assert "demand.csv" in msg and "grid.offtakes[0].demand_mw" in msg


def test_wrong_length_inline(tmp_path: Path) -> None:
    data = tiny_scenario(hours=4)
    data["plant"]["house_load_mw"] = [1.0, 2.0, 3.0]
    msg = _run_bad(tmp_path, data)
    assert "plant.house_load_mw" in msg and "3 values" in msg and "4 (one per hour" in msg


def test_wrong_length_csv(tmp_path: Path) -> None:
    data = tiny_scenario(hours=4)
    pd.DataFrame({"mw": [1.0] * 7}).to_csv(tmp_path / "load.csv", index=False)
    data["plant"]["house_load_mw"] = {"file": "load.csv"}
    msg = _run_bad(tmp_path, data)
    assert "load.csv" in msg and "7 rows" in msg and "4 (one per hour" in msg


def test_unknown_asic_model(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["mining"]["fleet"][0]["model"] = "Antminer S21XP"
    msg = _run_bad(tmp_path, data)
    assert "mining.fleet[0].model" in msg and "'Antminer S21XP'" in msg
    assert "Antminer S21 XP" in msg  # the suggestion / the list of models


def test_missing_scenario_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A relative path: a long absolute one (pytest-xdist's temporary folders) is cut
    # to 80 characters in the message, file name and all.
    monkeypatch.chdir(tmp_path)
    result = run_cli("run", "nowhere.toml")
    assert result.exit_code == 2
    msg = " ".join(result.output.split())
    assert "scenario file not found" in msg and "nowhere.toml" in msg


def test_missing_series_file(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["grid"]["import_price_usd_per_mwh"] = {"file": "prices.parquet"}
    msg = _run_bad(tmp_path, data)
    assert "series file not found" in msg and "prices.parquet" in msg
    assert "grid.import_price_usd_per_mwh" in msg


def test_malformed_toml(tmp_path: Path) -> None:
    msg = _run_bad(tmp_path, text='name = "x"\n[horizon\nhours = 3\n')
    assert "bad.toml" in msg and "malformed TOML" in msg and "line 2" in msg


def test_unknown_field(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["plant"]["units"][0]["capacity_mwh"] = 5.0
    msg = _run_bad(tmp_path, data)
    assert "plant.units[0].capacity_mwh" in msg and "unknown field" in msg


def test_unknown_builtin() -> None:
    result = run_cli("run", "znp")
    assert result.exit_code == 2
    msg = " ".join(result.output.split())
    assert "'znp'" in msg and "did you mean 'znpp'" in msg


def test_line_serves_unknown_offtake(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["grid"]["lines"][0]["serves"] = "town"
    msg = _run_bad(tmp_path, data)
    assert "grid" in msg and "unknown offtake 'town'" in msg


def test_window_outside_horizon(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["grid"]["lines"][0]["outages"] = [{"start": "2029-01-01T00:00:00Z", "hours": 5}]
    msg = _run_bad(tmp_path, data)
    assert "grid.lines[0].outages[0]" in msg and "outside the horizon" in msg


def test_firm_above_demand(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["grid"]["offtakes"][0]["firm_mw"] = 90.0
    msg = _run_bad(tmp_path, data)
    assert "grid.offtakes[0].firm_mw" in msg and "exceeds the offtake's demand" in msg


@pytest.mark.parametrize("generator", ["seasonal", "growth-rate"])
def test_unknown_generator(tmp_path: Path, generator: str) -> None:
    data = tiny_scenario()
    data["bitcoin"]["price_usd"] = {"generator": generator, "mean": 1.0}
    msg = _run_bad(tmp_path, data)
    assert "bitcoin.price_usd" in msg and "generator" in msg


def test_existing_outputs_survive_a_bad_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = write_scenario(tmp_path, tiny_scenario(hours=24), "good.toml")
    assert run_cli("run", str(good), "--out", str(out)).exit_code == 0
    before = (out / "summary.json").read_bytes()
    data = tiny_scenario(hours=24)
    data["plant"]["units"][0]["capacity_mw"] = -1.0
    bad = write_scenario(tmp_path, data, "bad.toml")
    assert run_cli("run", str(bad), "--out", str(out)).exit_code == 2
    assert (out / "summary.json").read_bytes() == before
