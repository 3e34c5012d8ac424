"""Every array declared once: the table, the classes and field lists made from it, its doc."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from gridhash.dispatch.fast import OUTPUTS, PATH_FIELDS, FastBatchResult, FastResult
from gridhash.dispatch.fast.batch import BatchProblem
from gridhash.dispatch.problem import DispatchProblem, build_problem
from gridhash.dispatch.result import DispatchResult
from gridhash.safety import envelope_for
from gridhash.safety.envelope import Envelope
from gridhash.scenario.arrays import ARRAYS, NAME_UNITS, arrays, reference_markdown
from gridhash.scenario.resolve import Inputs, resolve

from conftest import tiny_scenario
from helpers import loaded

DOC = Path(__file__).resolve().parents[2] / "docs" / "arrays.md"
CLASSES = {"inputs": [Inputs], "envelope": [Envelope], "problem": [DispatchProblem],
           "result": [DispatchResult, FastResult, FastBatchResult]}
DIMS = {"U": "unit_names", "O": "offtake_names", "S": "site_names", "K": "class_names"}


def test_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/arrays.md is stale: run `python -m gridhash.scenario.arrays > docs/arrays.md`"
    )


def test_each_array_is_declared_once_and_names_carry_their_unit() -> None:
    names = [a.name for a in ARRAYS]
    assert len(names) == len(set(names))
    for a in ARRAYS:
        suffix = next((s for s in NAME_UNITS if a.name.endswith(s)), None)
        if suffix is not None:  # a name that says a unit has that unit
            assert a.unit == NAME_UNITS[suffix], a.name
        # ... and an array in one of those units says so in its name
        needed = [s for s, unit in NAME_UNITS.items() if unit == a.unit]
        if needed:
            assert any(a.name.endswith(s) for s in needed), (a.name, a.unit)
        assert set(a.dims) <= set("UOLSKT") and a.stages and a.description.endswith(".")
        assert all(s in a.stages for s in a.optional_in)


def test_the_classes_hold_exactly_the_tables_arrays() -> None:
    for stage, classes in CLASSES.items():
        declared = {a.name for a in arrays(stage)}
        for cls in classes:
            fields = {f.name: f for f in dataclasses.fields(cls)}
            assert declared <= set(fields), (cls, declared - set(fields))
            others = set(fields) - declared
            arrayish = {n for n in others if fields[n].type.startswith("np.ndarray")}
            # only the per-path summaries of a batch are arrays outside the table
            assert arrayish <= {"objective_usd", "certified", "lp_hours"}, (cls, arrayish)


def test_the_fast_paths_field_lists_come_from_the_table() -> None:
    assert {a.name: a.dims for a in arrays("problem") if "T" in a.dims} == PATH_FIELDS
    assert tuple(a.name for a in arrays("result")) == OUTPUTS


def test_a_resolved_scenario_has_the_declared_shapes_and_dtypes() -> None:
    ld = loaded(tiny_scenario(hours=48, safety={}))
    inputs = resolve(ld)
    env = envelope_for(ld, inputs)
    problem = build_problem(inputs, env)
    sizes = {**{d: len(getattr(inputs, n)) for d, n in DIMS.items()},
             "L": len(inputs.line_names), "T": inputs.hours}
    for stage, obj in (("inputs", inputs), ("envelope", env), ("problem", problem)):
        for a in arrays(stage):
            x = getattr(obj, a.name)
            if x is None and stage in a.optional_in:
                continue  # may be absent (the table says what that means)
            assert x is not None, (stage, a.name)
            assert x.shape == tuple(sizes[d] for d in a.dims), (stage, a.name, x.shape)
            assert x.dtype == np.dtype(a.dtype), (stage, a.name, x.dtype)
    # an absent optional array means what the table says
    bare = build_problem(inputs)
    batch = BatchProblem.from_problem(bare)
    for a in arrays("problem"):
        if "problem" in a.optional_in:
            assert getattr(bare, a.name) is None
            assert (batch.arrays[a.name] == a.absent).all(), a.name
