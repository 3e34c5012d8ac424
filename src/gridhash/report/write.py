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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_outputs(run: Run, folder: Path, *, csv: bool = False) -> dict[str, Any]:
    """Write summary.json, hourly.parquet (hourly.csv with ``csv``) and report.html.

    Returns the summary dict, with ``warnings`` (:mod:`gridhash.report.advice`).
    """
    from gridhash.report.advice import warnings_for
    from gridhash.report.html import render_html
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
    html = render_html(run, data, hourly)
    _atomic_write(folder / "report.html", lambda p: p.write_text(html, encoding="utf-8"))
    return data
