"""Hourly BTC price in USD (``gridhash fetch btc-price``).

Sources, each with a configurable base URL:

* ``coinbase``: Coinbase Exchange's public candles,
  ``GET {BASE}/products/BTC-USD/candles?granularity=3600&start=…&end=…``, at most
  300 candles a request, each ``[time, low, high, open, close, volume]``;
  ``price_usd`` is the hour's close.
* ``mempool``: a mempool.space-compatible API's ``/api/v1/historical-price``
  (one request: every price it stores); each hour takes the latest price at or
  before its start.

An hour without a candle (no trade) carries the last close forward; the
``price_carried`` column marks it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.feeds.errors import FeedError
from gridhash.feeds.http import RetryPolicy, client, request
from gridhash.feeds.store import (
    HourRange,
    library_versions,
    provenance,
    redact_url,
    stamp,
    write_series,
)

if TYPE_CHECKING:
    import pandas as pd

SOURCES = ("coinbase", "mempool")
CANDLES_PER_REQUEST = 300

COLUMNS = {
    "time": "UTC hour start",
    "price_usd": "BTC price [USD/BTC]",
    "price_carried": "True where the source had no price for the hour (carried forward)",
}


def _coinbase(base: str, rng: HourRange, policy: RetryPolicy) -> pd.Series:
    import pandas as pd

    url = base.rstrip("/") + "/products/BTC-USD/candles"
    rows: dict[int, float] = {}
    with client(policy) as c:
        a = rng.start
        while a < rng.end:
            b = min(a + pd.Timedelta(hours=CANDLES_PER_REQUEST), rng.end)
            resp = request(c, "GET", url, policy, what="candles",
                           params={"granularity": 3600, "start": a.isoformat(),
                                   "end": b.isoformat()})
            if resp.status_code != 200:
                raise FeedError(f"the exchange answered HTTP {resp.status_code}: "
                                f"{resp.text[:120]!r}", source=redact_url(url),
                                expected="HTTP 200 with candles")
            try:
                for t, _low, _high, _open, close, _vol in resp.json():
                    rows[int(t)] = float(close)
            except (TypeError, ValueError):
                raise FeedError("the candles are not [time, low, high, open, close, "
                                "volume] rows", source=redact_url(url),
                                value=resp.text[:80], expected="Coinbase's candle rows") \
                    from None
            a = b
    return pd.Series(rows, dtype=float)


def _mempool(base: str, rng: HourRange, policy: RetryPolicy) -> pd.Series:
    import pandas as pd

    url = base.rstrip("/") + "/api/v1/historical-price"
    with client(policy) as c:
        resp = request(c, "GET", url, policy, what="historical prices",
                       params={"currency": "USD"})
    if resp.status_code != 200:
        raise FeedError(f"the API answered HTTP {resp.status_code}", source=redact_url(url),
                        expected="HTTP 200 with prices")
    try:
        prices = {int(p["time"]): float(p["USD"]) for p in resp.json()["prices"]}
    except (KeyError, TypeError, ValueError):
        raise FeedError("the answer is not mempool's historical prices",
                        source=redact_url(url), value=resp.text[:80],
                        expected='{"prices": [{"time": ..., "USD": ...}, ...]}') from None
    s = pd.Series(prices, dtype=float).sort_index()
    s = s[s > 0]  # mempool reports 0 where it has no price for a currency
    hours = rng.index().as_unit("s").asi8
    pos = np.searchsorted(s.index.to_numpy(), hours, side="right") - 1
    ok = pos >= 0
    return pd.Series(s.to_numpy()[pos[ok]], index=hours[ok])


def fetch_btc_price(source: str, base: str, rng: HourRange, out: Path, *,
                    policy: RetryPolicy | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fetch hourly ``price_usd`` for ``rng`` into ``out``; returns the provenance."""
    import pandas as pd

    policy = policy or RetryPolicy()
    if source not in SOURCES:
        raise FeedError("unknown price source", field="--source", value=source,
                        expected=" or ".join(SOURCES))
    if rng.end > pd.Timestamp.now(tz="UTC").ceil("h"):
        raise FeedError("the range ends in the future", field="--end", value=stamp(rng.end),
                        expected="an --end no later than the current hour")
    by_time = (_coinbase if source == "coinbase" else _mempool)(base, rng, policy)
    idx = rng.index()
    unix = idx.as_unit("s").asi8
    price = by_time.reindex(unix).to_numpy(dtype=float)
    carried = ~np.isfinite(price)
    if carried[0]:
        raise FeedError(f"the source has no price for the first hour {stamp(rng.start)}",
                        source=redact_url(base), field="--start",
                        expected="a start the source has prices for")
    price = pd.Series(price).ffill().to_numpy()
    frame = pd.DataFrame({"time": idx, "price_usd": price, "price_carried": carried})
    how = ("the close of Coinbase Exchange's hourly BTC-USD candle" if source == "coinbase"
           else "the latest price the API stores at or before the hour's start")
    prov = provenance(
        kind="btc-price", source=source, url=base, rng=rng, complete_until=rng.end,
        columns=COLUMNS, libraries=library_versions("httpx"),
        assumptions=[f"price_usd is {how}.",
                     "Hours without a price carry the last one forward (price_carried)."],
        hours_carried=int(carried.sum()))
    write_series(out, frame, prov)
    return prov
