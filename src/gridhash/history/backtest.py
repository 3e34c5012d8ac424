"""``gridhash backtest``: replay a past period with what really happened.

Three runs of the one pipeline over the period:

* **perfect foresight**: every history series as realized (BTC price, difficulty,
  fees, start height, an offtake's power price) and dispatched knowing them all;
* **day-ahead plan**: the same, except that the Bitcoin series of UTC day D are
  those known when the plan is made, at 12:00 UTC on day D-1 (the value of the
  hour 11:00-12:00, held for all of D: a persistence forecast).  Power prices of D
  are known: the day-ahead market clears on D-1;
* **the plan, settled**: the plan's dispatch, hour for hour, valued at the realized
  prices by the same accounts (:func:`gridhash.report.summary.summary`): the
  operator's real position.

The gap between the first and the third is what day-ahead knowledge costs.  The
computed hashprice is set against a published series (``--hashprice FILE``) and
against the realized one, from the blocks really found each hour.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.history.series import History, HistoryError, require

if TYPE_CHECKING:
    import pandas as pd

    from gridhash.pipeline import Run
    from gridhash.scenario.load import LoadedScenario

#: The hour (UTC) whose values a day-ahead plan for the next day is made with.
PLAN_HOUR_UTC = 11

BITCOIN_COLUMNS = {"price_usd": "price_usd", "difficulty": "difficulty",
                   "fees_btc_per_block": "fees_btc_per_block"}


@dataclass(frozen=True, eq=False)
class Backtest:
    """The three runs and the series they were made from."""

    realized: Run
    plan: Run
    settled: Run  # the plan's dispatch under the realized prices
    history: History
    hashprice: np.ndarray  # (T,) computed from the realized series [USD/PH/day]
    hashprice_realized: np.ndarray | None  # (T,) from the blocks found [USD/PH/day]
    published: pd.Series | None  # [USD/PH/day] by time
    offtake: str | None
    left_out: tuple[str, ...]  # dated windows outside the period
    assumptions: tuple[str, ...]


def _clip_windows(obj: Any, a: pd.Timestamp, b: pd.Timestamp, path: str,
                  left: list[str], origin: pd.Timestamp) -> Any:
    """``obj`` without the list items that have a ``start`` (or an ``hour`` from the
    scenario's own start ``origin``) and lie wholly outside ``[a, b)``: outages and
    safety events of another year; ``left`` names them.  An item given by ``hour`` is
    kept at its absolute time (``start``), not moved into the period."""
    import pandas as pd
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):
        update = {}
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            new = _clip_windows(value, a, b, f"{path}.{name}" if path else name, left, origin)
            if new is not value:
                update[name] = new
        return obj.model_copy(update=update) if update else obj
    if isinstance(obj, list):
        out, changed = [], False
        for i, item in enumerate(obj):
            fields = getattr(type(item), "model_fields", {})
            start = getattr(item, "start", None) if "start" in fields else None
            offset = getattr(item, "hour", None) if "hour" in fields else None
            if start is None and isinstance(offset, int) and "start" in fields:
                start = origin + pd.Timedelta(hours=offset)
                item = item.model_copy(update={"start": start.to_pydatetime(), "hour": None})
                changed = True
            if start is not None:
                s = pd.Timestamp(start)
                hours = getattr(item, "hours", None)
                span = pd.Timedelta(hours=hours if isinstance(hours, int) else 1)
                if s + span <= a or s >= b:
                    left.append(f"{path}[{i}] ({s:%Y-%m-%dT%H:%MZ}"
                                + (f", {hours} h)" if isinstance(hours, int) else ")"))
                    changed = True
                    continue
            new = _clip_windows(item, a, b, f"{path}[{i}]", left, origin)
            changed |= new is not item
            out.append(new)
        return out if changed else obj
    return obj


def with_series(loaded: LoadedScenario, index: pd.DatetimeIndex, h: History,
                values: dict[str, np.ndarray], offtake: str | None,
                left: list[str] | None = None) -> LoadedScenario:
    """The scenario over ``index`` with the given Bitcoin series (and the offtake's
    price, key ``price_usd_per_mwh``) inline; dated windows outside it left out."""
    sc = loaded.scenario
    dropped: list[str] = []
    import pandas as pd

    sc = _clip_windows(sc, index[0], index[-1] + _hour(), "", dropped,
                       pd.Timestamp(sc.horizon.start))
    if left is not None:
        left.extend(dropped)
    btc: dict[str, Any] = {k: values[k].tolist() for k in BITCOIN_COLUMNS if k in values}
    if h.has("height"):
        btc["start_height"] = int(h.values("height")[0])
    update: dict[str, Any] = {
        "horizon": sc.horizon.model_copy(update={"start": index[0].to_pydatetime()
                                                 .astimezone(UTC), "hours": len(index)}),
        "bitcoin": sc.bitcoin.model_copy(update=btc),
    }
    if "price_usd_per_mwh" in values and offtake is not None:
        offtakes = [o.model_copy(update={"price_usd_per_mwh":
                                         values["price_usd_per_mwh"].tolist()})
                    if o.name == offtake else o for o in sc.grid.offtakes]
        update["grid"] = sc.grid.model_copy(update={"offtakes": offtakes})
    return dataclasses.replace(loaded, scenario=sc.model_copy(update=update), text="")


def day_ahead(values: np.ndarray, index: pd.DatetimeIndex,
              hour_utc: int = PLAN_HOUR_UTC) -> np.ndarray:
    """Persistence forecast: each UTC day takes the value of ``hour_utc`` the day before
    (the first day, with no day before in the period, its own first hour). [unit of
    ``values``]"""
    import pandas as pd

    day0 = index[0].floor("D")
    day = ((index.floor("D") - day0) // pd.Timedelta(days=1)).to_numpy()
    known = day0 + pd.to_timedelta((day - 1) * 24 + hour_utc, unit="h")
    pos = ((known - index[0]) // pd.Timedelta(hours=1)).to_numpy()
    return values[np.clip(pos, 0, len(values) - 1)]


def read_hashprice(path: Path) -> pd.Series:
    """A published hashprice: a time column and ``hashprice_usd_per_ph_day`` (or one
    value column). [USD/PH/day]"""
    import pandas as pd

    from gridhash.history.series import read_table

    t = read_table(path)
    col = "hashprice_usd_per_ph_day"
    if col not in t.columns:
        nums = [c for c in t.columns if pd.api.types.is_numeric_dtype(t[c])]
        if len(nums) != 1:
            raise HistoryError("which column is the hashprice?", source=str(path),
                               field="--hashprice", value=[str(c) for c in t.columns],
                               expected=f"a {col!r} column (USD per PH/s per day)")
        col = nums[0]
    return t[col].astype(float)


def _hour() -> Any:
    import pandas as pd

    return pd.Timedelta(hours=1)


def run_backtest(loaded: LoadedScenario, index: pd.DatetimeIndex, h: History, *,
                 offtake: str | None = None, hashprice: pd.Series | None = None,
                 agreement: str | None = None) -> Backtest:
    """The three runs of the module doc over ``index`` (UTC hours)."""
    from gridhash.bitcoin.economics import hashprice_usd_per_ph_day
    from gridhash.pipeline import revalue, run_scenario

    require(h, "price_usd", "difficulty")
    realized = {k: h.values(k) for k in BITCOIN_COLUMNS if h.has(k)}
    names = [o.name for o in loaded.scenario.grid.offtakes]
    if h.has("price_usd_per_mwh"):
        offtake = offtake or (names[0] if names else None)
        if offtake not in names:
            raise HistoryError("no such offtake in the scenario", field="--offtake",
                               value=offtake, expected=f"one of {names}")
        realized["price_usd_per_mwh"] = h.values("price_usd_per_mwh")
    elif offtake is not None:
        raise HistoryError("--offtake given but no history file has price_usd_per_mwh",
                           field="--offtake", value=offtake,
                           expected="a power price file (gridhash fetch prices)")
    left: list[str] = []
    real_loaded = with_series(loaded, index, h, realized, offtake, left)
    forecast = {k: (day_ahead(v, index) if k in BITCOIN_COLUMNS else v)
                for k, v in realized.items()}
    plan_loaded = with_series(loaded, index, h, forecast, offtake)
    real = run_scenario(real_loaded, agreement=agreement)
    plan = run_scenario(plan_loaded, agreement=agreement)
    # The plan's dispatch (its result), valued in the realized world (inputs, problem).
    settled = revalue(real, plan.result)
    i = real.inputs
    hp = np.asarray(hashprice_usd_per_ph_day(i.difficulty, i.subsidy_btc_per_block,
                                             i.fees_btc_per_block, i.btc_price_usd), float)
    hp_real = hp * h.values("blocks") / i.blocks_per_hour if h.has("blocks") else None
    assumptions = (
        f"Day-ahead plan: BTC price, difficulty and fees of each UTC day are those of "
        f"{PLAN_HOUR_UTC:02d}:00-{PLAN_HOUR_UTC + 1:02d}:00 UTC the day before (persistence); "
        "the first day uses its own first hour.",
        "Power prices are known a day ahead (the day-ahead market clears the day before).",
        "The plan is carried out hour for hour and settled at the realized prices.",
        "The subsidy follows the halving schedule from the history's first height"
        if h.has("height") else "The subsidy follows the scenario's start_height",
    )
    return Backtest(real, plan, settled, h, hp, hp_real, hashprice, offtake, tuple(left),
                    assumptions)


def compare_hashprice(index: pd.DatetimeIndex, computed: np.ndarray,
                      other: pd.Series) -> dict[str, Any]:
    """Computed vs another hashprice: on its stamps, daily means where it is daily."""
    import pandas as pd

    other = other.dropna().sort_index()
    c = pd.Series(computed, index=index)
    daily = len(other) > 1 and other.index.to_series().diff().min() >= pd.Timedelta(days=1)
    if daily:
        c = c.resample("D").mean()
        other = other.copy()
        other.index = other.index.floor("D")
    common = c.index.intersection(other.index)
    if not len(common):
        raise HistoryError("the hashprice file has no stamp in the period",
                           field="--hashprice", expected="values within --start/--end")
    x, y = c.loc[common].to_numpy(), other.loc[common].to_numpy(dtype=float)
    err = x - y
    return {
        "resolution": "daily" if daily else "hourly",
        "points": len(common),
        "computed_mean": round(float(x.mean()), 4),
        "other_mean": round(float(y.mean()), 4),
        "bias": round(float(err.mean()), 4),
        "mean_abs_error": round(float(np.abs(err).mean()), 4),
        "max_abs_error": round(float(np.abs(err).max()), 4),
        "correlation": round(float(np.corrcoef(x, y)[0, 1]), 4) if len(x) > 2 else None,
    }


def backtest_summary(bt: Backtest) -> dict[str, Any]:
    """What ``backtest.json`` holds."""
    import pandas as pd

    from gridhash.report.summary import summary

    sums = {name: summary(run) for name, run in
            (("perfect_foresight", bt.realized), ("day_ahead_plan", bt.settled))}
    keys = ("revenue_usd", "cost_usd", "net_usd", "penalty_usd", "btc_mined",
            "unserved_firm_mwh", "energy_mwh")
    out: dict[str, Any] = {
        "scenario": bt.realized.name,
        "start": bt.realized.inputs.index[0].isoformat(),
        "hours": bt.realized.inputs.hours,
        "offtake_priced_from_history": bt.offtake,
    }
    for name, s in sums.items():
        out[name] = {k: s[k] for k in keys}
    pf, da = out["perfect_foresight"], out["day_ahead_plan"]
    out["gap"] = {
        "net_usd": round(pf["net_usd"] - da["net_usd"], 2),
        "mining_revenue_usd": round(pf["revenue_usd"]["mining"] - da["revenue_usd"]["mining"],
                                    2),
        "btc": round(pf["btc_mined"] - da["btc_mined"], 8),
        "penalty_usd": {k: round(pf["penalty_usd"][k] - da["penalty_usd"][k], 2)
                        for k in pf["penalty_usd"]},
    }
    idx = bt.realized.inputs.index
    out["hashprice_usd_per_ph_day"] = {"computed_mean": round(float(bt.hashprice.mean()), 4)}
    if bt.hashprice_realized is not None:
        out["hashprice_usd_per_ph_day"]["vs_realized"] = compare_hashprice(
            idx, bt.hashprice, pd.Series(bt.hashprice_realized, index=idx).resample("D").mean())
    if bt.published is not None:
        out["hashprice_usd_per_ph_day"]["vs_published"] = compare_hashprice(
            idx, bt.hashprice, bt.published)
    out["history"] = [{"file": f["file"], "columns": f["columns"],
                       "provenance": f["provenance"]} for f in bt.history.files]
    out["windows_left_out"] = list(bt.left_out)
    out["assumptions"] = list(bt.assumptions)
    return out
