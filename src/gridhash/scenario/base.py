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

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Model(BaseModel):
    """Base of every scenario model: unknown keys are errors (typos are caught)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


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
    seed: int = field("Seed of the noise; the same seed gives the same series.", default=0)
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


#: A time in UTC: dates mean 00:00 UTC, naive times are UTC, aware ones are converted.
UtcTime = Annotated[datetime, BeforeValidator(_utc), AfterValidator(_utc)]


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
