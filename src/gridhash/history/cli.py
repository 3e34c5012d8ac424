"""``gridhash backtest`` and ``gridhash calibrate`` (heavy imports inside the commands)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

HistoryOpt = Annotated[list[Path], typer.Option(
    "--history", help="A history file (CSV/Parquet with a time column, e.g. from "
    "`gridhash fetch`); repeat for several.")]


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def backtest_command(
    scenario: Annotated[str, typer.Argument(help="Scenario TOML file or built-in name.")],
    start: Annotated[str, typer.Option("--start", help="First hour, ISO 8601 (UTC).")],
    end: Annotated[str, typer.Option("--end", help="End, exclusive, ISO 8601 (UTC).")],
    history: HistoryOpt,
    hashprice: Annotated[Path | None, typer.Option(
        "--hashprice", help="A published hashprice series to compare with [USD/PH/day].")]
    = None,
    offtake: Annotated[str | None, typer.Option(
        "--offtake", help="The offtake whose price price_usd_per_mwh replaces [default: "
        "the first].")] = None,
    agreement: Annotated[str | None, typer.Option("--agreement", help="Plan and settle "
                                                  "under this agreement.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder [default: "
                                             "out/<scenario>-backtest/].")] = None,
) -> None:
    """Replay a past period: computed vs published hashprice, mining revenue and BTC, and
    what a day-ahead plan loses against perfect foresight."""
    from gridhash.history.backtest import backtest_summary, read_hashprice, run_backtest
    from gridhash.history.report import insert_section, render_backtest
    from gridhash.history.series import load_history, period
    from gridhash.report.html import render_html
    from gridhash.report.summary import hourly_frame, summary
    from gridhash.report.write import atomic_write_text
    from gridhash.scenario.load import load_scenario

    loaded = load_scenario(scenario)
    index = period(start, end)
    h = load_history(list(history), index)
    published = read_hashprice(hashprice) if hashprice is not None else None
    bt = run_backtest(loaded, index, h, offtake=offtake, hashprice=published,
                      agreement=agreement)
    doc = backtest_summary(bt)
    folder = out or Path("out") / f"{loaded.name}-backtest"
    folder.mkdir(parents=True, exist_ok=True)
    data = summary(bt.realized)
    hourly = hourly_frame(bt.realized)
    atomic_write_text(folder / "summary.json", json.dumps(data, indent=2) + "\n")
    atomic_write_text(folder / "backtest.json", json.dumps(doc, indent=2) + "\n")
    hourly.to_parquet(folder / "hourly.parquet")
    hourly_frame(bt.settled).to_parquet(folder / "plan_hourly.parquet")
    page = insert_section(render_html(bt.realized, data, hourly), render_backtest(bt, doc))
    atomic_write_text(folder / "report.html", page)
    pf, da, gap = doc["perfect_foresight"], doc["day_ahead_plan"], doc["gap"]
    _say(f"backtest {loaded.name}: {len(index)} h from {index[0]:%Y-%m-%d %H:%MZ}")
    _say(f"  hashprice computed mean {doc['hashprice_usd_per_ph_day']['computed_mean']:.2f} "
         "USD/PH/day" + "".join(
             f"; {k.replace('vs_', 'vs ')}: mean |error| {v['mean_abs_error']:.2f}"
             for k, v in doc["hashprice_usd_per_ph_day"].items() if isinstance(v, dict)))
    _say(f"  mining revenue {pf['revenue_usd']['mining']:,.0f} USD, {pf['btc_mined']:.4f} BTC "
         f"(perfect foresight); {da['revenue_usd']['mining']:,.0f} USD, "
         f"{da['btc_mined']:.4f} BTC (day-ahead plan)")
    _say(f"  net (revenue − costs) {pf['net_usd']:,.0f} vs {da['net_usd']:,.0f} USD: the "
         f"day-ahead plan gives up {gap['net_usd']:,.0f} USD")
    if doc["windows_left_out"]:
        left = doc["windows_left_out"]
        _say(f"  note: {len(left)} dated window(s) of the scenario lie outside the period and "
             f"were left out (listed in backtest.json), e.g. {left[0]}")
    _say(f"wrote {folder / 'report.html'}, {folder / 'backtest.json'}")


def calibrate_command(
    history: HistoryOpt,
    out: Annotated[Path, typer.Option("--out", help="The risk model to write.")]
    = Path("risk-model.toml"),
    start: Annotated[str | None, typer.Option("--start", help="Fit from this hour.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Fit up to this hour "
                                            "(exclusive).")] = None,
    btc_model: Annotated[str, typer.Option("--btc-model", help="gbm (drift and volatility) "
                                           "or bootstrap (blocks of the history's returns)."
                                           )] = "gbm",
    offtake: Annotated[str | None, typer.Option("--offtake", help="The offtake the power "
                                                "price fit is for [default: the first].")]
    = None,
    utc_offset: Annotated[float, typer.Option("--utc-offset", help="Local time of the power "
                                              "market, hours from UTC.")] = 2.0,
) -> None:
    """Fit the risk models (BTC drift/volatility and block length, fee AR(1), power price
    seasonality and noise) from history; `gridhash risk --model FILE` uses the fit."""
    from gridhash.history.calibrate import calibrate
    from gridhash.history.series import load_history, period

    index = period(start, end) if start and end else None
    h = load_history(list(history), index)
    if index is None and (start or end):
        import pandas as pd

        lo = pd.Timestamp(start, tz="UTC") if start else h.frame.index[0]
        hi = pd.Timestamp(end, tz="UTC") if end else h.frame.index[-1] + pd.Timedelta(hours=1)
        h = type(h)(h.frame[(h.frame.index >= lo) & (h.frame.index < hi)], h.files)
    tables = calibrate(h, out, btc_model=btc_model, offtake=offtake, utc_offset_hours=utc_offset)
    b, f, g = (tables.get(k) for k in ("btc_price", "fees", "grid_price"))
    if b:
        _say(f"BTC price: drift {b['drift_per_year']:+.3f}/yr, volatility "
             f"{b['volatility_per_year']:.3f}/√yr, bootstrap block {b['block_h']:g} h "
             f"({b['hours']} h)")
    if f:
        _say(f"fees: mean {f['mean_btc_per_block']:.5f} BTC/block, log sd {f['log_sd']:.3f}, "
             f"half-life {f['half_life_h']:.1f} h")
    if g:
        _say(f"power price: mean {g['mean_usd_per_mwh']:.1f} USD/MWh, daily amplitude "
             f"{g['daily_amplitude']:.2f} (peak {g['peak_hour']:.1f} h local), seasonal "
             f"{g['seasonal_amplitude']:.2f}, weekend ×{g['weekend_factor']:.2f}, noise log sd "
             f"{g['log_sd']:.3f}, half-life {g['half_life_h']:.1f} h")
    _say(f"wrote {out}")
