"""Bitcoin Core's JSON-RPC as a :class:`~gridhash.feeds.blocks.BlockSource`.

Calls ``getblockchaininfo`` (tip, pruning), ``getblockhash`` and ``getblockheader``
(time, median time, difficulty; headers survive pruning) and ``getblockstats``
with ``height``, ``time``, ``subsidy`` and ``totalfee`` (satoshis), in JSON-RPC
batches of :data:`BATCH` calls, at most ``concurrency`` batches in flight (keep
it within the node's ``-rpcthreads`` and ``-rpcworkqueue``; a full queue answers
HTTP 503, older versions 500, with "Work queue depth exceeded"; either is retried
with backoff).  Requests use the JSON-RPC 2.0 envelope; replies in either envelope are
read (nodes before v28 answer in the 1.0 style, with HTTP 500 for a failed
single call).  Credentials come from the URL (``http://USER:PASS@HOST:PORT``) or
from the node's ``.cookie`` file; they never reach a file or a message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from gridhash.feeds.blocks import Block, Tip
from gridhash.feeds.errors import FeedError
from gridhash.feeds.http import Connection, RetryPolicy, request
from gridhash.feeds.store import redact_url

#: Calls per JSON-RPC batch.
BATCH = 100

#: Bitcoin Core's RPC error codes that gridhash explains (src/rpc/protocol.h).
RPC_MISC_ERROR = -1  # e.g. "Block not available (pruned data)"
RPC_INVALID_PARAMETER = -8  # e.g. "Block height out of range"
RPC_IN_WARMUP = -28  # the node is still starting: worth retrying
RPC_METHOD_NOT_FOUND = -32601

STATS = ["height", "time", "subsidy", "totalfee"]


class _BusyError(Exception):
    """The node's work queue is full (a plain-text HTTP 500 or 503)."""


class RpcError(Exception):
    """A JSON-RPC error object from the node."""

    def __init__(self, method: str, params: list[Any], code: int, message: str) -> None:
        super().__init__(f"{method}{tuple(params)}: error {code}: {message}")
        self.method, self.params, self.code, self.message = method, params, code, message


def read_cookie(path: Path) -> tuple[str, str]:
    """User and password from Bitcoin Core's ``.cookie`` file (``__cookie__:HEX``)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise FeedError(f"cannot read the cookie file: {exc.strerror}", source=str(path),
                        field="--cookie", expected="the node's .cookie file (in its data "
                        "directory while bitcoind runs)") from None
    user, sep, password = text.partition(":")
    if not sep:
        raise FeedError("the cookie file is not USER:PASSWORD", source=str(path),
                        field="--cookie", expected="the node's .cookie file")
    return user, password


class CoreRpc(Connection):
    """A JSON-RPC connection to one Bitcoin Core node (see the module doc)."""

    source = "core"

    def __init__(self, url: str, *, cookie: Path | None = None,
                 policy: RetryPolicy | None = None, concurrency: int = 4) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FeedError("not an RPC URL", field="--url", value=redact_url(url),
                            expected="http://USER:PASS@HOST:PORT (e.g. port 8332)")
        if cookie is not None:
            auth: tuple[str, str] | None = read_cookie(cookie)
        elif parts.username is not None:
            auth = (unquote(parts.username), unquote(parts.password or ""))
        else:
            auth = None
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._endpoint = urlunsplit((parts.scheme, host, parts.path or "/", "", ""))
        super().__init__(url, policy, concurrency, auth=auth)
        self._ids = 0

    # -- JSON-RPC ---------------------------------------------------------------------

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Results of ``calls`` (method, params) sent as one batch, in order.

        Raises
        ------
        RpcError
            The first call that failed (after retrying a node in warm-up).
        FeedError
            Wrong credentials, a refused or unreachable node, a reply that is not
            JSON-RPC.
        """
        import time

        for attempt in range(self.policy.retries + 1):
            try:
                return self._batch_once(calls)
            except RpcError as exc:
                if exc.code != RPC_IN_WARMUP or attempt == self.policy.retries:
                    raise
            except _BusyError:
                if attempt == self.policy.retries:
                    raise FeedError("the node's RPC work queue stays full", source=self.url,
                                    expected="fewer requests in flight (--concurrency) or a "
                                    "larger -rpcworkqueue on the node") from None
            time.sleep(self.policy.wait(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method: str, *params: Any) -> Any:
        """One call (sent as a batch of one)."""
        return self.batch([(method, list(params))])[0]

    def _batch_once(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        first = self._ids
        self._ids += len(calls)
        body = [{"jsonrpc": "2.0", "id": first + k, "method": m, "params": p}
                for k, (m, p) in enumerate(calls)]
        resp = request(self._http, "POST", self._endpoint, self.policy,
                       what=f"{calls[0][0]} from the node", ok=(200, 404, 500),
                       content=json.dumps(body).encode(),
                       headers={"content-type": "application/json"})
        if resp.status_code == 401:
            raise FeedError("the node refused the credentials (HTTP 401)", source=self.url,
                            field="--url", expected="the node's rpcuser/rpcpassword or "
                            "rpcauth credentials in the URL, or --cookie with its .cookie file")
        if resp.status_code == 403:
            raise FeedError("the node refused this client (HTTP 403)", source=self.url,
                            expected="this address allowed by the node's -rpcallowip and "
                            "the methods by -rpcwhitelist")
        try:
            reply = resp.json()
        except ValueError:
            if "work queue depth exceeded" in resp.text.lower():
                raise _BusyError() from None
            raise FeedError(
                f"the node answered HTTP {resp.status_code} without JSON: "
                f"{resp.text[:120]!r}", source=self.url,
                expected="a Bitcoin Core JSON-RPC endpoint") from None
        if isinstance(reply, dict):  # some servers answer a whole failed batch with one
            reply = [reply]
        if not isinstance(reply, list):
            raise FeedError("the node's reply is not a JSON-RPC batch", source=self.url,
                            value=str(reply)[:80], expected="a JSON array of responses")
        by_id = {r.get("id"): r for r in reply if isinstance(r, dict)}
        out = []
        for k, (m, p) in enumerate(calls):
            r = by_id.get(first + k)
            if r is None:
                err = next((x.get("error") for x in reply if isinstance(x, dict)
                            and x.get("error")), None)
                if err:
                    raise RpcError(m, p, int(err.get("code", 0)), str(err.get("message")))
                raise FeedError(f"the node's reply lacks the answer to {m}", source=self.url,
                                expected="one response per request id")
            err = r.get("error")
            if err:  # 1.0: present and null on success; 2.0: absent on success
                if not isinstance(err, dict):
                    err = {"code": 0, "message": str(err)}
                raise RpcError(m, p, int(err.get("code", 0)), str(err.get("message", "")))
            out.append(r.get("result"))
        return out

    # -- BlockSource ------------------------------------------------------------------

    def tip(self) -> Tip:
        """Best block: height, median time and (pruned nodes) the prune height."""
        try:
            info = self.call("getblockchaininfo")
        except RpcError as exc:
            raise _explain(exc, self.url) from None
        if info.get("initialblockdownload"):
            raise FeedError(
                f"the node is still in initial block download ({info.get('blocks')} of "
                f"{info.get('headers')} blocks)", source=self.url,
                expected="a synchronised node (wait for it to catch up)")
        prune = int(info.get("pruneheight", 0)) if info.get("pruned") else 0
        return Tip(int(info["blocks"]), int(info["mediantime"]), prune)

    def _headers(self, heights: Sequence[int]) -> list[dict[str, Any]]:
        hashes = self.batch([("getblockhash", [h]) for h in heights])
        return self.batch([("getblockheader", [x, True]) for x in hashes])

    def first_height_at(self, t: int) -> int:
        """Lowest height whose median time is ≥ ``t`` (binary search on headers)."""
        try:
            lo, hi = 0, int(self.call("getblockcount"))
            while lo < hi:
                mid = (lo + hi) // 2
                if int(self._headers([mid])[0]["mediantime"]) >= t:
                    hi = mid
                else:
                    lo = mid + 1
        except RpcError as exc:
            raise _explain(exc, self.url) from None
        return lo

    def _chunk(self, heights: Sequence[int]) -> list[Block]:
        try:
            headers = self._headers(heights)
            stats = self.batch([("getblockstats", [hd["hash"], STATS]) for hd in headers])
        except RpcError as exc:
            raise _explain(exc, self.url) from None
        out = []
        for hd, st in zip(headers, stats, strict=True):
            if int(st["height"]) != int(hd["height"]) or int(st["time"]) != int(hd["time"]):
                raise FeedError("getblockstats and getblockheader disagree",
                                source=self.url, value=(st, hd["height"]),
                                expected="the same block's height and time")
            out.append(Block(int(hd["height"]), int(hd["time"]), int(hd["mediantime"]),
                             float(hd["difficulty"]), int(st["subsidy"]),
                             int(st["totalfee"])))
        return out

    def blocks(self, heights: Sequence[int]) -> list[Block]:
        """The blocks at ``heights``, in order (batches, ``concurrency`` at a time)."""
        heights = list(heights)
        chunks = [heights[a:a + BATCH] for a in range(0, len(heights), BATCH)]
        if len(chunks) <= 1:
            return self._chunk(heights) if heights else []
        with ThreadPoolExecutor(self.concurrency) as pool:
            parts = list(pool.map(self._chunk, chunks))
        return [b for part in parts for b in part]


def _explain(exc: RpcError, url: str) -> FeedError:
    """A node's error object as a message for people."""
    msg = exc.message.lower()
    if "pruned" in msg:
        return FeedError(f"the node has pruned the block ({exc.method} {exc.params[0]}: "
                         f"{exc.message})", source=url, field="--start",
                         expected="a range whose blocks the node still stores, or a node "
                         "without pruning (prune=0)")
    if exc.code == RPC_INVALID_PARAMETER and "out of range" in msg:
        return FeedError(f"the range goes beyond the chain tip ({exc.method} "
                         f"{exc.params[0]}: {exc.message})", source=url, field="--end",
                         expected="an --end before the node's tip")
    if exc.code == RPC_METHOD_NOT_FOUND:
        return FeedError(f"the node does not offer {exc.method}", source=url,
                         expected="Bitcoin Core 0.17 or later (getblockstats)")
    return FeedError(f"the node answered {exc.method} with error {exc.code}: {exc.message}",
                     source=url, expected="a successful reply")

