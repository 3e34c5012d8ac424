"""docs/scenario.md is generated from the models and must not be stale."""

from __future__ import annotations

from pathlib import Path

from gridhash.scenario.models import Unit
from gridhash.scenario.reference import render_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario.md"


def test_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render_reference(), (
        "docs/scenario.md is stale: run `python -m gridhash.scenario.reference > docs/scenario.md`"
    )


def test_reference_carries_units_defaults_and_series_flag() -> None:
    text = render_reference()
    line = next(x for x in text.splitlines() if x.startswith("| `availability`"))
    assert "static or series" in line and "fraction" in line and "`1.0`" in line
    assert Unit.model_fields["capacity_mw"].description in text
