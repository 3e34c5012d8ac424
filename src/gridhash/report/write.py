"""Write a run's outputs: summary.json, hourly.parquet (and .csv), report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridhash.files import atomic_write as _atomic_write
from gridhash.files import atomic_write_text

if TYPE_CHECKING:
    from gridhash.pipeline import Run

# atomic_write_text: re-exported for older callers.
__all__ = ["atomic_write_text", "json_text", "write_outputs"]


def json_text(data: Any, *, what: str, indent: int | None = 2) -> str:
    """``data`` as strict JSON text (with a final newline): no NaN or Infinity.

    Python's ``json`` writes ``NaN`` and ``Infinity``, which are not JSON and which
    strict parsers (and other languages) refuse; a figure that is not finite is
    an error here, naming where it is.

    Raises
    ------
    OutputError
        Some number in ``data`` is NaN or infinite.
    """
    try:
        return json.dumps(data, indent=indent, allow_nan=False) + "\n"
    except ValueError:
        from gridhash.errors import OutputError

        where = _non_finite_at(data) or "(unknown)"
        raise OutputError(
            f"cannot write {what}: the figure at {where} is not a finite number; a "
            "scenario value is probably out of any sensible range"
        ) from None


def _non_finite_at(data: Any, path: str = "") -> str | None:
    """The path of the first NaN or infinite float in nested dicts and lists."""
    import math

    if isinstance(data, float):
        return None if math.isfinite(data) else path or "(top level)"
    items = data.items() if isinstance(data, dict) else (
        enumerate(data) if isinstance(data, list | tuple) else ())
    for key, value in items:
        found = _non_finite_at(value, f"{path}[{key}]" if isinstance(key, int) else
                               f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def write_outputs(run: Run, folder: Path, *, csv: bool = False) -> dict[str, Any]:
    """Write summary.json, hourly.parquet (hourly.csv with ``csv``) and report.html.

    Returns the summary dict, with ``warnings`` (:mod:`gridhash.report.advice`).
    """
    from gridhash.report.advice import warnings_for
    from gridhash.report.html import write_html
    from gridhash.report.summary import hourly_frame, summary

    folder.mkdir(parents=True, exist_ok=True)
    data = summary(run)
    data["warnings"] = warnings_for(run)
    hourly = hourly_frame(run)
    text = json_text(data, what="summary.json")  # before anything is written
    _atomic_write(folder / "summary.json", lambda p: p.write_text(text, encoding="utf-8"))
    _atomic_write(folder / "hourly.parquet", lambda p: hourly.to_parquet(p))
    if csv:
        _atomic_write(
            folder / "hourly.csv", lambda p: hourly.to_csv(p, date_format="%Y-%m-%dT%H:%M:%SZ")
        )
    write_html(folder / "report.html", run, data, hourly)
    return data
