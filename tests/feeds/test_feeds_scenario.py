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
