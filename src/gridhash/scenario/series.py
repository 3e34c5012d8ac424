"""Turn a field that is "static or series" into one float64 value per hour.

Forms accepted (see :data:`gridhash.scenario.models.SeriesSpec`):

* a number: the same every hour;
* a list of numbers: one per hour, inline;
* ``{file = "x.csv", column = "c"}``: a CSV or Parquet file beside the scenario.
  When the file has a time column (``time``, ``timestamp``, ``datetime``,
  ``utc_timestamp`` or ``snapshot``) its stamps must be exactly the horizon's
  hours; a missing hour is reported as a gap.  Without one, the rows are taken
  in order and there must be exactly ``horizon.hours`` of them;
* ``{generator = "profile", ...}`` and ``{generator = "growth", ...}``.

Every resolved value is checked to be finite and within the field's bounds;
errors name the file, the field path, the hour and the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.errors import ScenarioError
from gridhash.scenario.models import FileSeries, GrowthSeries, ProfileSeries

if TYPE_CHECKING:
    import pandas as pd

HOURS_PER_YEAR = 8760.0
TIME_COLUMNS = ("time", "timestamp", "datetime", "utc_timestamp", "snapshot")
#: Parquet schema-metadata key under which fetched series keep their provenance (JSON:
#: source, URL without credentials, fetched-at, range, library versions, assumptions).
PROVENANCE_KEY = b"gridhash.provenance"


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance stored in a Parquet series file, or None (CSV, or none recorded).

    Only the file's footer is read.  A file that cannot be read as Parquet gives None:
    the series reader reports it, with the field that names it.
    """
    import json

    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # pyarrow raises several types for a malformed footer
        return None
    raw = meta.get(PROVENANCE_KEY)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def series_files(scenario: Any, base_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every ``{file = …}`` series of a scenario: field path, file and its provenance.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (any pydantic model holding :class:`FileSeries`).
    base_dir : pathlib.Path, optional
        Folder relative file paths are resolved against.

    Returns
    -------
    list of dict
        ``{"field", "file", "column", "provenance"}`` in the scenario's order;
        ``provenance`` is None for a file without one (hand-made CSV or Parquet).
    """
    from pydantic import BaseModel

    found: list[dict[str, Any]] = []

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, FileSeries):
            file = Path(obj.file)
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            found.append({"field": path, "file": str(file), "column": obj.column,
                          "provenance": read_provenance(file)})
        elif isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                walk(getattr(obj, name), f"{path}.{name}" if path else name)
        elif isinstance(obj, list | tuple):
            for i, item in enumerate(obj):
                walk(item, f"{path}[{i}]")

    walk(scenario, "")
    return found


def hourly_index(start: Any, hours: int) -> pd.DatetimeIndex:
    """The horizon's hours as a UTC :class:`pandas.DatetimeIndex`."""
    import pandas as pd

    return pd.date_range(pd.Timestamp(start).tz_convert("UTC"), periods=hours, freq="h")


def _where(source: str | None, field: str) -> dict[str, str | None]:
    return {"source": source, "field": field}


def hour_stamp(index: pd.DatetimeIndex | None, t: int) -> str:
    """``'2027-01-02T18:00Z'``: the start of hour ``t`` of an hourly index (``t`` may be
    its length, the end of the horizon); ``'hour t'`` without an index."""
    if index is None:
        return f"hour {t}"
    import pandas as pd

    return (index[0] + pd.Timedelta(hours=t)).strftime("%Y-%m-%dT%H:%MZ")


def _check_values(
    values: np.ndarray,
    index: pd.DatetimeIndex,
    *,
    field: str,
    source: str | None,
    bounds: dict[str, float],
    origin: str,
) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ScenarioError(
            f"{origin} has a missing or non-finite value at hour {i} ({hour_stamp(index, i)})",
            value=float(values[i]),
            expected="a finite number every hour",
            **_where(source, field),
        )
    for key, op, word in (
        ("ge", np.less, "≥"),
        ("gt", np.less_equal, ">"),
        ("le", np.greater, "≤"),
    ):
        if key in bounds and bounds[key] is not None:
            viol = op(values, bounds[key])
            if viol.any():
                i = int(np.argmax(viol))
                raise ScenarioError(
                    f"{origin} is out of range at hour {i} ({hour_stamp(index, i)})",
                    value=float(values[i]),
                    expected=f"a value {word} {bounds[key]:g}",
                    **_where(source, field),
                )
    return values


def resolve_series(
    spec: Any,
    index: pd.DatetimeIndex,
    *,
    field: str,
    source: str | None = None,
    base_dir: Path | None = None,
    bounds: dict[str, float] | None = None,
) -> np.ndarray:
    """Resolve one static-or-series field to a float64 array of ``len(index)`` values.

    Parameters
    ----------
    spec : float | list[float] | FileSeries | ProfileSeries | GrowthSeries
        The field's value as validated by the scenario model.
    index : pandas.DatetimeIndex
        The horizon's hours (UTC).
    field : str
        Dotted path of the field, used in error messages (``grid.offtakes[0].price``).
    source : str, optional
        The scenario file, used in error messages.
    base_dir : pathlib.Path, optional
        Folder that relative file paths are resolved against.
    bounds : dict, optional
        ``ge``/``gt``/``le`` limits every hourly value must respect.

    Returns
    -------
    numpy.ndarray
        float64 values, one per hour.
    """
    n = len(index)
    bounds = bounds or {}
    origin = "the value"
    if isinstance(spec, int | float):
        values = np.full(n, float(spec))
    elif isinstance(spec, list | tuple):
        if len(spec) != n:
            raise ScenarioError(
                f"the inline series has {len(spec)} values",
                expected=f"{n} (one per hour of the horizon)",
                **_where(source, field),
            )
        values = np.asarray(spec, dtype=float)
        origin = "the inline series"
    elif isinstance(spec, FileSeries):
        values, origin, source = _read_file(spec, index, field=field, base_dir=base_dir)
    elif isinstance(spec, ProfileSeries):
        values = profile(spec, index)
        origin = "the generated profile"
    elif isinstance(spec, GrowthSeries):
        with np.errstate(over="ignore", invalid="ignore"):  # refused below if not finite
            values = spec.start * (1.0 + spec.annual_rate) ** (np.arange(n) / HOURS_PER_YEAR)
        origin = "the growth series"
    else:  # pragma: no cover - the model's discriminator admits nothing else
        raise ScenarioError("unsupported series form", value=spec, **_where(source, field))
    return _check_values(values, index, field=field, source=source, bounds=bounds, origin=origin)


def profile(spec: ProfileSeries, index: pd.DatetimeIndex) -> np.ndarray:
    """Evaluate the ``profile`` generator on the horizon's hours (see ProfileSeries)."""
    local = index + np.timedelta64(round(spec.utc_offset_hours * 60), "m")
    day = np.asarray(local.day_of_year, dtype=float) - 1.0 + np.asarray(local.hour) / 24.0
    hour = np.asarray(local.hour, dtype=float)
    values = spec.mean * (
        1.0 + spec.seasonal_amplitude * np.cos(2 * np.pi * (day - spec.peak_day) / 365.25)
    )
    values = values * (
        1.0 + spec.daily_amplitude * np.cos(2 * np.pi * (hour - spec.peak_hour) / 24)
    )
    weekend = np.asarray(local.day_of_week) >= 5
    values = np.where(weekend, values * spec.weekend_factor, values)
    if spec.noise:
        rng = np.random.default_rng(spec.seed)
        values = values * (1.0 + spec.noise * rng.standard_normal(len(index)))
    if spec.min is not None or spec.max is not None:
        values = np.clip(values, spec.min, spec.max)
    return values


def _read_file(
    spec: FileSeries,
    index: pd.DatetimeIndex,
    *,
    field: str,
    base_dir: Path | None,
) -> tuple[np.ndarray, str, str]:
    import pandas as pd

    path = Path(spec.file)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    shown = str(path)
    if not path.is_file():
        raise ScenarioError(
            "series file not found",
            value=spec.file,
            expected="an existing .csv or .parquet file, relative to the scenario file",
            source=shown,
            field=field,
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise ScenarioError(
                "unsupported series file type",
                value=path.suffix,
                expected=".csv or .parquet",
                source=shown,
                field=field,
            )
    except ScenarioError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for malformed files
        raise ScenarioError(
            f"cannot read the series file: {_plain(exc)}",
            expected="a well-formed CSV or Parquet table with a header row",
            source=shown,
            field=field,
        ) from None

    time_cols = [c for c in frame.columns if str(c).lower() in TIME_COLUMNS]
    value_cols = [c for c in frame.columns if c not in time_cols]
    if spec.column is not None:
        if spec.column not in frame.columns:
            raise ScenarioError(
                "column not found in the series file",
                value=spec.column,
                expected=f"one of {[str(c) for c in frame.columns]}",
                source=shown,
                field=f"{field}.column",
            )
        column = spec.column
    elif len(value_cols) == 1:
        column = value_cols[0]
    else:
        raise ScenarioError(
            "the series file has several value columns and no column was named",
            value=[str(c) for c in value_cols],
            expected=f"{field}.column = one of them",
            source=shown,
            field=field,
        )
    origin = f"column {column!r}"

    if time_cols:
        stamps = _parse_times(frame[time_cols[0]], shown, field)
        _match_index(stamps, index, shown, field)
        frame = frame.assign(_t=stamps).sort_values("_t")
    elif len(frame) != len(index):
        raise ScenarioError(
            f"the series file has {len(frame)} rows",
            expected=f"{len(index)} (one per hour of the horizon), or a time column",
            source=shown,
            field=field,
        )
    raw = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are refused next
        values = raw * spec.scale
    return values, origin, shown


def _parse_times(col: pd.Series, shown: str, field: str) -> pd.Series:
    import pandas as pd

    try:
        stamps = pd.to_datetime(col, utc=True)
    except (ValueError, TypeError, OverflowError):
        parsed = [pd.to_datetime(v, utc=True, errors="coerce") for v in col]
        row = next((i for i, t in enumerate(parsed) if pd.isna(t)), 0)
        raise ScenarioError(
            f"cannot parse the time column {col.name!r} at data row {row + 1}",
            value=str(col.iloc[row]) if len(col) else ...,
            expected="ISO 8601 timestamps such as 2027-01-01T00:00:00Z (UTC unless an "
            "offset is given)",
            source=shown,
            field=field,
        ) from None
    if stamps.isna().any():
        row = int(np.argmax(stamps.isna().to_numpy()))
        raise ScenarioError(
            f"the time column {col.name!r} is empty at data row {row + 1}",
            expected="a timestamp on every row",
            source=shown,
            field=field,
        )
    return stamps


def _plain(exc: BaseException) -> str:
    """The first line of a library's message, without its hints on how to call it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for hint in (". You might want to try", " You might want to try", ". Try "):
        text = text.split(hint)[0]
    return text.rstrip(" .:,")


def _match_index(stamps: pd.Series, index: pd.DatetimeIndex, shown: str, field: str) -> None:
    import pandas as pd

    got = pd.DatetimeIndex(stamps)
    off = got != got.floor("h")
    if off.any():
        raise ScenarioError(
            "time not on the hour in the time column",
            value=got[off][0].strftime("%Y-%m-%dT%H:%M:%SZ"),
            expected="hourly stamps on the hour, HH:00:00 (as for every time in a scenario)",
            source=shown,
            field=field,
        )
    dup = got.duplicated()
    if dup.any():
        raise ScenarioError(
            "the time column repeats an hour",
            value=got[dup][0].strftime("%Y-%m-%dT%H:%MZ"),
            expected="each hour once",
            source=shown,
            field=field,
        )
    missing = index.difference(got)
    if len(missing):
        raise ScenarioError(
            f"gap in the series: {len(missing)} hour(s) of the horizon missing, "
            f"the first {missing[0].strftime('%Y-%m-%dT%H:%MZ')}",
            expected="a row for every hour of the horizon",
            source=shown,
            field=field,
        )
    extra = got.difference(index)
    if len(extra):
        raise ScenarioError(
            f"the series has {len(extra)} row(s) outside the horizon's hours, "
            f"the first {extra[0].strftime('%Y-%m-%dT%H:%MZ')}",
            expected="hourly stamps on the hour, within the horizon",
            source=shown,
            field=field,
        )


def window_mask(
    windows: list[Any], index: pd.DatetimeIndex, *, field: str, source: str | None
) -> np.ndarray:
    """True for every hour covered by one of ``windows`` (start, hours).

    A window entirely outside the horizon is an error: it is almost always a typo
    in a date.
    """
    import pandas as pd

    mask = np.zeros(len(index), dtype=bool)
    if not windows:
        return mask
    t0 = index[0]
    for i, w in enumerate(windows):
        offset = (pd.Timestamp(w.start) - t0) / pd.Timedelta(hours=1)
        first = int(np.floor(offset))
        last = first + w.hours
        if last <= 0 or first >= len(index):
            raise ScenarioError(
                "window lies outside the horizon",
                value=f"{pd.Timestamp(w.start).isoformat()} for {w.hours} h",
                expected=(
                    f"a window overlapping {index[0].isoformat()} .. {index[-1].isoformat()}"
                ),
                source=source,
                field=f"{field}[{i}]",
            )
        mask[max(first, 0) : min(last, len(index))] = True
    return mask
