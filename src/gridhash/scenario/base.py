"""Building blocks of the scenario schema: the base model, ``field``, series and windows.

Like PyPSA's component attribute tables, every field carries its unit, default
and description here and nowhere else: ``docs/scenario.md``, ``gridhash show``
and the error messages are derived from these declarations.

A field marked *static or series* takes either a number (the same every hour)
or one of the series forms of :mod:`gridhash.scenario.series`: an inline list
of hourly values, a column of a CSV/Parquet file beside the scenario, or a
named built-in generator (``profile`` for seasonal and daily shapes with seeded
noise, ``growth`` for a compounding trend).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

# --------------------------------------------------------------------------- #
# Building blocks
# --------------------------------------------------------------------------- #

#: No number in a scenario may reach this magnitude: HiGHS treats |x| ≥ 1e20 as
#: infinite, and products of such numbers overflow float64 in derived values.
LARGEST = 1e20


def _not_huge(value: float) -> float:
    if abs(value) >= LARGEST:
        raise ValueError(f"too large in magnitude; expected a number with |x| < {LARGEST:g}")
    return value


#: A finite float, not as large as HiGHS's infinity.  Integers are accepted,
#: strings and booleans are not (the model is strict: TOML is typed).
FiniteFloat = Annotated[float, Field(allow_inf_nan=False), AfterValidator(_not_huge)]

#: The plausible magnitude of a value in each unit; a field in that unit without
#: its own upper (lower) bound gets ≤ (≥ minus) this one, so that a typo such as
#: ``capacity_mw = 1e308`` is refused instead of overflowing a derived figure.
#: Assumptions: no plant or line reaches 1 TW (the largest plant, Three Gorges,
#: is 22.5 GW); no energy price or penalty reaches 1 M USD/MWh; a bitcoin costs
#: less than 1e12 USD; no amount of bitcoin exceeds the 21 million ever issued.
UNIT_MAGNITUDE: dict[str, float] = {
    "MW": 1e6,
    "MW/h": 1e6,
    "kV": 1e4,
    "USD/MWh": 1e6,
    "USD": 1e12,
    "USD/yr": 1e12,
    "BTC": 21e6,
    "1/h": 1e4,
    "h": 1e6,
    "day": 1e5,
    "m": 1e4,
}


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors (typos are caught).

    Strict: TOML is typed, so ``hours = "8760"`` or ``capacity_mw = true`` is an
    error rather than a silent conversion (an integer is still a valid float).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


def field(
    description: str,
    *,
    unit: str = "",
    series: bool = False,
    **kwargs: Any,
) -> Any:
    """Declare a scenario field once: description, unit, whether it may be a series.

    ``ge``/``gt``/``le`` bounds on a series field are recorded and enforced on every
    hourly value when the series is resolved.
    """
    extra: dict[str, Any] = {"unit": unit, "series": series}
    bound = UNIT_MAGNITUDE.get(unit)
    if bound is not None:
        if "le" not in kwargs and "lt" not in kwargs:
            kwargs["le"] = bound
        if "ge" not in kwargs and "gt" not in kwargs:
            kwargs["ge"] = -bound
    if series:
        for key in ("ge", "gt", "le"):
            if key in kwargs:
                extra[key] = kwargs.pop(key)
    return Field(description=description, json_schema_extra=extra, **kwargs)


class FileSeries(Model):
    """An hourly series read from a CSV or Parquet file beside the scenario."""

    file: str = field("Path of a .csv or .parquet file, relative to the scenario file.")
    column: str | None = field(
        "Column holding the values; may be omitted when the file has one value column.",
        default=None,
    )
    scale: FiniteFloat = field("Factor applied to every value read.", default=1.0)


class ProfileSeries(Model):
    """A named built-in generator: seasonal and daily shapes with seeded noise.

    value(t) = mean × (1 + seasonal_amplitude·cos(2π(day − peak_day)/365.25))
                    × (1 + daily_amplitude·cos(2π(hour − peak_hour)/24))
                    × (weekend_factor on Saturdays and Sundays)
                    × (1 + noise·ε_t),  ε_t ~ N(0, 1) from ``seed``,
    clipped to [min, max]. Hours are local: UTC + ``utc_offset_hours``.
    """

    generator: Literal["profile"] = field("Name of the generator.")
    mean: FiniteFloat = field("Mean level, in the field's own unit.")
    seasonal_amplitude: FiniteFloat = field(
        "Relative amplitude of the yearly cycle.", unit="fraction", default=0.0, ge=-1, le=1
    )
    peak_day: FiniteFloat = field(
        "Day of the year when the yearly cycle peaks.", unit="day", default=15.0, ge=0, le=366
    )
    daily_amplitude: FiniteFloat = field(
        "Relative amplitude of the daily cycle.", unit="fraction", default=0.0, ge=-1, le=1
    )
    peak_hour: FiniteFloat = field(
        "Local hour when the daily cycle peaks.", unit="h", default=19.0, ge=0, le=24
    )
    weekend_factor: FiniteFloat = field(
        "Multiplier on Saturdays and Sundays.", unit="fraction", default=1.0, ge=0
    )
    noise: FiniteFloat = field(
        "Standard deviation of multiplicative hourly noise.", unit="fraction", default=0.0, ge=0
    )
    seed: int = field(
        "Seed of the noise; the same seed gives the same series.", default=0, ge=0, lt=2**63
    )
    utc_offset_hours: FiniteFloat = field(
        "Offset of local time from UTC, for the daily cycle and weekends.",
        unit="h",
        default=0.0,
        ge=-14,
        le=14,
    )
    min: FiniteFloat | None = field("Lower clip of the generated values.", default=None)
    max: FiniteFloat | None = field("Upper clip of the generated values.", default=None)


class GrowthSeries(Model):
    """A named built-in generator: a value compounding at a yearly rate.

    value(t) = start × (1 + annual_rate)^(t / 8760 h).
    """

    generator: Literal["growth"] = field("Name of the generator.")
    start: FiniteFloat = field("Value at the first hour of the horizon.")
    annual_rate: FiniteFloat = field("Yearly growth rate (0.2 = +20 % a year).", unit="1/yr", gt=-1)


def _series_tag(value: Any) -> str:
    if isinstance(value, dict):
        if "file" in value:
            return "file"
        return str(value.get("generator", "generator"))
    if isinstance(value, FileSeries):
        return "file"
    if isinstance(value, ProfileSeries | GrowthSeries):
        return value.generator
    if isinstance(value, list | tuple):
        return "inline"
    return "constant"


#: A value that is either the same every hour or an hourly series.
SeriesSpec = Annotated[
    Annotated[FiniteFloat, Tag("constant")]
    | Annotated[list[FiniteFloat], Tag("inline")]
    | Annotated[FileSeries, Tag("file")]
    | Annotated[ProfileSeries, Tag("profile")]
    | Annotated[GrowthSeries, Tag("growth")],
    Discriminator(
        _series_tag,
        custom_error_type="series",
        custom_error_message=(
            "expected a number, a list of hourly numbers, {file = ...} "
            "or {generator = 'profile' | 'growth', ...}"
        ),
    ),
]


def _utc(value: Any) -> Any:
    """Accept dates and naive datetimes as UTC; convert aware ones to UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


#: Times a scenario may name: from Bitcoin's genesis block to well inside the
#: range of the hourly index (pandas' nanosecond timestamps end in April 2262).
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _utc_hour(value: Any) -> Any:
    """A time in UTC, on the hour, between :data:`EARLIEST` and :data:`LATEST`."""
    value = _utc(value)
    if isinstance(value, datetime):
        if not EARLIEST <= value < LATEST:
            raise ValueError(
                f"time out of range; expected a time from {EARLIEST:%Y-%m-%d} "
                f"to before {LATEST:%Y-%m-%d}"
            )
        if value.minute or value.second or value.microsecond:
            raise ValueError(
                "time not on the hour; expected a time on the hour, HH:00:00 (scenarios "
                "are hourly: horizons, windows and events all start on the hour)"
            )
    return value


#: A time in UTC, on the hour: dates mean 00:00 UTC, naive times are UTC, aware
#: ones are converted; ISO 8601 text is accepted as well as TOML date-times.
UtcTime = Annotated[
    datetime, Field(strict=False), BeforeValidator(_utc), AfterValidator(_utc_hour)
]


class Window(Model):
    """A period of hours, e.g. an outage: from ``start`` for ``hours`` hours."""

    start: UtcTime = field("First hour of the window (UTC; a date means 00:00 UTC).")
    hours: int = field("Length of the window.", unit="h", gt=0)
    reason: str = field("Free text: why (shown in reports).", default="")


def _unique(items: list[Any], what: str) -> list[Any]:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"duplicate {what} name {item.name!r}; names must be unique")
        seen.add(item.name)
    return items
