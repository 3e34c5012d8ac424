"""``gridhash calibrate``: history files → ``risk-model.toml`` (see
:mod:`gridhash.risk.models.fit` for the fits, :mod:`gridhash.risk.models.fitted` for
the file and how ``gridhash risk --model`` uses it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.history.series import History, HistoryError

if TYPE_CHECKING:
    import pandas as pd


def _hourly(h: History, column: str) -> pd.Series:
    """The column's rows with a value, checked to be consecutive UTC hours."""
    import pandas as pd

    s = h.frame[column].dropna()
    if len(s) > 1:
        step = s.index.to_series().diff().iloc[1:]
        bad = step != pd.Timedelta(hours=1)
        if bad.any():
            t = step.index[int(np.argmax(bad.to_numpy()))]
            raise HistoryError(f"the {column!r} series is not hourly or has a gap before "
                               f"{t:%Y-%m-%dT%H:%MZ}", source=h.source_of(column),
                               expected="consecutive UTC hours (as gridhash fetch writes)")
    return s


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def calibrate(h: History, out: Path, *, btc_model: str = "gbm", offtake: str | None = None,
              utc_offset_hours: float = 2.0) -> dict[str, dict[str, Any]]:
    """Fit every model the history has columns for; returns the tables written to ``out``."""
    from gridhash.risk.models.fit import fit_btc_price, fit_fees, fit_grid_price
    from gridhash.risk.models.fitted import toml_text

    if btc_model not in ("gbm", "bootstrap"):
        raise HistoryError("unknown BTC price model", field="--btc-model", value=btc_model,
                           expected="gbm or bootstrap")
    tables: dict[str, dict[str, Any]] = {}
    if h.has("price_usd"):
        s = _hourly(h, "price_usd")
        fit = fit_btc_price(s.to_numpy(dtype=float))
        src = Path(h.source_of("price_usd")).resolve()
        tables["btc_price"] = {"model": btc_model, **fit,
                               "history": os.path.relpath(src, out.resolve().parent),
                               "column": "price_usd"}
    if h.has("fees_btc_per_block"):
        s = _hourly(h, "fees_btc_per_block")
        carried = (h.frame.loc[s.index, "fees_carried"].fillna(False).to_numpy(dtype=bool)
                   if h.has("fees_carried") else None)
        tables["fees"] = fit_fees(s.to_numpy(dtype=float), carried)
    if h.has("price_usd_per_mwh"):
        s = _hourly(h, "price_usd_per_mwh")
        fit = fit_grid_price(s.to_numpy(dtype=float), s.index, utc_offset_hours=utc_offset_hours)
        tables["grid_price"] = ({"offtake": offtake} if offtake else {}) | fit
    if not tables:
        raise HistoryError("nothing to fit", field="--history",
                           value=[f["file"] for f in h.files],
                           expected="a price_usd, fees_btc_per_block or price_usd_per_mwh column")
    files = []
    for f in h.files:
        p = f["provenance"] or {}
        files.append({"file": f["file"], "source": p.get("source", "unknown"),
                      "url": p.get("url") or "", "start": p.get("start", ""),
                      "end": p.get("complete_until", p.get("end", "")),
                      "fetched_at": p.get("fetched_at", "")})
    idx = h.frame.index
    head = {"fitted_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start": f"{idx[0]:%Y-%m-%dT%H:%MZ}", "end": f"{idx[-1]:%Y-%m-%dT%H:%MZ}",
            "files": [f["file"] for f in files],
            "libraries": {k: _version(k) for k in ("gridhash", "arch", "statsmodels")}}
    tables = {"calibration": head} | tables
    text = toml_text(tables, "gridhash risk model, fitted by `gridhash calibrate` from history;\n"
                     "use it with `gridhash risk SCENARIO --model THIS_FILE` (docs/data.md).\n"
                     + "".join(f"source: {f['file']}: {f['source']} {f['url']} {f['start']} to "
                               f"{f['end']} (fetched {f['fetched_at']})\n" for f in files))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return tables
