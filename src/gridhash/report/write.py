"""Write a run's outputs: summary.json, hourly.parquet (and .csv), report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridhash.files import atomic_write as _atomic_write
from gridhash.files import atomic_write_text

if TYPE_CHECKING:
    from gridhash.pipeline import Run

__all__ = ["atomic_write_text", "write_outputs"]  # atomic_write_text: for older callers


def write_outputs(run: Run, folder: Path, *, csv: bool = False) -> dict[str, Any]:
    """Write summary.json, hourly.parquet (hourly.csv with ``csv``) and report.html.

    Returns the summary dict.
    """
    from gridhash.report.html import render_html
    from gridhash.report.summary import hourly_frame, summary

    folder.mkdir(parents=True, exist_ok=True)
    data = summary(run)
    hourly = hourly_frame(run)
    _atomic_write(
        folder / "summary.json",
        lambda p: p.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8"),
    )
    _atomic_write(folder / "hourly.parquet", lambda p: hourly.to_parquet(p))
    if csv:
        _atomic_write(
            folder / "hourly.csv", lambda p: hourly.to_csv(p, date_format="%Y-%m-%dT%H:%M:%SZ")
        )
    html = render_html(run, data, hourly)
    _atomic_write(folder / "report.html", lambda p: p.write_text(html, encoding="utf-8"))
    return data
