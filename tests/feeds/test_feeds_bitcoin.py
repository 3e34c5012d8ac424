"""``gridhash fetch bitcoin``: Bitcoin Core's JSON-RPC and a mempool API on loopback."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridhash.feeds.bitcoin_core import CoreRpc
from gridhash.feeds.blocks import fetch_network
from gridhash.feeds.http import RetryPolicy
from gridhash.feeds.store import hour_range, read_series
from gridhash.scenario.series import read_provenance

from feeds_fakes import T0, Chain, FakeCore, FakeMempool
from helpers import run_cli

START, END = "2025-01-01T00:00Z", "2025-01-04T00:00Z"


def expected(chain: Chain, start: int = T0, hours: int = 72) -> pd.DataFrame:
    """The hourly series straight from the definition, block by block (the spec)."""
    rows = []
    last = max((h for h in range(chain.n) if chain.times[h] < start), key=lambda h: h)
    carry = (last, chain.difficulty(last), chain.subsidy(last), chain.fees[last], 1)
    for k in range(hours):
        a = start + 3600 * k
        inside = [h for h in range(chain.n) if a <= chain.times[h] < a + 3600]
        if inside:
            h0 = min(inside)
            carry = (h0, chain.difficulty(h0), chain.subsidy(h0),
                     sum(chain.fees[h] for h in inside), len(inside))
        rows.append({
            "time": pd.Timestamp(a, unit="s", tz="UTC"), "blocks": len(inside),
            "height": carry[0], "difficulty": carry[1],
            "fees_btc_per_block": carry[3] / carry[4] / 1e8, "fees_carried": not inside,
            "fees_sat": sum(chain.fees[h] for h in inside), "subsidy_btc": carry[2] / 1e8,
            "subsidy_sat": carry[2]})
    return pd.DataFrame(rows)


def check_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert (got["time"].to_numpy() == want["time"].dt.tz_convert("UTC").to_numpy()).all() \
        or got["time"].equals(want["time"])
    for c in want.columns[1:]:
        np.testing.assert_array_equal(got[c].to_numpy(), want[c].to_numpy(), err_msg=c)


@pytest.mark.parametrize("v28", [True, False], ids=["jsonrpc-2.0", "jsonrpc-1.0"])
def test_core_end_to_end_through_the_cli(tmp_path: Path, v28: bool) -> None:
    chain = Chain()
    out = tmp_path / "btc.parquet"
    with FakeCore(chain, v28=v28, host="127.0.0.2") as node:
        url = node.url.replace("http://", "http://alice:s3cret@")
        res = run_cli("fetch", "bitcoin", "--source", "core", "--url", url,
                      "--start", START, "--end", END, "--out", str(out))
    assert res.exit_code == 0, res.output
    frame, prov = read_series(out)
    want = expected(chain)
    check_equal(frame, want)
    assert want["fees_carried"].sum() >= 2  # the chain's empty stretch is in the range
    assert {"getblockstats", "getblockheader", "getblockhash"} <= set(node.calls)
    assert prov["source"] == "core" and prov["kind"] == "bitcoin-network"
    assert "s3cret" not in str(prov) and "alice" not in prov["url"]
    assert prov["start"] == "2025-01-01T00:00Z" and prov["complete_until"] == "2025-01-04T00:00Z"
    assert prov["libraries"]["httpx"] != "absent"
    assert read_provenance(out) == prov


def test_cookie_file_authenticates(tmp_path: Path) -> None:
    chain = Chain()
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:abc123")
    with FakeCore(chain, user="__cookie__", password="abc123") as node:
        res = run_cli("fetch", "bitcoin", "--url", node.url, "--cookie", str(cookie),
                      "--start", START, "--end", "2025-01-01T06:00Z",
                      "--out", str(tmp_path / "b.parquet"))
    assert res.exit_code == 0, res.output
    check_equal(read_series(tmp_path / "b.parquet")[0], expected(chain, hours=6))


def _fails(tmp_path: Path, url: str, *extra: str, end: str = END) -> str:
    res = run_cli("fetch", "bitcoin", "--url", url, "--start", START, "--end", end,
                  "--out", str(tmp_path / "x.parquet"), "--retries", "0", *extra)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "s3cret" not in res.output and "wrong" not in res.output
    return res.stderr


def test_wrong_credentials(tmp_path: Path) -> None:
    with FakeCore(Chain()) as node:
        err = _fails(tmp_path, node.url.replace("http://", "http://alice:wrong@"))
    assert "refused the credentials (HTTP 401)" in err


def test_unreachable_node(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = _fails(tmp_path, f"http://alice:s3cret@127.0.0.1:{port}")
    assert "cannot get getblockchaininfo" in err and f"127.0.0.1:{port}" in err


def test_pruned_blocks(tmp_path: Path) -> None:
    with FakeCore(Chain(pruneheight=900)) as node:
        err = _fails(tmp_path, node.url.replace("http://", "http://alice:s3cret@"))
    assert "pruned" in err and "900" in err


def test_pruned_block_error_object_from_getblockstats(tmp_path: Path) -> None:
    """A node that prunes while we fetch answers getblockstats with Core's -1 error."""
    chain = Chain()
    with FakeCore(chain) as node:
        chain.pruneheight = 10**9  # not announced by getblockchaininfo below
        rpc = CoreRpc(node.url.replace("http://", "http://alice:s3cret@"),
                      policy=RetryPolicy(retries=0))
        with rpc, pytest.raises(Exception, match=r"pruned the block.*pruned data"):
            rpc.blocks([5])


def test_busy_node_is_retried_with_backoff(tmp_path: Path) -> None:
    chain = Chain()
    with FakeCore(chain) as node:
        node.busy = 4  # "Work queue depth exceeded", as HTTP 503 and 500
        rpc = CoreRpc(node.url.replace("http://", "http://alice:s3cret@"),
                      policy=RetryPolicy(retries=5, backoff_s=0.01))
        with rpc:
            assert rpc.tip().height == chain.n - 1
        node.busy = 10
        rpc = CoreRpc(node.url.replace("http://", "http://alice:s3cret@"),
                      policy=RetryPolicy(retries=2, backoff_s=0.01))
        with rpc, pytest.raises(Exception, match=r"work queue stays full|cannot get"):
            rpc.tip()


def test_range_beyond_the_tip(tmp_path: Path) -> None:
    with FakeCore(Chain()) as node:
        err = _fails(tmp_path, node.url.replace("http://", "http://alice:s3cret@"),
                     end="2025-03-01T00:00Z")
    assert "beyond the chain tip" in err and "--end at or before" in err


def test_node_in_initial_block_download(tmp_path: Path) -> None:
    with FakeCore(Chain(), ibd=True) as node:
        err = _fails(tmp_path, node.url.replace("http://", "http://alice:s3cret@"))
    assert "initial block download" in err


def test_node_stops_mid_fetch_then_the_next_run_resumes(tmp_path: Path) -> None:
    chain = Chain()
    full, part = tmp_path / "full.parquet", tmp_path / "part.parquet"
    with FakeCore(chain) as node:
        url = node.url.replace("http://", "http://alice:s3cret@")
        assert run_cli("fetch", "bitcoin", "--url", url, "--start", START, "--end", END,
                       "--out", str(full)).exit_code == 0
        needed = node.stats_batches
    # The node stops answering during the last batches of block statistics.
    with FakeCore(chain, max_stats_batches=needed - 3) as node:
        url = node.url.replace("http://", "http://alice:s3cret@")
        res = run_cli("fetch", "bitcoin", "--url", url, "--start", START, "--end", END,
                      "--out", str(part), "--retries", "1")
    assert res.exit_code == 2 and "cannot get" in res.stderr, res.output
    partial, prov = read_series(part)  # still a valid file, whole days only
    assert 0 < len(partial) < 72 and len(partial) % 24 == 0
    after = partial["time"].iloc[-1] + pd.Timedelta(hours=1)
    assert prov["complete_until"] == after.strftime("%Y-%m-%dT%H:%MZ")
    check_equal(partial, expected(chain).iloc[: len(partial)].reset_index(drop=True))
    with FakeCore(chain) as node:
        url = node.url.replace("http://", "http://alice:s3cret@")
        res = run_cli("fetch", "bitcoin", "--url", url, "--start", START, "--end", END,
                      "--out", str(part))
    assert res.exit_code == 0, res.output
    check_equal(read_series(part)[0], read_series(full)[0])
    # A third run has nothing left to do.
    res = run_cli("fetch", "bitcoin", "--url", "http://127.0.0.1:9", "--start", START,
                  "--end", END, "--out", str(part))
    assert res.exit_code == 0 and "0 new hour(s)" in res.stderr


def test_resume_refuses_a_different_series(tmp_path: Path) -> None:
    chain = Chain()
    out = tmp_path / "b.parquet"
    with FakeCore(chain) as node:
        url = node.url.replace("http://", "http://alice:s3cret@")
        assert run_cli("fetch", "bitcoin", "--url", url, "--start", START,
                       "--end", "2025-01-02T00:00Z", "--out", str(out)).exit_code == 0
        res = run_cli("fetch", "bitcoin", "--url", url, "--start", "2025-01-01T05:00Z",
                      "--end", END, "--out", str(out))
    assert res.exit_code == 2 and "already holds a different series" in res.stderr


def test_mempool_api_gives_the_same_series_and_honours_429(tmp_path: Path) -> None:
    chain = Chain()
    out = tmp_path / "m.parquet"
    with FakeMempool(chain, host="127.0.0.3") as api:
        res = run_cli("fetch", "bitcoin", "--source", "mempool", "--url", api.url,
                      "--start", START, "--end", END, "--out", str(out))
        assert api.throttled > 0
    assert res.exit_code == 0, res.output
    frame, prov = read_series(out)
    check_equal(frame, expected(chain))
    assert prov["source"] == "mempool" and prov["url"].startswith("http://127.0.0.3")


def test_fetch_network_in_process_with_small_batches(tmp_path: Path) -> None:
    """Batches smaller than a day's blocks and concurrency 1 give the same rows."""
    chain = Chain()
    with FakeCore(chain) as node:
        rpc = CoreRpc(node.url.replace("http://", "http://alice:s3cret@"), concurrency=1)
        with rpc:
            fetch_network(rpc, hour_range(START, END), tmp_path / "s.parquet", batch=50)
    check_equal(read_series(tmp_path / "s.parquet")[0], expected(chain))


@pytest.mark.skipif(not os.environ.get("GRIDHASH_BITCOIND_URL"),
                    reason="live test: set GRIDHASH_BITCOIND_URL=http://USER:PASS@HOST:PORT")
def test_live_node(tmp_path: Path) -> None:  # pragma: no cover - needs a real node
    url = os.environ["GRIDHASH_BITCOIND_URL"]
    with CoreRpc(url) as rpc:
        tip = rpc.tip()
    end = pd.Timestamp(tip.mediantime, unit="s", tz="UTC").floor("h")
    start = end - pd.Timedelta(hours=6)
    res = run_cli("fetch", "bitcoin", "--url", url, "--start", start.isoformat(),
                  "--end", end.isoformat(), "--out", str(tmp_path / "live.parquet"))
    assert res.exit_code == 0, res.output
    frame, _ = read_series(tmp_path / "live.parquet")
    assert len(frame) == 6 and frame["blocks"].sum() > 0
    assert (frame["subsidy_btc"] > 0).all() and (frame["difficulty"] > 1e12).all()
