"""A fetched series on disk: one Parquet file, hourly UTC rows, provenance in its metadata.

Files are written atomically (temporary file, then rename), so an interrupted
fetch leaves the last complete file, which the next run continues.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gridhash.feeds.errors import FeedError
from gridhash.scenario.series import PROVENANCE_KEY, read_provenance

if TYPE_CHECKING:
    import pandas as pd

#: Query parameters that carry secrets and never reach a file or a message.
SECRET_PARAMS = ("securitytoken", "token", "apikey", "api_key", "key", "password")


def redact_url(url: str) -> str:
    """``url`` without user, password or secret query parameters (for files and messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    query = urlencode([(k, "***" if k.lower() in SECRET_PARAMS else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of gridhash and the named distributions (``"absent"`` if not)."""
    out = {}
    for name in ("gridhash", "pandas", "pyarrow", *names):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def now_utc() -> str:
    """The current time, ISO 8601 UTC to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(t: pd.Timestamp) -> str:
    """An hour as ``YYYY-MM-DDTHH:MMZ``."""
    return t.strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class HourRange:
    """Whole UTC hours ``[start, end)``."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def hours(self) -> int:
        """Number of hours. [h]"""
        return int((self.end - self.start) / _hour())

    def index(self) -> pd.DatetimeIndex:
        """The hours as a UTC index."""
        import pandas as pd

        return pd.date_range(self.start, self.end, freq="h", inclusive="left")


def _hour() -> Any:
    import pandas as pd

    return pd.Timedelta(hours=1)


def parse_time(text: str, option: str) -> pd.Timestamp:
    """An ISO 8601 date or time as a UTC timestamp (no offset: UTC)."""
    import pandas as pd

    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise FeedError("cannot parse the time", field=option, value=text,
                        expected="an ISO 8601 date or time, e.g. 2025-01-01 or "
                        "2025-01-01T00:00Z") from None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def hour_range(start: str, end: str) -> HourRange:
    """``--start``/``--end`` as whole UTC hours; both on the hour, start before end."""
    a, b = parse_time(start, "--start"), parse_time(end, "--end")
    for t, opt in ((a, "--start"), (b, "--end")):
        if t != t.floor("h"):
            raise FeedError("the time is not on the hour", field=opt, value=t.isoformat(),
                            expected="a whole UTC hour (minutes and seconds 0)")
    if b <= a:
        raise FeedError("the range is empty", field="--end", value=b.isoformat(),
                        expected=f"a time after --start ({a.isoformat()})")
    return HourRange(a, b)


def write_series(path: Path, frame: pd.DataFrame, provenance: dict[str, Any]) -> None:
    """Write ``frame`` (a ``time`` column of UTC hours first) with ``provenance``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_series(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A series file written by :func:`write_series`: its rows and its provenance."""
    import pandas as pd

    prov = read_provenance(path)
    if prov is None:
        raise FeedError("not a gridhash series file (no provenance in its Parquet metadata)",
                        source=str(path), expected="a file written by `gridhash fetch`")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise FeedError(f"cannot read the series file: {exc}", source=str(path),
                        expected="a readable Parquet file") from None
    return frame, prov


def check_resume(path: Path, prov: dict[str, Any], *, kind: str, source: str,
                 rng: HourRange) -> pd.Timestamp:
    """The first hour still to fetch into an existing ``path``, after checking it is the
    same kind of series from the same source and start (else a clear error)."""
    import pandas as pd

    for key, want in (("kind", kind), ("source", source), ("start", stamp(rng.start))):
        if prov.get(key) != want:
            raise FeedError(
                f"--out already holds a different series ({key} {prov.get(key)!r})",
                source=str(path), value=want,
                expected="the same kind, source and --start to continue it, or another --out")
    done = pd.Timestamp(prov.get("complete_until", prov["start"]))
    return max(done.tz_convert("UTC") if done.tzinfo else done.tz_localize("UTC"), rng.start)


def provenance(*, kind: str, source: str, url: str | None, rng: HourRange,
               complete_until: pd.Timestamp, columns: dict[str, str],
               libraries: dict[str, str], assumptions: list[str],
               first_fetched_at: str | None = None, **extra: Any) -> dict[str, Any]:
    """The provenance record every fetcher stores (see docs/data.md)."""
    now = now_utc()
    doc: dict[str, Any] = {
        "kind": kind,
        "source": source,
        "url": None if url is None else redact_url(url),
        "fetched_at": now,
        "first_fetched_at": first_fetched_at or now,
        "start": stamp(rng.start),
        "end": stamp(rng.end),
        "complete_until": stamp(complete_until),
        "columns": columns,
        "libraries": libraries,
        "assumptions": assumptions,
    }
    doc.update(extra)
    return doc
