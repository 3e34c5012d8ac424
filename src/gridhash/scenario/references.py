"""Cross-references of a scenario, checked once, in the schema, for every command.

A name given in one part of a scenario must name something declared in another:
the lines of ``safety.offsite`` and of ``line_cut`` events, the units of
``safety.units`` and of rule actions, ``line:NAME`` in rule conditions, the
offtakes of agreements' obligations and price terms.  Events must also lie on
the horizon and have a level to return to.  :class:`gridhash.scenario.models.Scenario`
runs :func:`check_references` when it is validated, so ``run``, ``risk``,
``size``, ``safety``, ``compare``, ``settle`` and the service refuse the same
input with the same message; the parts that resolve the scenario
(:mod:`gridhash.scenario.resolve`, :mod:`~gridhash.scenario.resolve_safety`,
:mod:`~gridhash.scenario.resolve_agreement`) rely on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

Loc = tuple[str | int, ...]
Problems = Iterator["CrossReferenceError"]

if TYPE_CHECKING:
    from gridhash.scenario.models import Scenario
    from gridhash.scenario.safety import Event, Safety

#: ``line:NAME`` in a rule condition (the grammar is :func:`gridhash.safety.rules.parse_condition`).
_LINE_REF = re.compile(r"(?:^|[\s(])line:([^\s<>=!()]+)")


class CrossReferenceError(ValueError):
    """A field of the scenario that names something the scenario does not declare.

    Raised inside the schema's validation; :func:`gridhash.scenario.load.validate`
    turns it into a :class:`~gridhash.errors.ScenarioError` naming ``loc``.
    """

    def __init__(self, loc: Loc, message: str, value: Any, expected: str):
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.value = value
        self.expected = expected


def check_references(sc: Scenario) -> None:
    """Raise the first :class:`CrossReferenceError` of ``sc``, in document order."""
    for problem in _problems(sc):
        raise problem


def _problems(sc: Scenario) -> Problems:
    lines = [line.name for line in sc.grid.lines]
    units = [u.name for u in sc.plant.units]
    offtakes = [o.name for o in sc.grid.offtakes]
    if sc.safety is not None:
        yield from _safety_problems(sc, sc.safety, lines, units)
    for i, a in enumerate(sc.agreements):
        for part, terms in (("obligations", a.obligations), ("prices", a.prices)):
            for j, term in enumerate(terms):
                if term.offtake not in offtakes:
                    yield CrossReferenceError(
                        ("agreements", i, part, j, "offtake"),
                        f"unknown offtake {term.offtake!r}", term.offtake,
                        f"one of grid.offtakes: {', '.join(offtakes)}")


def _safety_problems(
    sc: Scenario, safety: Safety, lines: list[str], units: list[str]
) -> Problems:
    def line(name: str, loc: Loc, what: str = "") -> Problems:
        if name not in lines:
            yield CrossReferenceError(loc, f"unknown line {name!r}{what}", name,
                                   f"one of grid.lines: {', '.join(lines)}")

    def unit(name: str, loc: Loc, what: str = "") -> Problems:
        if name not in units:
            yield CrossReferenceError(loc, f"{what}unknown unit {name!r}", name,
                                   f"one of plant.units: {', '.join(units)}")

    for i, name in enumerate(safety.offsite.lines or []):
        yield from line(name, ("safety", "offsite", "lines", i))
    for i, su in enumerate(safety.units):
        yield from unit(su.name, ("safety", "units", i, "name"))
    for i, rule in enumerate(safety.rules):
        for name in _LINE_REF.findall(rule.when):
            yield from line(name, ("safety", "rules", i, "when"), " in the condition")
        for j, action in enumerate(rule.actions):
            for name in action.units or []:
                yield from unit(name, ("safety", "rules", i, "actions", j, "units"),
                                f"rule {rule.name!r} names ")
    for i, ev in enumerate(safety.events):
        loc: Loc = ("safety", "events", i)
        yield from _on_horizon(sc, ev, loc)
        if ev.kind == "line_cut" and ev.line is not None:
            yield from line(ev.line, (*loc, "line"), " in a line_cut event")
        yield from _has_level(safety, ev, loc)


def _on_horizon(sc: Scenario, ev: Event, loc: Loc) -> Problems:
    T = sc.horizon.hours
    start = sc.horizon.start
    if ev.hour is not None:
        h = int(ev.hour)
    else:
        assert ev.start is not None
        h = round((ev.start - start) / timedelta(hours=1))
    span = ev.hours or 1

    def stamp(t: int) -> str:
        return (start + timedelta(hours=t)).strftime("%Y-%m-%dT%H:%MZ")

    if 0 <= h < T < h + span:  # starts inside, runs past the end: blame its length
        yield CrossReferenceError(
            (*loc, "hours"), f"the {ev.kind} event starting at hour {h} ({stamp(h)}) runs "
            "past the end of the horizon", span,
            f"at most {T - h} h (the horizon ends at {stamp(T)})")
    elif h < 0 or h + span > T:
        yield CrossReferenceError(
            loc, f"the {ev.kind} event lies outside the horizon "
            f"(hours {h} to {h + span} of 0 to {T})",
            str(ev.start) if ev.start is not None else ev.hour,
            f"an event within {stamp(0)} .. {stamp(T)}")


_LEVEL_OF = {"staff": ("staff", "on_shift"), "cooling_water": ("cooling", "level_m")}


def _has_level(safety: Safety, ev: Event, loc: Loc) -> Problems:
    if ev.kind in _LEVEL_OF:
        part, name = _LEVEL_OF[ev.kind]
        if getattr(getattr(safety, part), name) is None:
            yield CrossReferenceError(loc, f"a {ev.kind} event needs a level to return to after it",
                                   ev.kind, f"safety.{part}.{name} to be set")
    if ev.kind in ("diesel_generators", "staff") and ev.value is not None and (
        ev.value < 0 or ev.value != int(ev.value)
    ):
        yield CrossReferenceError((*loc, "value"), f"a {ev.kind} event's value is a count",
                               ev.value, "a whole number ≥ 0")
