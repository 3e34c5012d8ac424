"""Write a run's outputs: summary.json, hourly.parquet (and .csv), report.html."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridhash.pipeline import Run


def _atomic_write(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: a reader never
    sees half a file, and an earlier complete file survives a failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


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
