"""Hourly power prices (``gridhash fetch prices``) and the FX rates that make them USD.

Sources:

* ``entsoe``: ENTSO-E's Transparency Platform through **entsoe-py** (day-ahead
  prices, document A44), the security token from an environment variable
  (``ENTSOE_API_KEY`` by default).  15- and 30-minute prices are averaged to the
  hour (the ``intervals`` column says how many); the document's currency is
  recorded and, unless USD, converted with an FX series.
* ``oree-file``: the Ukrainian market operator's (OREE, «Оператор ринку») day-ahead
  export that users download themselves (xlsx or CSV with Ukrainian headers; see
  :func:`read_oree` for the layouts read), in UAH/MWh, Kyiv time.
* ``gridstatus-file``: a table written by gridstatus (PJM, ERCOT, …) in its own
  environment (``docs/data.md``: gridstatus pins an older pandas, so it cannot
  share gridhash's environment), prices in USD/MWh.

FX: ``--fx FILE`` (a CSV/Parquet with a date or time column and a
``<CUR>_per_usd`` or ``rate`` column, units of the currency per USD) or ``--fx nbu``
(the National Bank of Ukraine's official UAH rate, one request a day,
``{BASE}/NBUStatService/v1/statdirectory/exchange?valcode=USD&date=YYYYMMDD&json``).
Each hour takes the rate of its Kyiv calendar day (the latest published at or
before it); the rate used is stored in the file, hour by hour.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gridhash.feeds.errors import FeedError
from gridhash.feeds.http import RetryPolicy, client, request
from gridhash.feeds.store import (
    HourRange,
    library_versions,
    provenance,
    redact_url,
    stamp,
    write_series,
)

if TYPE_CHECKING:
    import pandas as pd

KYIV = "Europe/Kyiv"
NBU_URL = "https://bank.gov.ua"
TOKEN_ENV = "ENTSOE_API_KEY"
SOURCES = ("entsoe", "oree-file", "gridstatus-file")


@dataclass(frozen=True)
class Fx:
    """Units of ``currency`` per USD for each hour, and where the rates came from."""

    currency: str
    per_usd: np.ndarray  # (T,) [CUR/USD]
    source: str  # "nbu" or the file

    def record(self) -> dict[str, Any]:
        """For the provenance."""
        return {"currency": self.currency, "source": self.source,
                "min_per_usd": float(self.per_usd.min()), "max_per_usd": float(self.per_usd.max()),
                "mean_per_usd": float(self.per_usd.mean())}


def _daily_to_hours(daily: pd.Series, idx: pd.DatetimeIndex, what: str) -> np.ndarray:
    """Each hour gets the rate of its Kyiv day (the latest dated at or before it)."""
    import pandas as pd

    days = pd.DatetimeIndex(idx.tz_convert(KYIV).normalize().tz_localize(None))
    d = daily.sort_index()
    d.index = pd.DatetimeIndex(d.index).normalize()
    pos = np.searchsorted(d.index.to_numpy(), days.to_numpy(), side="right") - 1
    if (pos < 0).any():
        first = idx[int(np.argmax(pos < 0))]
        raise FeedError(f"no FX rate on or before {first.tz_convert(KYIV):%Y-%m-%d} (Kyiv)",
                        source=what, expected="rates from the first day of the range")
    return d.to_numpy(dtype=float)[pos]


def fx_from_file(path: Path, currency: str, idx: pd.DatetimeIndex) -> Fx:
    """Rates from a CSV/Parquet table: a ``date``/``time`` column and ``<cur>_per_usd``
    (or ``rate``), units of ``currency`` per USD."""
    import pandas as pd

    try:
        t = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") \
            else pd.read_csv(path)
    except Exception as exc:  # pandas raises many types
        raise FeedError(f"cannot read the FX file: {exc}", source=str(path), field="--fx",
                        expected="a CSV or Parquet table") from None
    cols = {str(c).lower(): c for c in t.columns}
    tcol = next((cols[c] for c in ("date", "time", "timestamp") if c in cols), None)
    vcol = next((cols[c] for c in (f"{currency.lower()}_per_usd", "rate") if c in cols), None)
    if tcol is None or vcol is None:
        raise FeedError("the FX file lacks its columns", source=str(path), field="--fx",
                        value=list(map(str, t.columns)),
                        expected=f"a date (or time) column and {currency.lower()}_per_usd "
                        "(or rate): units of the currency per USD")
    when = pd.to_datetime(t[tcol], utc=True, errors="coerce")
    if when.isna().any():
        raise FeedError("unreadable dates in the FX file", source=str(path),
                        value=str(t[tcol][when.isna()].iloc[0]), expected="ISO dates")
    rate = pd.to_numeric(t[vcol], errors="coerce")
    if not (rate > 0).all():
        raise FeedError("the FX file has a rate that is not a positive number",
                        source=str(path), value=str(t[vcol][~(rate > 0)].iloc[0]),
                        expected=f"{currency} per USD > 0")
    daily = pd.Series(rate.to_numpy(), index=when.dt.tz_convert(KYIV).dt.tz_localize(None))
    return Fx(currency, _daily_to_hours(daily, idx, str(path)), str(path))


def fx_from_nbu(idx: pd.DatetimeIndex, *, base: str = NBU_URL,
                policy: RetryPolicy | None = None) -> Fx:
    """The NBU's official UAH per USD for each Kyiv day of ``idx`` (one request a day)."""
    import pandas as pd

    policy = policy or RetryPolicy()
    url = base.rstrip("/") + "/NBUStatService/v1/statdirectory/exchange"
    local = idx.tz_convert(KYIV)
    days = pd.date_range(local[0].date(), local[-1].date(), freq="D")
    rates = {}
    with client(policy) as c:
        for d in days:
            resp = request(c, "GET", url, policy, what="the NBU rate",
                           params={"valcode": "USD", "date": d.strftime("%Y%m%d"), "json": ""})
            try:
                row = resp.json()[0]
                rates[pd.Timestamp(d)] = float(row["rate"])
            except (ValueError, KeyError, IndexError, TypeError):
                raise FeedError(f"no NBU rate for {d:%Y-%m-%d}", source=redact_url(url),
                                value=resp.text[:80],
                                expected='[{"cc": "USD", "rate": ..., "exchangedate": ...}]') \
                    from None
    return Fx("UAH", _daily_to_hours(pd.Series(rates), idx, "nbu"), "nbu")


# -- ENTSO-E --------------------------------------------------------------------------

_CURRENCY = re.compile(r"<currency_Unit\.name>\s*([A-Z]{3})\s*</currency_Unit\.name>")


def hourly_mean(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Sub-hourly prices averaged to UTC hours: (mean, number of values)."""
    s = values.sort_index()
    s = s[~s.index.duplicated(keep="last")]
    g = s.resample("h")
    return g.mean(), g.count()


def fetch_entsoe(zone: str, rng: HourRange, out: Path, *, fx: str | None = None,
                 token_env: str = TOKEN_ENV, url: str | None = None,
                 policy: RetryPolicy | None = None) -> dict[str, Any]:
    """Day-ahead prices of ``zone`` through entsoe-py into ``out``; returns the provenance.

    ``fx``: a file path or ``"nbu"``, needed unless the prices are in USD.
    ``url``: another endpoint for entsoe-py (its ``ENTSOE_ENDPOINT_URL`` setting).
    """
    import pandas as pd

    token = os.environ.get(token_env)
    if not token:
        raise FeedError(f"no ENTSO-E security token in ${token_env}", field=token_env,
                        expected="the token from your Transparency Platform account "
                        "(My Account Settings → Web API Security Token) in that variable")
    try:
        import entsoe.entsoe as ee
        from entsoe import EntsoeRawClient
        from entsoe.exceptions import NoMatchingDataError
        from entsoe.parsers import parse_prices
    except ImportError:
        raise FeedError("entsoe-py is not installed", field="--source", value="entsoe",
                        expected='pip install "gridhash[entsoe]"') from None
    import requests

    endpoint = url or ee.URL
    saved, ee.URL = ee.URL, endpoint  # entsoe-py reads its module-level endpoint
    raw = EntsoeRawClient(api_key=token, timeout=(policy or RetryPolicy()).timeout_s)
    parts: list[pd.Series] = []
    currencies: set[str] = set()
    try:
        a = rng.start
        while a < rng.end:
            b = min(a + pd.Timedelta(days=31), rng.end)
            try:
                text = raw.query_day_ahead_prices(zone, start=a, end=b)
            except NoMatchingDataError:
                a = b
                continue
            except requests.HTTPError as exc:
                code = exc.response.status_code if exc.response is not None else "?"
                hint = ("a valid security token" if code in (401, 403)
                        else "a zone and range the platform has")
                raise FeedError(f"ENTSO-E answered HTTP {code}", source=redact_url(endpoint),
                                field="--zone", value=zone, expected=hint) from None
            except requests.RequestException as exc:
                raise FeedError(f"cannot reach ENTSO-E: {type(exc).__name__}",
                                source=redact_url(endpoint),
                                expected="a reachable endpoint") from None
            except ValueError as exc:  # unknown zone
                raise FeedError(str(exc), field="--zone", value=zone,
                                expected="an ENTSO-E area code such as UA, DE_LU, PL") \
                    from None
            currencies.update(_CURRENCY.findall(text))
            with warnings.catch_warnings():  # entsoe-py parses XML with bs4's HTML parser
                warnings.simplefilter("ignore")
                by_freq = parse_prices(text)
            for key in ("15min", "30min", "60min"):
                s = by_freq.get(key)
                if s is not None and len(s):
                    parts.append(s.rename(key))
            a = b
    finally:
        ee.URL = saved
    if not parts:
        raise FeedError("ENTSO-E has no day-ahead prices for the range",
                        source=redact_url(endpoint), field="--zone", value=zone,
                        expected="a zone and range with published prices")
    if len(currencies) != 1:
        raise FeedError("the documents' currency is missing or mixed",
                        value=sorted(currencies), expected="one currency_Unit.name")
    currency = currencies.pop()
    # The finest resolution wins where two overlap (SDAC's 15-min MTU from 2025-10-01).
    finest = pd.concat(parts[::-1]).sort_index()
    finest = finest[~finest.index.duplicated(keep="first")]
    mean, count = hourly_mean(finest.tz_convert("UTC"))
    return _write_prices(
        out, rng, mean, count, currency, fx, kind_source="entsoe", url=endpoint,
        libraries=library_versions("entsoe-py", "requests"),
        notes=[f"ENTSO-E day-ahead prices (A44) for zone {zone}; sub-hourly values "
               "averaged to the hour.",
               "Never republish ENTSO-E data: its terms forbid it (docs/data.md)."],
        extra={"zone": zone})


def _write_prices(out: Path, rng: HourRange, mean: pd.Series, count: pd.Series,
                  currency: str, fx: str | None, *, kind_source: str, url: str | None,
                  libraries: dict[str, str], notes: list[str],
                  extra: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    idx = rng.index()
    price = mean.reindex(idx).to_numpy(dtype=float)
    n = count.reindex(idx).fillna(0).to_numpy(dtype=np.int32)
    gap = ~np.isfinite(price)
    if gap.any():
        i = int(np.argmax(gap))
        raise FeedError(f"no price for {int(gap.sum())} hour(s) of the range, the first "
                        f"{stamp(idx[i])}", source=redact_url(url) if url else None,
                        expected="a price every hour (narrow --start/--end to what the "
                        "source has)")
    cur = currency.upper()
    frame = pd.DataFrame({"time": idx, f"price_{cur.lower()}_per_mwh": price, "intervals": n})
    fx_rec = None
    if cur == "USD":
        usd = price
    else:
        if fx is None:
            raise FeedError(f"the prices are in {cur}: an FX series is needed", field="--fx",
                            expected=f"--fx FILE ({cur.lower()}_per_usd by date) or --fx nbu "
                            "(UAH only)")
        if fx == "nbu":
            if cur != "UAH":
                raise FeedError("the NBU publishes UAH rates", field="--fx", value=cur,
                                expected="--fx FILE for this currency")
            rates = fx_from_nbu(idx)
        else:
            rates = fx_from_file(Path(fx), cur, idx)
        usd = price / rates.per_usd
        frame[f"fx_{cur.lower()}_per_usd"] = rates.per_usd
        fx_rec = rates.record()
    frame["price_usd_per_mwh"] = usd
    columns = {"time": "UTC hour start",
               f"price_{cur.lower()}_per_mwh": f"day-ahead price [{cur}/MWh]",
               "intervals": "source values averaged into the hour [-]",
               "price_usd_per_mwh": "the same in USD [USD/MWh]"}
    if fx_rec:
        columns[f"fx_{cur.lower()}_per_usd"] = f"FX rate used [{cur}/USD]"
        notes = [*notes, f"{cur} converted at the rate of each hour's Kyiv day from "
                 f"{fx_rec['source']} (column fx_{cur.lower()}_per_usd)."]
    prov = provenance(kind="power-price", source=kind_source, url=url, rng=rng,
                      complete_until=rng.end, columns=columns, libraries=libraries,
                      assumptions=notes, currency=cur, fx=fx_rec, **extra)
    write_series(out, frame, prov)
    return prov


# -- OREE's day-ahead export -----------------------------------------------------------

_HOUR_RANGE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?\s*$")


def _find(cols: list[str], *words: str) -> str | None:
    for c in cols:
        low = c.lower()
        if any(w in low for w in words):
            return c
    return None


def _period_minutes(value: Any) -> tuple[int, int]:
    """An OREE period cell as (start minute of the day, length in minutes).

    ``1``…``25`` (hour number, 1 = 00:00-01:00), ``00-01`` or ``00:00-00:15``.
    """
    text = str(value).strip()
    if re.fullmatch(r"\d{1,2}(\.0)?", text):
        return (int(float(text)) - 1) * 60, 60
    m = _HOUR_RANGE.match(text)
    if not m:
        raise ValueError(text)
    h1, m1, h2, m2 = (int(x) if x else 0 for x in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    return start, (end - start) % 1440 or 1440


def read_oree(path: Path) -> pd.Series:
    """OREE's day-ahead results as UAH/MWh by UTC interval start.

    Layouts read (ASSUMPTION: from the public "Результати торгів РДН" pages; no
    official schema was found): a header row, then one row per period, with

    * a date column (header containing «Дата», ``DD.MM.YYYY`` or ISO),
    * a period column («Година» = hour number 1-24/23/25, or «Період»/«Час» =
      ``00-01`` or ``00:00-00:15``),
    * a price column (header containing «Ціна», UAH/MWh; decimal commas accepted);

    or one row per day with hour columns ``1``…``24`` (or ``00-01``…). Periods
    count from the Kyiv day's start in elapsed time, so a 23- or 25-hour day
    (DST) numbers its hours 1-23 or 1-25.
    """
    import pandas as pd

    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            t = pd.read_excel(path, dtype=str)
        else:
            head = path.read_text(encoding="utf-8-sig").partition("\n")[0]
            # Semicolons (Excel's CSV where the decimal mark is a comma), tabs, else commas.
            sep = ";" if ";" in head else "\t" if "\t" in head else ","
            t = pd.read_csv(path, dtype=str, sep=sep, encoding="utf-8-sig")
    except Exception as exc:  # pandas/openpyxl raise many types
        raise FeedError(f"cannot read the OREE export: {exc}", source=str(path),
                        expected="OREE's day-ahead export (.xlsx or .csv)") from None
    cols = [str(c).strip() for c in t.columns]
    t.columns = cols
    dcol = _find(cols, "дата", "date")
    if dcol is None:
        raise FeedError("no date column («Дата») in the OREE export", source=str(path),
                        value=cols, expected="a «Дата» column")
    pcol = _find(cols, "ціна", "price")
    hcol = _find(cols, "година", "період", "час", "hour", "period")
    if pcol is not None and hcol is not None:
        long = t[[dcol, hcol, pcol]].rename(columns={dcol: "d", hcol: "p", pcol: "v"})
    else:
        hour_cols = [c for c in cols if c != dcol and (re.fullmatch(r"\d{1,2}", c)
                                                         or _HOUR_RANGE.match(c))]
        if not hour_cols:
            raise FeedError("no period and price columns in the OREE export",
                            source=str(path), value=cols,
                            expected="«Година» and «Ціна, грн/МВт·год» columns, or one "
                            "column per hour (1…24)")
        long = t.melt(id_vars=[dcol], value_vars=hour_cols, var_name="p", value_name="v")
        long = long.rename(columns={dcol: "d"})
    long = long.dropna(subset=["v"])
    long = long[long["v"].astype(str).str.strip() != ""]
    out: dict[pd.Timestamp, float] = {}
    for row in long.itertuples(index=False):
        try:
            day = pd.to_datetime(str(row.d).strip(), dayfirst=True)
            start_min, _ = _period_minutes(row.p)
            value = float(str(row.v).replace("\u00a0", "").replace(" ", "").replace(",", "."))
        except (ValueError, TypeError):
            raise FeedError("unreadable row in the OREE export", source=str(path),
                            value=(row.d, row.p, row.v),
                            expected="a date, a period (1-25, 00-01 or 00:00-00:15) and a "
                            "price") from None
        midnight = pd.Timestamp(day.date()).tz_localize(KYIV).tz_convert("UTC")
        out[midnight + pd.Timedelta(minutes=start_min)] = value
    if not out:
        raise FeedError("the OREE export has no prices", source=str(path),
                        expected="at least one row with a price")
    return pd.Series(out, dtype=float).sort_index()


def import_oree(path: Path, out: Path, *, fx: str | None, start: pd.Timestamp | None = None,
                end: pd.Timestamp | None = None) -> dict[str, Any]:
    """OREE's export → an hourly UAH and USD series in ``out``; returns the provenance."""
    s = read_oree(path)
    mean, count = hourly_mean(s)
    rng = HourRange(start or mean.index[0], end or mean.index[-1] + _hour())
    return _write_prices(
        out, rng, mean, count, "UAH", fx, kind_source="oree-file", url=None,
        libraries=library_versions("openpyxl"),
        notes=["OREE (Market Operator, Ukraine) day-ahead export read from a file the user "
               "downloaded; layout as described in docs/data.md (assumption: no official "
               "schema found).",
               "Periods count from the Kyiv day's start; sub-hourly prices averaged to the "
               "hour."],
        extra={"file": path.name})


def import_gridstatus(path: Path, out: Path, *, location: str | None = None,
                      start: pd.Timestamp | None = None,
                      end: pd.Timestamp | None = None) -> dict[str, Any]:
    """A gridstatus table (``Interval Start`` and ``LMP``/``SPP``/``Price``, USD/MWh,
    optionally ``Location``) → an hourly USD series in ``out``."""
    import pandas as pd

    try:
        t = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") \
            else pd.read_csv(path)
    except Exception as exc:  # pandas raises many types
        raise FeedError(f"cannot read the gridstatus table: {exc}", source=str(path),
                        expected="a CSV or Parquet table written by gridstatus") from None
    if "Interval Start" not in t.columns:
        raise FeedError("no «Interval Start» column", source=str(path),
                        value=list(map(str, t.columns)),
                        expected="a gridstatus table (docs/data.md)")
    vcol = next((c for c in ("LMP", "SPP", "Price") if c in t.columns), None)
    if vcol is None:
        raise FeedError("no price column", source=str(path), value=list(map(str, t.columns)),
                        expected="LMP, SPP or Price (USD/MWh)")
    if "Location" in t.columns:
        names = sorted(set(map(str, t["Location"])))
        if location is None and len(names) > 1:
            raise FeedError("the table holds several locations", source=str(path),
                            field="--zone", value=names[:5], expected="--zone LOCATION")
        if location is not None:
            if location not in names:
                raise FeedError("no such location in the table", source=str(path),
                                field="--zone", value=location, expected=f"one of {names[:8]}")
            t = t[t["Location"].astype(str) == location]
    when = pd.to_datetime(t["Interval Start"], utc=True)
    s = pd.Series(pd.to_numeric(t[vcol], errors="coerce").to_numpy(), index=when)
    mean, count = hourly_mean(s)
    rng = HourRange(start or mean.index[0], end or mean.index[-1] + _hour())
    return _write_prices(
        out, rng, mean, count, "USD", None, kind_source="gridstatus-file", url=None,
        libraries=library_versions(),
        notes=[f"gridstatus table {path.name} ({vcol}), written in a separate environment; "
               "sub-hourly prices averaged to the hour."],
        extra={"file": path.name, "location": location})


def _hour() -> Any:
    import pandas as pd

    return pd.Timedelta(hours=1)
