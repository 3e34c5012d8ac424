"""A mempool.space-compatible REST API as a :class:`~gridhash.feeds.blocks.BlockSource`,
and its historical BTC price.

Endpoints (mempool.space's public API; a self-hosted instance serves the same):

* ``GET {BASE}/api/blocks/tip/height``: the tip's height (plain text);
* ``GET {BASE}/api/v1/blocks/{height}``: up to 15 blocks from ``height`` down, each
  with ``height``, ``timestamp``, ``mediantime``, ``difficulty`` and ``extras``
  (``totalFees`` and ``reward`` = subsidy + fees, in satoshis);
* ``GET {BASE}/api/v1/mining/blocks/timestamp/{unix}``: the block at or before a time;
* ``GET {BASE}/api/v1/historical-price?currency=USD&timestamp={unix}``: the price.

HTTP 429 is honoured (``Retry-After``); pages are fetched ``concurrency`` at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gridhash.feeds.blocks import Block, Tip
from gridhash.feeds.errors import FeedError
from gridhash.feeds.http import Connection, RetryPolicy, request
from gridhash.feeds.store import redact_url

#: Blocks per page that every version of the API returns at least (newer: 15).
PAGE = 10


class MempoolApi(Connection):
    """A mempool.space-compatible API at ``base`` (see the module doc)."""

    source = "mempool"

    def __init__(self, base: str, *, policy: RetryPolicy | None = None,
                 concurrency: int = 4) -> None:
        if not base.startswith(("http://", "https://")):
            raise FeedError("not an HTTP URL", field="--url", value=redact_url(base),
                            expected="the API's base URL, e.g. https://mempool.space")
        self.base = base.rstrip("/")
        super().__init__(self.base, policy, concurrency)

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` (JSON, or text for a bare number)."""
        resp = request(self._http, "GET", self.base + path, self.policy,
                       what=path, params=params or None)
        if resp.status_code != 200:
            raise FeedError(f"the API answered {path} with HTTP {resp.status_code}: "
                            f"{resp.text[:120]!r}", source=self.url,
                            expected="HTTP 200 (is this a mempool.space-compatible API?)")
        try:
            return resp.json()
        except ValueError:
            raise FeedError(f"the API's answer to {path} is not JSON: {resp.text[:80]!r}",
                            source=self.url, expected="JSON") from None

    def tip(self) -> Tip:
        """The tip's height and median time."""
        height = int(self.get("/api/blocks/tip/height"))
        top = self._page(height)
        return Tip(height, int(top[0]["mediantime"]))

    def first_height_at(self, t: int) -> int:
        """The block at or before time ``t`` (its median time is earlier still)."""
        doc = self.get(f"/api/v1/mining/blocks/timestamp/{max(t, 1231006505)}")
        return max(int(doc["height"]), 0)

    def _page(self, height: int) -> list[dict[str, Any]]:
        page = self.get(f"/api/v1/blocks/{height}")
        if not isinstance(page, list) or not page:
            raise FeedError(f"no blocks from /api/v1/blocks/{height}", source=self.url,
                            value=str(page)[:80], expected="a JSON array of blocks")
        return page

    @staticmethod
    def _block(d: dict[str, Any], url: str) -> Block:
        try:
            extras = d["extras"]
            fee = int(extras["totalFees"])
            return Block(int(d["height"]), int(d["timestamp"]), int(d["mediantime"]),
                         float(d["difficulty"]), int(extras["reward"]) - fee, fee)
        except (KeyError, TypeError, ValueError) as exc:
            raise FeedError(f"a block lacks {exc}", source=url, value=d.get("height"),
                            expected="height, timestamp, mediantime, difficulty and "
                            "extras.totalFees/reward (mempool's /api/v1/blocks)") from None

    def blocks(self, heights: Sequence[int]) -> list[Block]:
        """The blocks at ``heights``, in order (pages ``concurrency`` at a time)."""
        want = sorted(set(heights))
        if not want:
            return []
        got: dict[int, Block] = {}
        tops = list(range(want[-1], want[0] - 1, -PAGE))
        with ThreadPoolExecutor(self.concurrency) as pool:
            for page in pool.map(self._page, tops):
                for d in page:
                    b = self._block(d, self.url)
                    got[b.height] = b
        missing = [h for h in want if h not in got]
        while missing:  # a short page: fill the gap from its top
            before = len(missing)
            for d in self._page(missing[-1]):
                b = self._block(d, self.url)
                got[b.height] = b
            missing = [h for h in want if h not in got]
            if len(missing) == before:
                raise FeedError(f"the API has no block at height {missing[-1]}",
                                source=self.url, expected="every height up to the tip")
        return [got[h] for h in heights]

    def price_usd(self, t: int) -> tuple[int, float]:
        """The API's historical USD price nearest before ``t``: (its time, price)."""
        doc = self.get("/api/v1/historical-price", currency="USD", timestamp=t)
        try:
            p = doc["prices"][0]
            return int(p["time"]), float(p["USD"])
        except (KeyError, IndexError, TypeError, ValueError):
            raise FeedError("no price in the API's answer", source=self.url,
                            value=str(doc)[:80],
                            expected='{"prices": [{"time": ..., "USD": ...}]}') from None
