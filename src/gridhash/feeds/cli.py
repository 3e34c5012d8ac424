"""``gridhash fetch …``: typer commands over the fetchers (heavy imports inside them)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

fetch_app = typer.Typer(
    name="fetch",
    help="Fetch real data (Bitcoin network, BTC price, power prices) into hourly UTC "
    "Parquet series with their provenance.",
    no_args_is_help=True,
)

StartOpt = Annotated[str, typer.Option("--start", help="First hour, ISO 8601 (UTC).")]
EndOpt = Annotated[str, typer.Option("--end", help="End, exclusive, ISO 8601 (UTC).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Parquet file to write.")]
RetriesOpt = Annotated[int, typer.Option("--retries", min=0, help="Retries per request "
                                         "(exponential backoff from 0.5 s).")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, max=16,
                                             help="Requests in flight at once.")]


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


@fetch_app.command("bitcoin")
def bitcoin(
    start: StartOpt,
    end: EndOpt,
    out: OutOpt,
    url: Annotated[str, typer.Option("--url", help="core: http://USER:PASS@HOST:PORT; "
                                     "mempool: the API's base URL.")],
    source: Annotated[str, typer.Option("--source", help="core (your node's JSON-RPC) or "
                                        "mempool (a mempool.space-compatible API).")] = "core",
    cookie: Annotated[Path | None, typer.Option("--cookie", help="core: the node's .cookie "
                                                "file instead of USER:PASS.")] = None,
    retries: RetriesOpt = 5,
    concurrency: ConcurrencyOpt = 4,
) -> None:
    """Blocks, height, difficulty, fees and subsidy per UTC hour; re-run to continue."""
    from gridhash.feeds.blocks import fetch_network
    from gridhash.feeds.errors import FeedError
    from gridhash.feeds.http import RetryPolicy
    from gridhash.feeds.store import HourRange, hour_range

    rng = hour_range(start, end)
    policy = RetryPolicy(retries=retries)
    if source == "core":
        from gridhash.feeds.bitcoin_core import CoreRpc

        src = CoreRpc(url, cookie=cookie, policy=policy, concurrency=concurrency)
    elif source == "mempool":
        from gridhash.feeds.mempool import MempoolApi

        src = MempoolApi(url, policy=policy, concurrency=concurrency)
    else:
        raise FeedError("unknown source", field="--source", value=source,
                        expected="core or mempool")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    err = Console(stderr=True)
    with src, Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=err, transient=True,
                       disable=not err.is_terminal) as bar:
        task = bar.add_task("hours", total=rng.hours)

        def advance(t: Any) -> None:  # t: the hour the file is now complete up to
            bar.update(task, completed=HourRange(rng.start, t).hours)

        prov = fetch_network(src, rng, out, progress=advance)
    _say(f"wrote {out}: {prov['rows']} new hour(s), complete until {prov['complete_until']}")


@fetch_app.command("btc-price")
def btc_price(
    start: StartOpt,
    end: EndOpt,
    out: OutOpt,
    source: Annotated[str, typer.Option("--source", help="coinbase (Exchange candles) or "
                                        "mempool (its historical price).")] = "coinbase",
    url: Annotated[str | None, typer.Option("--url", help="Base URL [default: the "
                                            "source's public API].")] = None,
    retries: RetriesOpt = 5,
) -> None:
    """Hourly BTC price in USD from a public source."""
    from gridhash.feeds.btc_price import fetch_btc_price
    from gridhash.feeds.http import RetryPolicy
    from gridhash.feeds.store import hour_range

    default = {"coinbase": "https://api.exchange.coinbase.com",
               "mempool": "https://mempool.space"}
    prov = fetch_btc_price(source, url or default.get(source, ""), hour_range(start, end), out,
                           policy=RetryPolicy(retries=retries))
    _say(f"wrote {out}: {prov['start']} to {prov['end']}, {prov['hours_carried']} hour(s) "
         "carried forward")


@fetch_app.command("prices")
def prices(
    out: OutOpt,
    source: Annotated[str, typer.Option("--source", help="entsoe, oree-file or "
                                        "gridstatus-file.")],
    file: Annotated[Path | None, typer.Argument(help="oree-file / gridstatus-file: the "
                                                "file to import.", show_default=False)] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="entsoe: bidding zone (UA, "
                                             "DE_LU, …); gridstatus-file: location.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First hour (entsoe: "
                                              "required; files: default their first).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="End, exclusive.")] = None,
    fx: Annotated[str | None, typer.Option("--fx", help="FX for non-USD prices: a file "
                                           "(<cur>_per_usd by date) or nbu.")] = None,
    token_env: Annotated[str, typer.Option("--token-env", help="entsoe: environment "
                                           "variable holding the security token.")]
    = "ENTSOE_API_KEY",
    url: Annotated[str | None, typer.Option("--url", help="entsoe: another API endpoint "
                                            "(entsoe-py's ENTSOE_ENDPOINT_URL).")] = None,
) -> None:
    """Hourly power prices in their currency and in USD, with the FX rate used."""
    from gridhash.feeds import power
    from gridhash.feeds.errors import FeedError
    from gridhash.feeds.store import hour_range, parse_time

    if source == "entsoe":
        if zone is None or start is None or end is None:
            raise FeedError("entsoe needs --zone, --start and --end", field="--source",
                            value=source, expected="e.g. --zone UA --start 2025-01-01 "
                            "--end 2025-02-01")
        prov = power.fetch_entsoe(zone, hour_range(start, end), out, fx=fx,
                                  token_env=token_env, url=url)
    elif source in ("oree-file", "gridstatus-file"):
        if file is None:
            raise FeedError(f"{source} needs the file to import", field="FILE",
                            expected=f"gridhash fetch prices --source {source} FILE --out …")
        if not file.is_file():
            raise FeedError("file not found", source=str(file), expected="an existing file")
        a = parse_time(start, "--start") if start else None
        b = parse_time(end, "--end") if end else None
        if start is not None and end is not None:
            hour_range(start, end)  # the same checks as the fetchers: on the hour, ordered
        if source == "oree-file":
            prov = power.import_oree(file, out, fx=fx, start=a, end=b)
        else:
            prov = power.import_gridstatus(file, out, location=zone, start=a, end=b)
    else:
        raise FeedError("unknown source", field="--source", value=source,
                        expected=" or ".join(power.SOURCES))
    _say(f"wrote {out}: {prov['start']} to {prov['end']}, {prov['currency']}"
         + (f" converted with {prov['fx']['source']}" if prov.get("fx") else ""))
