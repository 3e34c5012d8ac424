"""A fetched file used as a scenario series, and its provenance in report.html."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridhash.feeds.store import read_series

from conftest import tiny_scenario
from feeds_fakes import Chain, FakeCore
from helpers import run_cli, write_scenario


def test_scenario_reads_fetched_columns_and_report_lists_their_provenance(tmp_path: Path) -> None:
    with FakeCore(Chain()) as node:
        url = node.url.replace("http://", "http://alice:s3cret@")
        res = run_cli("fetch", "bitcoin", "--url", url, "--start", "2025-01-01",
                      "--end", "2025-01-03", "--out", str(tmp_path / "btc.parquet"))
    assert res.exit_code == 0, res.output
    data = tiny_scenario(hours=48, horizon__start="2025-01-01T00:00:00Z")
    data["bitcoin"]["difficulty"] = {"file": "btc.parquet", "column": "difficulty"}
    data["bitcoin"]["fees_btc_per_block"] = {"file": "btc.parquet",
                                             "column": "fees_btc_per_block"}
    path = write_scenario(tmp_path, data)
    out = tmp_path / "out"
    res = run_cli("run", str(path), "--out", str(out))
    assert res.exit_code == 0, res.output
    fetched, prov = read_series(tmp_path / "btc.parquet")
    hourly = pd.read_parquet(out / "hourly.parquet")
    np.testing.assert_array_equal(hourly["difficulty"].to_numpy(), fetched["difficulty"])
    page = (out / "report.html").read_text()
    assert "Data sources" in page and "bitcoin.difficulty" in page
    assert "bitcoin.fees_btc_per_block" in page and prov["fetched_at"] in page
    assert "fees_carried marks them" in page  # the fetcher's assumptions are listed
    assert "s3cret" not in page and prov["url"] in page


def test_report_shows_the_fx_rate_of_an_imported_power_price(tmp_path: Path) -> None:
    rows = [{"Дата": day, "Година": h, "Ціна, грн/МВт·год": 4000 + 50 * h}
            for day in ("01.01.2025", "02.01.2025") for h in range(1, 25)]
    pd.DataFrame(rows).to_excel(tmp_path / "oree.xlsx", index=False)
    (tmp_path / "fx.csv").write_text("date,uah_per_usd\n2024-12-31,42.0\n2025-01-02,42.5\n")
    res = run_cli("fetch", "prices", "--source", "oree-file", str(tmp_path / "oree.xlsx"),
                  "--fx", str(tmp_path / "fx.csv"), "--out", str(tmp_path / "ua.parquet"))
    assert res.exit_code == 0, res.output
    data = tiny_scenario(hours=48, horizon__start="2024-12-31T22:00:00Z")
    data["grid"]["offtakes"][0]["price_usd_per_mwh"] = {"file": "ua.parquet",
                                                        "column": "price_usd_per_mwh"}
    path = write_scenario(tmp_path, data)
    res = run_cli("run", str(path), "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    page = (tmp_path / "out" / "report.html").read_text()
    assert "grid.offtakes[0].price_usd_per_mwh" in page and "oree-file" in page
    assert "UAH at " in page and "rates 42–42.5 UAH/USD" in page
    hourly = pd.read_parquet(tmp_path / "out" / "hourly.parquet")
    assert hourly["price:city"].iloc[0] == (4000 + 50) / 42.0
