"""``gridhash backtest``: a short synthetic period whose hashprice is known by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhash.history.backtest import day_ahead

from conftest import tiny_scenario
from helpers import run_cli, write_scenario

START = "2025-01-01T00:00Z"
INDEX = pd.date_range(START, periods=48, freq="h")

#: Hashprice by hand: (subsidy 3.125 + fees 0.125) BTC × 100,000 USD/BTC per block;
#: a PH/s finds 1e15 × 86,400 / (difficulty 1e14 × 2^32) blocks a day.
HASHPRICE = (3.125 + 0.125) * 100_000 * 1e15 * 86_400 / (1e14 * 2**32)  # ≈ 65.38


def _history(tmp_path: Path, price: np.ndarray | float = 100_000.0) -> Path:
    blocks = np.full(48, 6)
    blocks[:24] = 3  # an unlucky first day: half the expected blocks
    frame = pd.DataFrame({"time": INDEX, "price_usd": price, "difficulty": 1e14,
                          "fees_btc_per_block": 0.125, "blocks": blocks,
                          "height": 880_000 + np.cumsum(blocks) - blocks})
    path = tmp_path / "history.csv"
    frame.to_csv(path, index=False)
    return path


def test_hashprice_known_by_hand(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, tiny_scenario())
    published = tmp_path / "hp.csv"
    published.write_text("date,hashprice_usd_per_ph_day\n2025-01-01,65.0\n2025-01-02,66.0\n")
    out = tmp_path / "bt"
    res = run_cli("backtest", str(scenario), "--start", START, "--end", "2025-01-03",
                  "--history", str(_history(tmp_path)), "--hashprice", str(published),
                  "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "backtest.json").read_text())
    hp = doc["hashprice_usd_per_ph_day"]
    assert hp["computed_mean"] == pytest.approx(HASHPRICE, abs=1e-4)
    pub = hp["vs_published"]
    assert pub["resolution"] == "daily" and pub["points"] == 2
    assert pub["mean_abs_error"] == pytest.approx(
        (abs(HASHPRICE - 65.0) + abs(HASHPRICE - 66.0)) / 2, abs=1e-4)
    # Realized from the blocks found: half on day 1, as expected on day 2.
    real = hp["vs_realized"]
    assert real["other_mean"] == pytest.approx(0.75 * HASHPRICE, abs=1e-4)
    # Constant prices: the day-ahead plan is perfect foresight.
    assert doc["gap"]["net_usd"] == pytest.approx(0.0, abs=0.01)
    assert doc["perfect_foresight"]["btc_mined"] > 0
    hourly = pd.read_parquet(out / "hourly.parquet")
    np.testing.assert_allclose(hourly["hashprice_usd_per_ph_day"], HASHPRICE)
    page = (out / "report.html").read_text()
    assert "Backtest: perfect foresight vs the day-ahead plan" in page
    assert "history.csv" in page and "Hashprice" in page


def test_day_ahead_plan_loses_against_perfect_foresight(tmp_path: Path) -> None:
    price = np.where(np.arange(48) < 24, 20_000.0, 200_000.0)  # BTC jumps at midnight
    scenario = write_scenario(tmp_path, tiny_scenario())
    out = tmp_path / "bt"
    res = run_cli("backtest", str(scenario), "--start", START, "--end", "2025-01-03",
                  "--history", str(_history(tmp_path, price)), "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "backtest.json").read_text())
    pf, da = doc["perfect_foresight"], doc["day_ahead_plan"]
    # The plan for day 2 assumed day 1's price, so it mined less when mining paid most.
    assert doc["gap"]["net_usd"] > 0 and doc["gap"]["btc"] > 0
    assert pf["revenue_usd"]["mining"] > da["revenue_usd"]["mining"]
    # Perfect foresight is optimal for the realized prices: money less penalties.
    def value(s: dict) -> float:
        return s["net_usd"] - sum(s["penalty_usd"].values())
    assert value(pf) >= value(da) - 0.01
    plan = pd.read_parquet(out / "plan_hourly.parquet")
    assert (plan["btc_price_usd"] == price).all()  # settled at the realized price


def test_dated_windows_outside_the_period_are_left_out_and_listed(tmp_path: Path) -> None:
    data = tiny_scenario()
    data["plant"]["units"][0]["outages"] = [
        {"start": "2027-01-01T00:00:00Z", "hours": 100, "reason": "another year"},
        {"start": "2025-01-01T10:00:00Z", "hours": 5, "reason": "inside the period"}]
    scenario = write_scenario(tmp_path, data)
    out = tmp_path / "bt"
    res = run_cli("backtest", str(scenario), "--start", START, "--end", "2025-01-03",
                  "--history", str(_history(tmp_path)), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "1 dated window(s)" in res.stdout
    doc = json.loads((out / "backtest.json").read_text())
    assert doc["windows_left_out"] == ["plant.units[0].outages[0] (2027-01-01T00:00Z, 100 h)"]
    hourly = pd.read_parquet(out / "hourly.parquet")
    assert (hourly["unit:U1"].iloc[10:15] == 0).all()  # the outage inside still holds


def test_day_ahead_persistence_forecast() -> None:
    v = np.arange(72, dtype=float)
    idx = pd.date_range("2025-01-01T05:00Z", periods=72, freq="h")
    f = day_ahead(v, idx)
    assert (f[:19] == 0).all()  # the first (partial) day: its own first hour
    # Day 2 (from hour 19) takes 11:00 UTC of day 1 (position 6).
    assert (f[19:43] == 6).all() and (f[43:67] == 30).all() and (f[67:] == 54).all()


def test_backtest_errors(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, tiny_scenario())
    res = run_cli("backtest", str(scenario), "--start", START, "--end", "2025-01-04",
                  "--history", str(_history(tmp_path)))
    assert res.exit_code == 2 and "24 hour(s) of the period are missing" in res.stderr
    bad = tmp_path / "nodiff.csv"
    pd.DataFrame({"time": INDEX, "price_usd": 1.0}).to_csv(bad, index=False)
    res = run_cli("backtest", str(scenario), "--start", START, "--end", "2025-01-03",
                  "--history", str(bad))
    assert res.exit_code == 2 and "'difficulty'" in res.stderr
    res = run_cli("backtest", str(scenario), "--start", START, "--end", "2025-01-03",
                  "--history", str(_history(tmp_path)), "--history", str(bad))
    assert res.exit_code == 2 and "in two history files" in res.stderr
