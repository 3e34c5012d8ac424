"""Request bodies and bounded parameter types of the API (validated by pydantic).

Every text field refuses NUL and lone surrogates (neither can be stored or
encoded), every number is bounded, every time carries its UTC offset (``Z`` or
``+HH:MM``; a time without one is refused) and is converted to UTC, and dates
and times must fall in years 1970-2200: malformed input is a 422 naming the
field and the value, never a 500.

What the service refuses is what its OpenAPI document says it refuses: each
date and time is text matching the pattern its schema carries (the same
regular expression the validator applies, so a value the schema allows is
accepted and one it does not is refused), and :func:`constrain_openapi` adds
what depends on the service's scenario (meter ids, unit names, the horizon's
days and periods, whether a statement signature may be left to the service).
What depends on the service's state is listed in docs/service.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

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


_YEAR = "(19[7-9][0-9]|2[01][0-9]{2}|2200)"
_DATE = _YEAR + "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_HH = "([01][0-9]|2[0-3])"
#: A day: ``YYYY-MM-DD``, years 1970-2200 (and a real calendar day: ``format: date``).
DAY_PATTERN = f"^{_DATE}$"
#: A time: RFC 3339 ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)``, years 1970-2200 (as written).
TIME_PATTERN = f"^{_DATE}T{_HH}:[0-5][0-9]:[0-5][0-9](\\.[0-9]{{1,6}})?(Z|[+-]{_HH}:[0-5][0-9])$"
#: The start of an hour: a time whose minutes, seconds and offset minutes are zero.
HOUR_PATTERN = f"^{_DATE}T{_HH}:00:00(\\.0{{1,6}})?(Z|[+-]{_HH}:00)$"


def _written_as(pattern: str, what: str) -> BeforeValidator:
    """Refuse input text that does not match ``pattern`` (what the schema says), before
    pydantic's own, more lenient, parsing (which also reads numbers as Unix times)."""
    regex = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, date):  # from Python callers: already a value
            return value
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise ValueError(f"{str(value)[:80]!r} is not {what}")
        return value

    return BeforeValidator(check)


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
When = Annotated[
    datetime,
    _written_as(TIME_PATTERN, "an RFC 3339 time YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM) in "
                "the years 1970-2200"),
    AfterValidator(_when),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIME_PATTERN}),
]
HourStart = Annotated[
    datetime,
    _written_as(HOUR_PATTERN, "the start of an hour YYYY-MM-DDTHH:00:00(Z|+HH:00) in "
                "the years 1970-2200"),
    AfterValidator(_when),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": HOUR_PATTERN}),
]
Day = Annotated[
    date,
    _written_as(DAY_PATTERN, "a day YYYY-MM-DD in the years 1970-2200"),
    AfterValidator(_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
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
    interval_start: HourStart = Field(description="Start of the hourly interval (on the hour "
                                      "in UTC).")
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


def constrain_openapi(
    doc: dict[str, Any],
    *,
    meters: Iterable[str],
    units: Iterable[str],
    days: Iterable[date],
    periods: int,
    signature_required: bool,
) -> dict[str, Any]:
    """Add to the OpenAPI document ``doc`` (in place) what the service's scenario fixes.

    The models above are the same for every scenario; what a scenario decides is
    written into the document when the service builds it, so that a request the
    document allows is one the service accepts, state aside:

    - a reading's ``meter`` is one of the scenario's meter ids;
    - the units of a plant-state report are the scenario's units;
    - a plan is for a whole day of the horizon (``days``);
    - a statement is for one of the horizon's ``periods``;
    - without demo keys, a signature body with its ``signature`` is required.

    Returns
    -------
    dict
        ``doc``.
    """
    schemas = doc["components"]["schemas"]
    schemas["ReadingModel"]["properties"]["meter"]["enum"] = sorted(meters)
    schemas["PlantStateIn"]["properties"]["units"]["propertyNames"]["enum"] = sorted(units)
    schemas["PlanIn"]["properties"]["day"]["enum"] = [d.isoformat() for d in days]
    schemas["StatementIn"]["properties"]["period"]["maximum"] = max(0, periods - 1)
    if signature_required:
        ref = "#/components/schemas/SignatureIn"
        signature = schemas["SignatureIn"]
        prop = signature["properties"]["signature"]
        prop.update(next(s for s in prop.pop("anyOf") if s.get("type") == "string"))
        prop["description"] = "Ed25519 signature (hex) over the period's signing payload."
        signature["required"] = ["signature"]
        for operation in (op for item in doc["paths"].values() for op in item.values()):
            body = operation.get("requestBody")
            media = body["content"].get("application/json", {}) if body else {}
            if {"$ref": ref} in media.get("schema", {}).get("anyOf", ()):
                media["schema"] = {"$ref": ref}
                body["required"] = True
    return doc
