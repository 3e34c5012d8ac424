"""Stand-ins on loopback for the services the fetchers talk to.

:class:`Chain` is a small synthetic block chain (times with gaps and out-of-order
stamps, difficulty epochs, halvings, fees).  :class:`FakeCore` answers like
Bitcoin Core's JSON-RPC (shapes of Core's RPC documentation: getblockchaininfo,
getblockcount, getblockhash, getblockheader, getblockstats; error objects with
Core's codes; JSON-RPC 1.0 replies as before v28, or 2.0 replies to 2.0 requests
as from v28; batches; HTTP basic auth with 401).  :class:`FakeMempool` answers
like a mempool.space API (and sends HTTP 429 with Retry-After now and then).

Servers bind 127.0.0.x on a free port, answer at most ``max_requests`` requests,
and stop by themselves after ``lifetime_s`` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import statistics
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

T0 = 1_735_689_600  # 2025-01-01T00:00Z


@dataclass
class Chain:
    """Blocks 0..n-1 from ``T0 - lead_s``; an empty stretch of ``gap_h`` hours at hour
    ``gap_at_h``; every 7th block stamped 20 minutes early (non-monotonic times)."""

    n: int = 1200
    lead_s: int = 2 * 86400
    epoch: int = 144  # blocks per difficulty epoch (2016 on mainnet)
    halving: int = 700  # blocks per halving (210,000 on mainnet)
    gap_at_h: int = 30
    gap_h: int = 3
    seed: int = 1
    pruneheight: int = 0
    times: list[int] = field(init=False)
    fees: list[int] = field(init=False)
    _heights: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        t = T0 - self.lead_s
        times = []
        for h in range(self.n):
            t += int(rng.integers(60, 1140))
            if t >= T0 + self.gap_at_h * 3600 and t < T0 + (self.gap_at_h + self.gap_h) * 3600:
                t = T0 + (self.gap_at_h + self.gap_h) * 3600 + 30
            times.append(t - 1200 if h % 7 == 3 else t)
        self.times = times
        self.fees = [int(x) for x in rng.integers(1_000_000, 90_000_000, self.n)]
        self._heights = {self.hash(h): h for h in range(self.n)}

    def hash(self, h: int) -> str:
        return hashlib.sha256(f"block{h}".encode()).hexdigest()

    def height_of(self, hx: str) -> int | None:
        return self._heights.get(hx)

    def mediantime(self, h: int) -> int:
        return int(statistics.median(self.times[max(0, h - 10): h + 1]))

    def difficulty(self, h: int) -> float:
        return 1.0e14 * (1.0 + 0.03 * (h // self.epoch))

    def subsidy(self, h: int) -> int:
        return (50 * 100_000_000) >> (h // self.halving)

    def header(self, h: int) -> dict[str, Any]:
        d = {"hash": self.hash(h), "confirmations": self.n - h, "height": h,
             "version": 536870912, "versionHex": "20000000", "merkleroot": "00" * 32,
             "time": self.times[h], "mediantime": self.mediantime(h), "nonce": 7,
             "bits": "17034219", "difficulty": self.difficulty(h), "chainwork": "00" * 32,
             "nTx": 3000}
        if h > 0:
            d["previousblockhash"] = self.hash(h - 1)
        if h < self.n - 1:
            d["nextblockhash"] = self.hash(h + 1)
        return d

    def mempool_block(self, h: int) -> dict[str, Any]:
        return {"id": self.hash(h), "height": h, "version": 536870912,
                "timestamp": self.times[h], "bits": 386089497, "nonce": 7,
                "difficulty": self.difficulty(h), "merkle_root": "00" * 32, "tx_count": 3000,
                "size": 1_500_000, "weight": 3_990_000,
                "previousblockhash": self.hash(h - 1) if h else None,
                "mediantime": self.mediantime(h),
                "extras": {"totalFees": self.fees[h], "medianFee": 5.0,
                           "reward": self.subsidy(h) + self.fees[h]}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeService:
    """A loopback HTTP server answering with :meth:`handle` until stopped."""

    def __init__(self, host: str = "127.0.0.1", *, max_requests: int = 20000,
                 lifetime_s: float = 300.0) -> None:
        svc = self
        self.requests = 0
        self.max_requests = max_requests
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _go(self, method: str) -> None:
                with svc.lock:
                    svc.requests += 1
                    over = svc.requests > svc.max_requests
                if over:  # the node has gone: drop the connection without a reply
                    self.close_connection = True
                    self.connection.close()
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = svc.handle(method, self.path, self.headers, body)
                if answer is None:  # gone mid-request
                    self.close_connection = True
                    self.connection.close()
                    return
                status, headers, payload = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._go("GET")

            def do_POST(self) -> None:
                self._go("POST")

        self.server = _Server((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.timer = threading.Timer(lifetime_s, self.stop)
        self.timer.daemon = True

    def handle(self, method: str, path: str, headers: Any,
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def start(self) -> FakeService:
        self.thread.start()
        self.timer.start()
        return self

    def stop(self) -> None:
        self.timer.cancel()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _json(status: int, doc: Any, extra: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", **(extra or {})}, json.dumps(doc).encode()


class RpcReplyError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class FakeCore(FakeService):
    """Bitcoin Core's JSON-RPC over ``chain`` (``v28``: 2.0 replies to 2.0 requests)."""

    def __init__(self, chain: Chain, *, user: str = "alice", password: str = "s3cret",
                 v28: bool = True, ibd: bool = False, max_stats_batches: int | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.chain, self.v28, self.ibd = chain, v28, ibd
        self.max_stats_batches = max_stats_batches  # then the node stops answering
        self.busy = 0  # answer this many requests "Work queue depth exceeded" first
        self.stats_batches = 0
        self.dead = False
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.calls: list[str] = []

    def rpc(self, method: str, params: list[Any]) -> Any:
        c = self.chain
        self.calls.append(method)
        if method == "getblockchaininfo":
            tip = c.n - 1
            doc = {"chain": "main", "blocks": tip, "headers": tip, "bestblockhash": c.hash(tip),
                   "bits": "17034219", "target": "00" * 32, "difficulty": c.difficulty(tip),
                   "time": c.times[tip], "mediantime": c.mediantime(tip),
                   "verificationprogress": 1.0, "initialblockdownload": self.ibd,
                   "chainwork": "00" * 32, "size_on_disk": 1, "pruned": bool(c.pruneheight),
                   "warnings": []}
            if c.pruneheight:
                doc |= {"pruneheight": c.pruneheight, "automatic_pruning": True,
                        "prune_target_size": 576716800}
            return doc
        if method == "getblockcount":
            return c.n - 1
        if method == "getblockhash":
            h = params[0]
            if not isinstance(h, int) or not 0 <= h < c.n:
                raise RpcReplyError(-8, "Block height out of range")
            return c.hash(h)
        if method == "getblockheader":
            h = c.height_of(params[0])
            if h is None:
                raise RpcReplyError(-5, "Block not found")
            return c.header(h)
        if method == "getblockstats":
            key = params[0]
            h = key if isinstance(key, int) else c.height_of(key)
            if h is None:
                raise RpcReplyError(-5, "Block not found")
            if isinstance(key, int) and not 0 <= h < c.n:
                raise RpcReplyError(-8, f"Target block height {h} after current tip {c.n - 1}")
            if h < c.pruneheight:
                raise RpcReplyError(-1, "Block not available (pruned data)")
            allv = {"height": h, "time": c.times[h], "subsidy": c.subsidy(h),
                    "totalfee": c.fees[h], "blockhash": c.hash(h),
                    "mediantime": c.mediantime(h)}
            want = params[1] if len(params) > 1 else list(allv)
            for s in want:
                if s not in allv:
                    raise RpcReplyError(-8, f"Invalid selected statistic '{s}'")
            return {s: allv[s] for s in want}
        raise RpcReplyError(-32601, "Method not found")

    def reply(self, req: Any) -> tuple[dict[str, Any], int]:
        """One response and the HTTP status Core would use for it alone."""
        if not isinstance(req, dict) or "method" not in req:
            return {"result": None, "error": {"code": -32600, "message": "Invalid Request "
                                              "object"}, "id": None}, 400
        v2 = self.v28 and req.get("jsonrpc") == "2.0"
        rid = req.get("id")
        try:
            result = self.rpc(req["method"], list(req.get("params") or []))
        except RpcReplyError as e:
            err = {"code": e.code, "message": e.message}
            if v2:
                return {"jsonrpc": "2.0", "error": err, "id": rid}, 200
            return {"result": None, "error": err, "id": rid}, 404 if e.code == -32601 else 500
        if v2:
            return {"jsonrpc": "2.0", "result": result, "id": rid}, 200
        return {"result": result, "error": None, "id": rid}, 200

    def handle(self, method: str, path: str, headers: Any,
               body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        if self.dead:
            return None
        if b"getblockstats" in body:
            self.stats_batches += 1
            if self.max_stats_batches is not None and self.stats_batches > self.max_stats_batches:
                self.dead = True
                return None
        if self.busy > 0:
            self.busy -= 1
            return 500 if self.busy % 2 else 503, {}, b"Work queue depth exceeded"
        if headers.get("authorization") != self.auth:
            return 401, {"www-authenticate": 'Basic realm="jsonrpc"'}, b""
        if method != "POST":
            return 405, {}, b"JSONRPC server handles only POST requests"
        try:
            req = json.loads(body)
        except ValueError:
            return _json(500, {"result": None, "error": {"code": -32700, "message":
                                                          "Parse error"}, "id": None})
        if isinstance(req, list):
            return _json(200, [self.reply(r)[0] for r in req])
        doc, status = self.reply(req)
        return _json(status, doc)


class FakeMempool(FakeService):
    """A mempool.space-compatible REST API over ``chain`` (15 blocks a page; every
    ``throttle_every``-th request answered 429 with ``Retry-After: 0``)."""

    def __init__(self, chain: Chain, *, throttle_every: int = 5,
                 prices: dict[int, float] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.chain, self.throttle_every, self.prices = chain, throttle_every, prices or {}
        self.throttled = 0

    def handle(self, method: str, path: str, headers: Any,
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        c = self.chain
        if self.throttle_every and self.requests % self.throttle_every == 0:
            self.throttled += 1
            return 429, {"retry-after": "0"}, b"Too Many Requests"
        route, _, _query = path.partition("?")
        parts = route.strip("/").split("/")
        if route == "/api/blocks/tip/height":
            return 200, {"content-type": "text/plain"}, str(c.n - 1).encode()
        if parts[:3] == ["api", "v1", "blocks"] and len(parts) == 4:
            top = min(int(parts[3]), c.n - 1)
            return _json(200, [c.mempool_block(h) for h in range(top, max(top - 15, -1), -1)])
        if parts[:5] == ["api", "v1", "mining", "blocks", "timestamp"]:
            t = int(parts[5])
            h = max([i for i in range(c.n) if c.times[i] <= t] or [0])
            return _json(200, {"height": h, "hash": c.hash(h),
                               "timestamp": f"{t}"})
        if route == "/api/v1/historical-price":
            return _json(200, {"prices": [{"time": t, "USD": p, "EUR": 0}
                                          for t, p in sorted(self.prices.items())],
                               "exchangeRates": {"USDEUR": 0.9}})
        return 404, {}, b"Not Found"


def a44_document(start: int, end: int, resolution_min: int, currency: str = "UAH") -> str:
    """A synthetic ENTSO-E day-ahead price document (A44) over ``[start, end)`` (unix s).

    Price at a period starting ``t``: ``4000 + 100 × UTC hour + minute`` (so the hourly
    mean of 15-minute prices is ``4022.5 + 100 × hour``).  NOT real prices.
    """
    import pandas as pd

    def iso(t: int) -> str:
        return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%MZ")

    step = resolution_min * 60
    points = []
    for k, t in enumerate(range(start, end, step), start=1):
        ts = pd.Timestamp(t, unit="s", tz="UTC")
        price = 4000 + 100 * ts.hour + ts.minute
        points.append(f"<Point><position>{k}</position><price.amount>{price:.2f}"
                      "</price.amount></Point>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Publication_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3">
  <mRID>synthetic-test-document</mRID><revisionNumber>1</revisionNumber><type>A44</type>
  <sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
  <sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
  <receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450
  </receiver_MarketParticipant.mRID>
  <receiver_MarketParticipant.marketRole.type>A33</receiver_MarketParticipant.marketRole.type>
  <createdDateTime>2025-01-01T00:00:00Z</createdDateTime>
  <period.timeInterval><start>{iso(start)}</start><end>{iso(end)}</end></period.timeInterval>
  <TimeSeries>
    <mRID>1</mRID><auction.type>A01</auction.type><businessType>A62</businessType>
    <in_Domain.mRID codingScheme="A01">10Y1001C--00003F</in_Domain.mRID>
    <out_Domain.mRID codingScheme="A01">10Y1001C--00003F</out_Domain.mRID>
    <contract_MarketAgreement.type>A01</contract_MarketAgreement.type>
    <currency_Unit.name>{currency}</currency_Unit.name>
    <price_Measure_Unit.name>MWH</price_Measure_Unit.name>
    <curveType>A01</curveType>
    <Period>
      <timeInterval><start>{iso(start)}</start><end>{iso(end)}</end></timeInterval>
      <resolution>PT{resolution_min}M</resolution>
      {"".join(points)}
    </Period>
  </TimeSeries>
</Publication_MarketDocument>
"""


class FakeEntsoe(FakeService):
    """ENTSO-E's API for document A44: 15-minute prices from ``quarter_from`` (unix s),
    hourly before; HTTP 401 for a token other than ``token``."""

    def __init__(self, *, token: str = "test-token", quarter_from: int = T0 + 86400,
                 currency: str = "UAH", **kw: Any) -> None:
        super().__init__(**kw)
        self.token, self.quarter_from, self.currency = token, quarter_from, currency
        self.queries: list[dict[str, str]] = []

    def handle(self, method: str, path: str, headers: Any,
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        from urllib.parse import parse_qs, urlsplit

        import pandas as pd

        q = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        self.queries.append(q)
        if q.get("securityToken") != self.token:
            return 401, {"content-type": "text/html"}, b"<html><body>Unauthorized</body></html>"
        if q.get("documentType") != "A44":
            return 400, {}, b"only A44 here"

        def unix(s: str) -> int:
            return int(pd.Timestamp(s, tz="UTC").timestamp())

        a, b = unix(q["periodStart"]), unix(q["periodEnd"])
        docs = []
        if a < self.quarter_from:
            docs.append(a44_document(a, min(b, self.quarter_from), 60, self.currency))
        if b > self.quarter_from:
            docs.append(a44_document(max(a, self.quarter_from), b, 15, self.currency))
        # One document holding every series, as the platform sends.
        head, _, rest = docs[0].partition("<TimeSeries>")
        series = ["<TimeSeries>" + rest.rpartition("</Publication_MarketDocument>")[0]]
        for d in docs[1:]:
            series.append("<TimeSeries>" + d.partition("<TimeSeries>")[2]
                          .rpartition("</Publication_MarketDocument>")[0])
        xml = head + "".join(series) + "</Publication_MarketDocument>\n"
        return 200, {"content-type": "text/xml"}, xml.encode()
