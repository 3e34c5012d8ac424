"""``gridhash fetch btc-price`` and ``gridhash fetch prices``: recorded responses with the
network blocked (vcrpy through pytest-recording), entsoe-py against a loopback
server serving synthetic A44 documents in UAH, OREE and gridstatus files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhash.feeds.power import read_oree
from gridhash.feeds.store import read_series

from feeds_fakes import T0, Chain, FakeEntsoe, FakeMempool
from helpers import run_cli


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, object]:
    # Replay only; loopback stand-ins (127.0.0.1) pass through to the test's own servers.
    return {"record_mode": "none", "ignore_localhost": True}


@pytest.mark.vcr
@pytest.mark.block_network
def test_coinbase_hourly_close(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    res = run_cli("fetch", "btc-price", "--source", "coinbase", "--start", "2025-01-01",
                  "--end", "2025-01-01T06:00Z", "--out", str(out), "--retries", "0")
    assert res.exit_code == 0, res.output
    frame, prov = read_series(out)
    assert list(frame["price_usd"]) == [90100, 90110, 90120, 90120, 90140, 90150]
    assert list(frame["price_carried"]) == [False, False, False, True, False, False]
    assert prov["source"] == "coinbase" and prov["hours_carried"] == 1
    assert prov["url"] == "https://api.exchange.coinbase.com"


def test_mempool_historical_price(tmp_path: Path) -> None:
    prices = {T0 - 600: 91000.0, T0 + 3600: 92000.0, T0 + 9000: 0.0, T0 + 10800: 93000.0}
    out = tmp_path / "p.parquet"
    with FakeMempool(Chain(n=10), prices=prices, throttle_every=2) as api:
        res = run_cli("fetch", "btc-price", "--source", "mempool", "--url", api.url,
                      "--start", "2025-01-01", "--end", "2025-01-01T04:00Z", "--out", str(out))
    assert res.exit_code == 0, res.output
    frame, _ = read_series(out)
    # Each hour: the latest non-zero price at or before its start.
    assert list(frame["price_usd"]) == [91000, 92000, 92000, 93000]


def test_price_range_in_the_future_is_refused(tmp_path: Path) -> None:
    res = run_cli("fetch", "btc-price", "--start", "2025-01-01", "--end", "2999-01-01",
                  "--out", str(tmp_path / "p.parquet"))
    assert res.exit_code == 2 and "ends in the future" in res.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_price_source_without_a_price_for_the_first_hour(tmp_path: Path) -> None:
    with FakeMempool(Chain(n=10), prices={T0 + 7200: 1.0}, throttle_every=0) as api:
        res = run_cli("fetch", "btc-price", "--source", "mempool", "--url", api.url,
                      "--start", "2025-01-01", "--end", "2025-01-01T04:00Z",
                      "--out", str(tmp_path / "p.parquet"))
    assert res.exit_code == 2 and "no price for the first hour" in res.stderr


def _entsoe(tmp_path: Path, server: FakeEntsoe, *extra: str, end: str = "2025-01-03",
            token: str = "test-token", monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("ENTSOE_API_KEY", token)
    res = run_cli("fetch", "prices", "--source", "entsoe", "--zone", "UA", "--start",
                  "2025-01-01", "--end", end, "--out", str(tmp_path / "ua.parquet"),
                  "--url", server.url + "/api", *extra)
    return res.exit_code, res.output


def _hourly_uah(idx: pd.DatetimeIndex) -> np.ndarray:
    """The fake's hourly means: hourly prices on day 1, 15-minute means from day 2."""
    quarter = idx >= pd.Timestamp(T0 + 86400, unit="s", tz="UTC")
    return 4000 + 100 * idx.hour.to_numpy() + np.where(quarter, 22.5, 0.0)


@pytest.mark.vcr
@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_entsoe_uah_converted_with_the_nbu_rate(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEntsoe() as server:
        code, output = _entsoe(tmp_path, server, "--fx", "nbu", monkeypatch=monkeypatch)
        assert server.queries[0]["documentType"] == "A44"
        assert server.queries[0]["in_Domain"] == "10Y1001C--00003F"
    assert code == 0, output
    frame, prov = read_series(tmp_path / "ua.parquet")
    idx = pd.DatetimeIndex(frame["time"])
    assert len(frame) == 48
    np.testing.assert_allclose(frame["price_uah_per_mwh"], _hourly_uah(idx))
    assert list(frame["intervals"][:24]) == [1] * 24 and list(frame["intervals"][24:]) == [4] * 24
    # Kyiv is UTC+2 in winter: 22:00Z on 1 January is already 2 January there.
    kyiv_day = idx.tz_convert("Europe/Kyiv").day
    want_fx = np.select([kyiv_day == 1, kyiv_day == 2], [42.0, 42.5], 43.0)
    np.testing.assert_allclose(frame["fx_uah_per_usd"], want_fx)
    np.testing.assert_allclose(frame["price_usd_per_mwh"], _hourly_uah(idx) / want_fx)
    assert prov["currency"] == "UAH" and prov["fx"]["source"] == "nbu"
    assert prov["fx"]["min_per_usd"] == 42.0 and prov["fx"]["max_per_usd"] == 43.0
    assert "test-token" not in str(prov) and prov["zone"] == "UA"
    assert prov["libraries"]["entsoe-py"] != "absent"


def test_entsoe_with_an_fx_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx = tmp_path / "fx.csv"
    fx.write_text("date,uah_per_usd\n2024-12-31,41.0\n2025-01-02,44.0\n")
    with FakeEntsoe() as server:
        code, output = _entsoe(tmp_path, server, "--fx", str(fx), monkeypatch=monkeypatch)
    assert code == 0, output
    frame, prov = read_series(tmp_path / "ua.parquet")
    kyiv_day = pd.DatetimeIndex(frame["time"]).tz_convert("Europe/Kyiv").day
    np.testing.assert_allclose(frame["fx_uah_per_usd"], np.where(kyiv_day == 1, 41.0, 44.0))
    assert prov["fx"]["source"] == str(fx)


def test_entsoe_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEntsoe() as server:
        code, output = _entsoe(tmp_path, server, monkeypatch=monkeypatch)
        assert code == 2 and "prices are in UAH: an FX series is needed" in output
        code, output = _entsoe(tmp_path, server, "--fx", "nbu", token="bad",
                               monkeypatch=monkeypatch)
        assert code == 2 and "HTTP 401" in output and "security token" in output
        assert "bad" not in output.replace("badly", "")
    monkeypatch.delenv("ENTSOE_API_KEY")
    res = run_cli("fetch", "prices", "--source", "entsoe", "--zone", "UA", "--start",
                  "2025-01-01", "--end", "2025-01-02", "--out", str(tmp_path / "x.parquet"))
    assert res.exit_code == 2 and "no ENTSO-E security token in $ENTSOE_API_KEY" in res.stderr
    assert "Traceback" not in res.output


# -- OREE's export: synthetic files in the export's layout (docs/data.md) -------------


def _oree_long() -> pd.DataFrame:
    rows = []
    for day in ("01.01.2025", "02.01.2025"):
        for hour in range(1, 25):
            rows.append({"Дата": day, "Година": hour,
                         "Ціна, грн/МВт·год": f"{5000 + 10 * hour},50",
                         "Обсяг продажу, МВт·год": "1000,0"})
    return pd.DataFrame(rows)


def test_oree_xlsx_hourly(tmp_path: Path) -> None:
    xlsx = tmp_path / "oree.xlsx"
    _oree_long().to_excel(xlsx, index=False)
    fx = tmp_path / "fx.csv"
    fx.write_text("date,rate\n2024-12-31,40.0\n")
    out = tmp_path / "o.parquet"
    res = run_cli("fetch", "prices", "--source", "oree-file", str(xlsx), "--fx", str(fx),
                  "--out", str(out))
    assert res.exit_code == 0, res.output
    frame, prov = read_series(out)
    # Hour 1 of 1 January (Kyiv, UTC+2) starts at 2024-12-31T22:00Z.
    assert frame["time"].iloc[0] == pd.Timestamp("2024-12-31T22:00Z")
    assert len(frame) == 48
    np.testing.assert_allclose(frame["price_uah_per_mwh"][:24], 5000.5 + 10 * np.arange(1, 25))
    np.testing.assert_allclose(frame["price_usd_per_mwh"], frame["price_uah_per_mwh"] / 40.0)
    assert prov["source"] == "oree-file" and prov["file"] == "oree.xlsx"


def test_oree_csv_quarter_hours_and_wide_layout(tmp_path: Path) -> None:
    q = tmp_path / "q.csv"
    lines = ["Дата;Період;Ціна, грн/МВт·год"]
    for k in range(8):  # two hours of 15-minute periods
        a = 15 * k
        lines.append(f"01.10.2025;{a // 60:02d}:{a % 60:02d}-{(a + 15) // 60:02d}:"
                     f"{(a + 15) % 60:02d};{1000 + k}")
    q.write_text("\n".join(lines), encoding="utf-8")
    s = read_oree(q)
    hourly = s.resample("h").mean()
    assert list(hourly) == [1001.5, 1005.5]
    assert s.index[0] == pd.Timestamp("2025-09-30T21:00Z")  # Kyiv summer time, UTC+3
    wide = tmp_path / "w.csv"
    wide.write_text("Дата," + ",".join(str(h) for h in range(1, 25)) + "\n"
                    "2025-01-01," + ",".join(str(100 + h) for h in range(1, 25)) + "\n")
    w = read_oree(wide)
    assert len(w) == 24 and w.iloc[0] == 101 and w.index[0] == pd.Timestamp("2024-12-31T22:00Z")


def test_oree_25_hour_day_counts_elapsed_hours(tmp_path: Path) -> None:
    f = tmp_path / "dst.csv"
    f.write_text("Дата,Година,Ціна\n" + "".join(f"26.10.2025,{h},{h}\n" for h in range(1, 26)))
    s = read_oree(f)
    assert len(s) == 25 and s.index.is_unique
    # Hour 25 starts at 21:00Z and ends at Kyiv's midnight, 22:00Z (UTC+2 again).
    assert s.index[-1] == pd.Timestamp("2025-10-26T21:00Z")


def test_oree_bad_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("Дата,Година,Ціна\n01.01.2025,x,5\n")
    res = run_cli("fetch", "prices", "--source", "oree-file", str(f), "--fx", "nbu",
                  "--out", str(tmp_path / "o.parquet"))
    assert res.exit_code == 2 and "unreadable row" in res.stderr and "'x'" in res.stderr


def test_gridstatus_file_import(tmp_path: Path) -> None:
    """The import path for a table gridstatus wrote in its own environment (5-min LMPs)."""
    t = pd.date_range("2025-01-01T05:00Z", periods=24, freq="5min")
    table = pd.concat([
        pd.DataFrame({"Interval Start": t, "Interval End": t + pd.Timedelta(minutes=5),
                      "Location": loc, "Location Type": "Hub", "Market": "REAL_TIME_5_MIN",
                      "LMP": base + np.arange(24.0), "Energy": 0.0, "Congestion": 0.0,
                      "Loss": 0.0})
        for loc, base in (("WESTERN HUB", 30.0), ("EASTERN HUB", 50.0))])
    f = tmp_path / "pjm.parquet"
    table.to_parquet(f)
    res = run_cli("fetch", "prices", "--source", "gridstatus-file", str(f),
                  "--out", str(tmp_path / "g.parquet"))
    assert res.exit_code == 2 and "several locations" in res.stderr
    res = run_cli("fetch", "prices", "--source", "gridstatus-file", str(f), "--zone",
                  "WESTERN HUB", "--out", str(tmp_path / "g.parquet"))
    assert res.exit_code == 0, res.output
    frame, prov = read_series(tmp_path / "g.parquet")
    assert list(frame["price_usd_per_mwh"]) == [35.5, 47.5]
    assert prov["currency"] == "USD" and prov["location"] == "WESTERN HUB"
