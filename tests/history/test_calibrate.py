"""``gridhash calibrate``: parameters recovered from synthetic histories with known ones;
``gridhash risk --model`` uses the fit and records it."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhash.risk.models.btc_price import GbmPrice
from gridhash.risk.models.fees import FeeModel
from gridhash.risk.models.fit import fit_btc_price, fit_fees, fit_grid_price
from gridhash.risk.models.fitted import apply_fitted, load_fitted
from gridhash.risk.models.grid_price import GridPriceAR1
from gridhash.risk.sweep import prepare
from gridhash.scenario.load import load_scenario

from conftest import tiny_scenario
from helpers import run_cli, write_scenario

YEAR = pd.date_range("2025-01-01T00:00Z", periods=8760, freq="h")


def _ar1(n: int, half_life_h: float, sd: float, seed: int) -> np.ndarray:
    phi = 0.5 ** (1 / half_life_h)
    e = np.random.default_rng(seed).standard_normal(n) * sd * math.sqrt(1 - phi**2)
    x = np.empty(n)
    x[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _btc_prices(seed: int = 1) -> np.ndarray:
    return GbmPrice(60_000.0, drift_per_year=0.3, volatility_per_year=0.6).sample(
        [seed], 8760, 0)[0]


def test_btc_price_fit() -> None:
    p = _btc_prices()
    fit = fit_btc_price(p)
    r = np.diff(np.log(p))
    assert fit["volatility_per_year"] == pytest.approx(0.6, rel=0.03)
    assert fit["drift_per_year"] == pytest.approx(
        r.mean() * 8760 + 0.5 * fit["volatility_per_year"] ** 2, rel=1e-9)
    assert fit["block_h"] >= 1 and fit["hours"] == 8760


def test_fee_fit_recovers_the_ar1() -> None:
    f = 0.03 * np.exp(_ar1(8760, 72.0, 0.5, 3))
    carried = np.zeros(8760, dtype=bool)
    carried[::50] = True  # hours without a block: left out of the fit
    fit = fit_fees(np.where(carried, 99.0, f), carried)
    assert fit["log_sd"] == pytest.approx(0.5, rel=0.15)
    assert fit["half_life_h"] == pytest.approx(72.0, rel=0.35)
    assert fit["hours"] == 8760 - carried.sum()


def test_grid_price_fit_recovers_the_profile_and_noise() -> None:
    local = YEAR + pd.Timedelta(hours=2)
    day = local.day_of_year.to_numpy() - 1 + local.hour.to_numpy() / 24
    shape = (100 * (1 + 0.2 * np.cos(2 * np.pi * (day - 15) / 365.25))
             * (1 + 0.3 * np.cos(2 * np.pi * (local.hour.to_numpy() - 19) / 24))
             * np.where(local.day_of_week.to_numpy() >= 5, 0.9, 1.0))
    p = shape * np.exp(_ar1(8760, 24.0, 0.1, 5))
    fit = fit_grid_price(p, YEAR, utc_offset_hours=2.0)
    assert fit["peak_hour"] == pytest.approx(19.0, abs=0.3)
    assert fit["peak_day"] == pytest.approx(15.0, abs=10)
    assert fit["daily_amplitude"] == pytest.approx(0.3, abs=0.04)
    assert fit["seasonal_amplitude"] == pytest.approx(0.2, abs=0.04)
    assert fit["weekend_factor"] == pytest.approx(0.9, abs=0.02)
    assert fit["mean_usd_per_mwh"] == pytest.approx(100.0, rel=0.08)
    assert fit["log_sd"] == pytest.approx(0.1, rel=0.2)
    assert fit["half_life_h"] == pytest.approx(24.0, rel=0.35)
    assert fit["seasonal_fitted"] and fit["clipped_hours"] == 0


def test_calibrate_then_risk_uses_the_fit(tmp_path: Path) -> None:
    hours = pd.date_range("2026-12-01T00:00Z", periods=24 * 60, freq="h")
    n = len(hours)
    btc = pd.DataFrame({"time": hours, "price_usd": _btc_prices()[:n],
                        "fees_btc_per_block": 0.03 * np.exp(_ar1(n, 48.0, 0.4, 2)),
                        "fees_carried": False})
    btc.to_parquet(tmp_path / "btc.parquet")
    power = pd.DataFrame({"time": hours, "price_usd_per_mwh":
                          80 * (1 + 0.25 * np.cos(2 * np.pi * (hours.hour - 17) / 24))
                          * np.exp(_ar1(n, 12.0, 0.15, 4))})
    power.to_csv(tmp_path / "power.csv", index=False)
    model = tmp_path / "risk-model.toml"
    res = run_cli("calibrate", "--history", str(tmp_path / "btc.parquet"), "--history",
                  str(tmp_path / "power.csv"), "--out", str(model), "--btc-model", "bootstrap")
    assert res.exit_code == 0, res.output
    doc = tomllib.loads(model.read_text())
    assert doc["btc_price"]["model"] == "bootstrap" and doc["btc_price"]["history"] == "btc.parquet"
    assert set(doc) == {"calibration", "btc_price", "fees", "grid_price"}
    assert doc["calibration"]["libraries"]["arch"] != "absent"
    assert doc["grid_price"]["seasonal_fitted"] is False  # 60 days: no annual cycle
    # The fits replace the defaults in the risk model of a scenario.
    path = write_scenario(tmp_path, tiny_scenario(hours=72))
    loaded = load_scenario(str(path))
    ctx = prepare(loaded, model_file=str(model))
    rm = ctx.risk_model
    assert rm.fees == FeeModel(doc["fees"]["mean_btc_per_block"], doc["fees"]["log_sd"],
                               doc["fees"]["half_life_h"])
    assert rm.btc_price.block_h == doc["btc_price"]["block_h"]
    g = rm.grid_prices[0]
    assert isinstance(g, GridPriceAR1) and g.log_sd == doc["grid_price"]["log_sd"]
    # ... and risk.json records which file was used.
    out = tmp_path / "out"
    res = run_cli("risk", str(path), "--paths", "3", "--model", str(model), "--out", str(out))
    assert res.exit_code == 0, res.output
    record = json.loads((out / "risk.json").read_text())["risk_model"]
    assert record["file"] == str(model) and len(record["sha256"]) == 64
    assert record["models"] == ["btc_price", "fees", "grid_price"]


def test_gbm_model_file_and_errors(tmp_path: Path) -> None:
    model = tmp_path / "m.toml"
    model.write_text("[btc_price]\nmodel = 'gbm'\ndrift_per_year = 0.1\n"
                     "volatility_per_year = 0.7\n")
    loaded = load_scenario(str(write_scenario(tmp_path, tiny_scenario(hours=24))))
    ctx = prepare(loaded)
    rm = apply_fitted(ctx.risk_model, load_fitted(model), ctx.inputs, loaded)
    assert rm.btc_price == GbmPrice(90_000.0, 0.1, 0.7) and rm.fees == ctx.risk_model.fees
    model.write_text("[btc_price]\nmodel = 'gbm'\ndrift = 0.1\n")
    res = run_cli("risk", str(tmp_path / "scenario.toml"), "--paths", "2", "--model", str(model))
    assert res.exit_code == 2 and "btc_price.drift: unknown key" in res.stderr
    res = run_cli("calibrate", "--history", str(tmp_path / "scenario.toml"))
    assert res.exit_code == 2 and "cannot read the history file" in res.stderr
