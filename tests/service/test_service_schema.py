"""The OpenAPI document states what the service refuses: the patterns of dates and times
are the ones the validators apply, and the scenario's meters, units, days and periods are
written into the document (so that schemathesis's ``positive_data_acceptance`` holds)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from service_helpers import make_harness

from gridhash.service.schemas import (
    DAY_PATTERN,
    HOUR_PATTERN,
    TIME_PATTERN,
    Day,
    HourStart,
    When,
)

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

WHEN, HOUR, DAY = TypeAdapter(When), TypeAdapter(HourStart), TypeAdapter(Day)


def _real(text: str) -> datetime | None:
    """The instant ``text`` names, or None when it is no calendar day (Feb 30)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.from_regex(TIME_PATTERN, fullmatch=True))
def test_every_time_the_schema_allows_is_accepted(text: str) -> None:
    named = _real(text)
    if named is None:
        with pytest.raises(ValidationError):  # format: date-time refuses it too
            WHEN.validate_python(text)
        return
    assert WHEN.validate_python(text) == named.astimezone(UTC)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(HOUR_PATTERN, fullmatch=True))
def test_every_hour_start_the_schema_allows_is_accepted(text: str) -> None:
    named = _real(text)
    if named is not None:
        got = HOUR.validate_python(text)
        assert got == named and got.tzinfo is UTC and (got.minute, got.second) == (0, 0)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(DAY_PATTERN, fullmatch=True))
def test_every_day_the_schema_allows_is_accepted(text: str) -> None:
    try:
        named = date.fromisoformat(text)
    except ValueError:
        return
    assert DAY.validate_python(text) == named


@pytest.mark.parametrize(
    ("adapter", "value"),
    [
        (WHEN, "1969-12-31T23:59:59Z"),  # years 1970-2200
        (WHEN, "2201-01-01T00:00:00Z"),
        (WHEN, "2027-01-01T00:00Z"),  # RFC 3339 has seconds
        (WHEN, "2027-01-01 00:00:00Z"),
        (WHEN, "2027-01-01T00:00:00"),  # an offset is required
        (WHEN, "2027-01-01T00:00:00.1234567Z"),
        (WHEN, "1798761600"),  # pydantic alone would read these as Unix times
        (WHEN, 1798761600),
        (HOUR, "2027-01-01T07:15:00Z"),
        (HOUR, "2027-01-01T07:00:00+05:30"),  # 01:30 UTC
        (HOUR, "2027-01-01T07:00:00.5Z"),
        (DAY, "27-01-01"),
        (DAY, "2027-1-1"),
        (DAY, "2027-02-30"),
        (DAY, "1969-12-31"),
        (DAY, 0),
    ],
)
def test_what_the_schema_refuses_is_refused(adapter: TypeAdapter, value: Any) -> None:
    with pytest.raises(ValidationError):
        adapter.validate_python(value)


@pytest.mark.parametrize("demo", [False, True])
def test_the_document_states_the_scenarios_rules(tmp_path: Path, demo: bool) -> None:
    h = make_harness(f"sqlite:///{tmp_path / 'service.sqlite'}", tmp_path, demo=demo)
    with h.client:
        doc = h.client.get("/openapi.json").json()
    plant = h.svc.plant
    schemas = doc["components"]["schemas"]
    assert schemas["ReadingModel"]["properties"]["meter"]["enum"] == sorted(plant.meters)
    units = schemas["PlantStateIn"]["properties"]["units"]["propertyNames"]["enum"]
    assert units == sorted(u.name for u in plant.loaded.scenario.plant.units)
    days = schemas["PlanIn"]["properties"]["day"]["enum"]
    assert days == ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"]  # the 96 h horizon
    assert schemas["StatementIn"]["properties"]["period"]["maximum"] == plant.periods - 1
    sign = doc["paths"]["/api/statements/{period}/signatures/{party}"]["post"]["requestBody"]
    if demo:  # the service may sign with the party's demo key: the body is optional
        assert not sign.get("required") and "required" not in schemas["SignatureIn"]
    else:
        assert sign["required"] and schemas["SignatureIn"]["required"] == ["signature"]
    # What the document says, the service does.
    with h.client:
        r = h.post("/api/meters/readings", "op", {"readings": [
            {"meter": "nope", "interval_start": "2027-01-01T00:00:00Z", "value": 1.0}]})
        assert r.status_code == 422 and r.json()["field"] == "readings[0].meter"
        r = h.post("/api/statements", "op", {"period": plant.periods})
        assert r.status_code == 422 and r.json()["field"] == "period"
        r = h.post("/api/plans", "op", {"day": "2027-01-05"})
        assert r.status_code == 422 and r.json()["field"] == "day"
