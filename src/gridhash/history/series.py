"""History files → one hourly table: recognised columns, gaps reported, provenance kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.errors import InputError
from gridhash.scenario.series import TIME_COLUMNS, read_provenance

if TYPE_CHECKING:
    import pandas as pd

#: History columns gridhash uses, and what for.
KNOWN = {
    "price_usd": "BTC price [USD/BTC]",
    "difficulty": "network difficulty [-]",
    "fees_btc_per_block": "mean fees per block [BTC/block]",
    "fees_carried": "hours whose fee was carried forward (no block)",
    "blocks": "blocks found in the hour [-]",
    "height": "height of the hour's first block [-]",
    "subsidy_btc": "block subsidy [BTC]",
    "price_usd_per_mwh": "power price [USD/MWh]",
}


class HistoryError(InputError):
    """A history file is missing, unreadable, or lacks hours or columns."""


@dataclass(frozen=True)
class History:
    """Hourly columns from one or more files, on one UTC index."""

    frame: pd.DataFrame  # index: UTC hours; columns as in the files
    files: tuple[dict[str, Any], ...]  # {"file", "columns", "provenance"}

    def has(self, column: str) -> bool:
        """Whether a file gave ``column``."""
        return column in self.frame.columns

    def values(self, column: str) -> np.ndarray:
        """A column as float64. [its unit]"""
        return self.frame[column].to_numpy(dtype=float)

    def source_of(self, column: str) -> str:
        """The file that gave ``column``."""
        return next(f["file"] for f in self.files if column in f["columns"])


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet table indexed by its time column (UTC), each time once."""
    import pandas as pd

    if not path.is_file():
        raise HistoryError("history file not found", source=str(path), field="--history",
                           expected="a CSV or Parquet file (e.g. from `gridhash fetch`)")
    try:
        t = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") \
            else pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many types
        raise HistoryError(f"cannot read the history file: {exc}", source=str(path),
                           expected="a CSV or Parquet table") from None
    names = (*TIME_COLUMNS, "date")
    tcol = next((c for c in t.columns if str(c).lower() in names), None)
    if tcol is None:
        raise HistoryError("no time column", source=str(path),
                           value=[str(c) for c in t.columns],
                           expected=f"one of {list(names)} (UTC)")
    try:
        when = pd.to_datetime(t[tcol], utc=True)
    except (ValueError, TypeError) as exc:
        raise HistoryError(f"cannot parse the time column: {exc}", source=str(path),
                           field=str(tcol), expected="ISO 8601 times") from None
    if when.duplicated().any():
        raise HistoryError("the time column repeats an hour", source=str(path),
                           value=str(when[when.duplicated()].iloc[0]), expected="each hour once")
    return t.drop(columns=[tcol]).set_index(pd.DatetimeIndex(when, name="time"))


def load_history(paths: list[Path], index: pd.DatetimeIndex | None = None) -> History:
    """Join the files' columns on their hours (within ``index`` when given).

    Two files giving the same column is an error naming both.  With ``index``,
    every hour of it must be in every file.
    """
    import pandas as pd

    if not paths:
        raise HistoryError("no history file given", field="--history",
                           expected="--history FILE (repeat for several)")
    frames, files, owner = [], [], {}
    for path in paths:
        t = read_table(path)
        for c in t.columns:
            if c in owner:
                raise HistoryError(f"column {c!r} is in two history files", source=str(path),
                                   value=owner[c], expected="each column in one file")
            owner[c] = str(path)
        if index is not None:
            missing = index.difference(t.index)
            if len(missing):
                raise HistoryError(
                    f"{len(missing)} hour(s) of the period are missing, the first "
                    f"{missing[0]:%Y-%m-%dT%H:%MZ}", source=str(path), field="--start/--end",
                    expected=f"every hour from {index[0]:%Y-%m-%dT%H:%MZ} to "
                    f"{index[-1]:%Y-%m-%dT%H:%MZ}")
            t = t.loc[index]
        frames.append(t)
        files.append({"file": str(path), "columns": [str(c) for c in t.columns],
                      "provenance": read_provenance(path)})
    frame = pd.concat(frames, axis=1, join="outer").sort_index()
    return History(frame, tuple(files))


def period(start: str, end: str) -> pd.DatetimeIndex:
    """``--start``/``--end`` as the UTC hours ``[start, end)`` (both on the hour)."""
    import pandas as pd

    stamps = []
    for text, opt in ((start, "--start"), (end, "--end")):
        try:
            t = pd.Timestamp(text)
        except (ValueError, TypeError):
            raise HistoryError("cannot parse the time", field=opt, value=text,
                               expected="ISO 8601, e.g. 2025-01-01T00:00Z") from None
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        if t != t.floor("h"):
            raise HistoryError("the time is not on the hour", field=opt, value=text,
                               expected="a whole UTC hour")
        stamps.append(t)
    if stamps[1] <= stamps[0]:
        raise HistoryError("the period is empty", field="--end", value=end,
                           expected=f"a time after --start {start}")
    return pd.date_range(stamps[0], stamps[1], freq="h", inclusive="left")


def require(h: History, *columns: str) -> None:
    """Each of ``columns`` must come from some file."""
    for c in columns:
        if not h.has(c):
            raise HistoryError(f"no history file has the column {c!r} ({KNOWN.get(c, '')})",
                               field="--history", value=[f["file"] for f in h.files],
                               expected=f"a file with {c!r} (see docs/data.md)")
