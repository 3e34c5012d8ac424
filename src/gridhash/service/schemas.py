"""Request bodies and bounded parameter types of the API (validated by pydantic).

Every text field refuses NUL and lone surrogates (neither can be stored or
encoded), every number is bounded, every time is read as UTC and must fall in
years 1970-2200: malformed input is a 422 naming the field, never a 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gridhash.service.meters import MAX_BATCH

MAX_INT = 2**31 - 1


def _text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _when(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1970 <= value.year <= 2200:
        raise ValueError("time must lie in the years 1970-2200")
    return value.astimezone(UTC)


def _day(value: date) -> date:
    if not 1970 <= value.year <= 2200:
        raise ValueError("date must lie in the years 1970-2200")
    return value


Text = Annotated[str, Field(max_length=2000), AfterValidator(_text)]
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_text)]
When = Annotated[datetime, AfterValidator(_when)]
Day = Annotated[date, AfterValidator(_day)]
Mode = Literal["power_operation", "hot_standby", "hot_shutdown", "cold_shutdown", "refuelling"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanIn(Body):
    day: Day = Field(description="The day planned (UTC), today or later in plant time.")


class VoteIn(Body):
    reason: Text = Field("", description="Why (optional).")


class VetoIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_text)] = Field(
        description="The safety grounds of the veto."
    )


class HoldIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_text)] = Field(
        description="Why mining must stop."
    )


class LiftIn(Body):
    reason: Text = Field("", description="Why the hold can be lifted.")


class PlantStateIn(Body):
    offsite_lines: int = Field(ge=0, le=100, description="Off-site circuits in service.")
    on_diesel: bool = Field(False, description="House load supplied by the diesel generators.")
    units: dict[Name, Mode] = Field(default_factory=dict, max_length=100,
                                    description="Unit → operating mode.")
    note: Text = ""


class ReadingModel(Body):
    meter: Name = Field(description="Meter id (GET /api/meters lists them).")
    interval_start: When = Field(description="Start of the hourly interval (UTC, on the hour).")
    value: float = Field(ge=0, le=1e7, allow_inf_nan=False, description="Energy in the "
                         "interval [MWh].")


class ReadingsIn(Body):
    readings: list[ReadingModel] = Field(min_length=1, max_length=MAX_BATCH)


class StatementIn(Body):
    period: int = Field(ge=0, le=MAX_INT, description="Settlement period (0 = the first).")


class SignatureIn(Body):
    signature: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{128}$")] | None = Field(
        None, description="Ed25519 signature (hex) over the period's signing payload; omit in "
        "demo mode to have the service sign with the party's demo key.")


class KeyIn(Body):
    public_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] = Field(
        description="Raw 32-byte Ed25519 public key, hex.")
