"""Rules as data: the condition grammar, the shipped rules, and checks on a rule set.

A condition is one or more clauses joined by ``and``::

    offsite_lines < offsite_lines_required and offsite_lines >= 1
    line:Dniprovska-750 == 0

Each clause is ``quantity op value`` with ``op`` one of ``< <= > >= == !=`` and
``value`` a number or another quantity.  The quantities are listed in
:data:`QUANTITIES` (and in docs/safety.md); ``line:NAME`` is 1 while the named
grid line is in service.  The grammar is deliberately this small: it is parsed
by a regular expression, checked against the quantities' domains (a clause
that can never hold is an error), and evaluated on whole hourly arrays.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from gridhash.errors import ScenarioError
from gridhash.scenario.safety import MODES, Action, Rule

if TYPE_CHECKING:
    from gridhash.scenario.safety import Safety


@dataclass(frozen=True)
class Quantity:
    """A plant-state quantity a rule may test."""

    name: str
    description: str
    provided_by: str  # the scenario field that provides it ("" = always known)
    lower: float = 0.0
    upper: float = np.inf
    integer: bool = False


#: Every quantity a condition may name (besides ``line:NAME``).
QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("offsite_lines", "off-site circuits in service", "", integer=True),
        Quantity("offsite_lines_required", "off-site circuits required", "", integer=True),
        Quantity("offsite_kv_max", "highest voltage among off-site circuits in service (kV)", ""),
        Quantity("on_diesel", "1 while no off-site circuit is in service", "", 0, 1, True),
        Quantity("diesel_generators", "operable diesel generators", "", integer=True),
        Quantity("diesel_generators_required", "diesel generators required", "", integer=True),
        Quantity("diesel_fuel_days", "diesel fuel on site (days)", ""),
        Quantity("diesel_fuel_required_days", "diesel fuel required (days)", ""),
        Quantity(
            "cooling_water_level_m",
            "cooling water level (m)",
            "safety.cooling.level_m",
            -np.inf,
        ),
        Quantity(
            "cooling_water_min_m",
            "minimum cooling water level (m)",
            "safety.cooling.minimum_m",
            -np.inf,
        ),
        Quantity("staff_on_shift", "licensed staff on shift", "safety.staff.on_shift",
                 integer=True),
        Quantity("staff_minimum", "minimum shift crew", "safety.staff.minimum", integer=True),
        Quantity("radiation_monitoring", "1 while radiation monitoring works", "", 0, 1, True),
        Quantity("communications", "1 while communications work", "", 0, 1, True),
        Quantity("safety_hold", "1 while the monitor's safety hold is raised", "", 0, 1, True),
        Quantity("physical_damage", "1 while the site is damaged", "", 0, 1, True),
    )
}

_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_CLAUSE = re.compile(r"^\s*(\S+?)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_AND = re.compile(r"\s+and\s+")


@dataclass(frozen=True)
class Clause:
    left: str
    op: str
    right: str | float  # a quantity name or a number

    def __str__(self) -> str:
        right = self.right if isinstance(self.right, str) else f"{self.right:g}"
        return f"{self.left} {self.op} {right}"


@dataclass(frozen=True)
class Condition:
    """A parsed condition: clauses that must all hold."""

    text: str
    clauses: tuple[Clause, ...]

    @property
    def quantities(self) -> set[str]:
        names = {c.left for c in self.clauses}
        names |= {c.right for c in self.clauses if isinstance(c.right, str)}
        return names

    def evaluate(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Hourly truth of the condition (arrays may carry leading axes)."""
        out: np.ndarray | None = None
        for c in self.clauses:
            right = values[c.right] if isinstance(c.right, str) else c.right
            truth = _OPS[c.op](values[c.left], right)
            out = truth if out is None else out & truth
        assert out is not None
        return out


def _is_quantity(name: str, lines: tuple[str, ...]) -> bool:
    return name in QUANTITIES or (name.startswith("line:") and name[5:] in lines)


def parse_condition(
    text: str, *, lines: tuple[str, ...], where: str, source: str | None = None
) -> Condition:
    """Parse ``text``; errors name ``where`` (e.g. ``safety.rules[2].when``)."""
    clauses = []
    for part in _AND.split(text.strip()):
        m = _CLAUSE.match(part)
        if not m:
            raise ScenarioError(
                f"cannot read the clause {part!r} of the condition",
                source=source,
                field=where,
                value=text,
                expected="clauses `quantity op value` joined by `and` (op: < <= > >= == !=)",
            )
        left, op, right_text = m.groups()
        right: str | float
        try:
            right = float(right_text)
        except ValueError:
            right = right_text
        for name in (left, right):
            if isinstance(name, str) and not _is_quantity(name, lines):
                known = ", ".join(QUANTITIES)
                if name.startswith("line:"):
                    expected = f"a grid line name after line: ({', '.join(lines)})"
                    msg = f"unknown line {name[5:]!r} in the condition"
                else:
                    expected = f"one of {known}, or line:NAME"
                    msg = f"unknown quantity {name!r} in the condition"
                raise ScenarioError(msg, source=source, field=where, value=text,
                                    expected=expected)
        if not isinstance(right, str) and not np.isfinite(right):
            raise ScenarioError("the condition compares with a non-finite number",
                                source=source, field=where, value=text,
                                expected="a finite number")
        clauses.append(Clause(left, op, right))
    cond = Condition(text=text, clauses=tuple(clauses))
    _check_satisfiable(cond, where=where, source=source)
    return cond


def _domain(name: str) -> tuple[float, float, bool]:
    if name.startswith("line:"):
        return 0.0, 1.0, True
    q = QUANTITIES[name]
    return q.lower, q.upper, q.integer


def _check_satisfiable(cond: Condition, *, where: str, source: str | None) -> None:
    """Refuse a condition whose clauses on numbers can never hold together."""
    bounds: dict[str, tuple[float, float]] = {}
    for c in cond.clauses:
        if isinstance(c.right, str) or c.op == "!=":
            continue
        d_lo, d_hi, integer = _domain(c.left)
        lo, hi = bounds.get(c.left, (d_lo, d_hi))
        v = c.right
        if c.op == "<":
            hi = min(hi, (np.ceil(v) - 1) if integer else np.nextafter(v, -np.inf))
        elif c.op == "<=":
            hi = min(hi, np.floor(v) if integer else v)
        elif c.op == ">":
            lo = max(lo, (np.floor(v) + 1) if integer else np.nextafter(v, np.inf))
        elif c.op == ">=":
            lo = max(lo, np.ceil(v) if integer else v)
        else:  # ==
            if integer and v != int(v):
                lo, hi = 1.0, 0.0
            else:
                lo, hi = max(lo, v), min(hi, v)
        bounds[c.left] = (lo, hi)
    for name, (lo, hi) in bounds.items():
        if lo > hi:
            raise ScenarioError(
                f"the condition can never hold: no value of {name} satisfies it",
                source=source,
                field=where,
                value=cond.text,
                expected="clauses that some plant state can satisfy",
            )


# --------------------------------------------------------------------------- #
# Shipped rules and mode transitions
# --------------------------------------------------------------------------- #

#: Shipped minimum times of mode changes (hours), one step along the chain.
#: Going down: power reduction itself is limited by the units' ramp rates; a
#: trip reaches hot shutdown at once; cooldown from hot to cold shutdown 12 h
#: (ASSUMPTION, within the 30 h NUREG-1431 LCO 3.8.1 G allows between MODE 3 and
#: MODE 5).  Going up: heat-up from cold to hot shutdown 24 h, approach to
#: criticality 6 h, synchronisation 2 h (ASSUMPTIONS for a VVER-1000; no
#: published figures were found).  So a unit in cold shutdown needs at least
#: 32 h to make power.
DEFAULT_TRANSITIONS: dict[tuple[str, str], int] = {
    ("power_operation", "hot_standby"): 0,
    ("hot_standby", "hot_shutdown"): 0,
    ("hot_shutdown", "cold_shutdown"): 12,
    ("cold_shutdown", "refuelling"): 0,
    ("refuelling", "cold_shutdown"): 0,
    ("cold_shutdown", "hot_shutdown"): 24,
    ("hot_shutdown", "hot_standby"): 6,
    ("hot_standby", "power_operation"): 2,
}


@dataclass(frozen=True)
class ShippedRule:
    rule: Rule
    group: str  # tech-spec | pillar | mining


def shipped_rules() -> list[ShippedRule]:
    """The rules in ``gridhash/safety/rules.toml``, in file order."""
    text = resources.files("gridhash.safety").joinpath("rules.toml").read_text("utf-8")
    out = []
    for raw in tomllib.loads(text)["rules"]:
        raw = dict(raw)
        group = raw.pop("group")
        out.append(ShippedRule(Rule.model_validate(raw), group))
    return out


@dataclass(frozen=True)
class RuleSet:
    """The rules in force for one scenario, parsed and checked."""

    rules: tuple[Rule, ...]
    conditions: tuple[Condition, ...]
    origins: tuple[str, ...]  # "shipped", "scenario" or "scenario (replaces shipped)"
    skipped: tuple[tuple[str, str], ...]  # (rule, why) shipped rules not evaluated
    transitions: dict[tuple[str, str], int]

    @property
    def quantities(self) -> frozenset[str]:
        """The quantities the rules' conditions read."""
        return frozenset(
            name
            for cond in self.conditions
            for c in cond.clauses
            for name in (c.left, c.right)
            if isinstance(name, str)
        )


def build_ruleset(
    safety: Safety,
    *,
    lines: tuple[str, ...],
    provided: set[str],
    source: str | None = None,
) -> RuleSet:
    """Assemble shipped and scenario rules, parse their conditions and check them.

    ``provided`` names the scenario fields that are given (e.g.
    ``safety.staff.on_shift``): a shipped rule needing a quantity nobody gave is
    skipped (and listed); a scenario rule doing so is an error.
    """
    transitions = dict(DEFAULT_TRANSITIONS)
    for t in safety.transitions:
        transitions[(t.mode, t.to)] = t.min_hours

    shipped = shipped_rules()
    names = {s.rule.name for s in shipped}
    for i, name in enumerate(safety.disable_rules):
        if name not in names:
            raise ScenarioError(
                f"unknown shipped rule {name!r}",
                source=source,
                field=f"safety.disable_rules[{i}]",
                value=name,
                expected=f"one of {', '.join(sorted(names))}",
            )
    keep = {"all": {"tech-spec", "pillar", "mining"}, "mining": {"mining"}, "none": set()}[
        safety.default_rules
    ]
    user = {r.name: i for i, r in enumerate(safety.rules)}

    rules: list[Rule] = []
    conds: list[Condition] = []
    origins: list[str] = []
    skipped: list[tuple[str, str]] = []
    for s in shipped:
        if s.group not in keep or s.rule.name in safety.disable_rules or s.rule.name in user:
            continue
        cond = parse_condition(s.rule.when, lines=lines, where=f"shipped rule {s.rule.name}")
        missing = [
            QUANTITIES[q].provided_by
            for q in sorted(cond.quantities)
            if q in QUANTITIES and QUANTITIES[q].provided_by
            and QUANTITIES[q].provided_by not in provided
        ]
        if missing:
            skipped.append((s.rule.name, f"needs {', '.join(sorted(set(missing)))}"))
            continue
        rules.append(s.rule)
        conds.append(cond)
        origins.append("shipped")
    for i, r in enumerate(safety.rules):
        where = f"safety.rules[{i}]"
        cond = parse_condition(r.when, lines=lines, where=f"{where}.when", source=source)
        for q in sorted(cond.quantities):
            if q in QUANTITIES and QUANTITIES[q].provided_by not in ("", *provided):
                raise ScenarioError(
                    f"rule {r.name!r} tests {q}, which the scenario does not give",
                    source=source,
                    field=f"{where}.when",
                    value=r.when,
                    expected=f"{QUANTITIES[q].provided_by} to be set",
                )
        _check_actions(r, where, transitions, source)
        rules.append(r)
        conds.append(cond)
        origins.append("scenario (replaces shipped)" if r.name in names else "scenario")
    for r in rules:  # shipped rules are checked against this scenario's transitions too
        _check_actions(r, f"rule {r.name}", transitions, source)
    return RuleSet(
        rules=tuple(rules),
        conditions=tuple(conds),
        origins=tuple(origins),
        skipped=tuple(skipped),
        transitions=transitions,
    )


def _check_actions(
    rule: Rule,
    where: str,
    transitions: dict[tuple[str, str], int],
    source: str | None,
) -> None:
    def down(mode: str) -> int:
        d = MODES.index(mode)
        return sum(transitions[(MODES[i], MODES[i + 1])] for i in range(d))

    modes: list[tuple[int, Action, int]] = []
    for j, a in enumerate(rule.actions):  # (its units are checked by the schema)
        if a.mode is not None:
            need = down(a.mode)
            if a.within_hours < need:
                raise ScenarioError(
                    f"rule {rule.name!r} cannot be met: it requires {a.mode} within "
                    f"{a.within_hours} h, but a unit at power needs at least {need} h to get "
                    "there (safety.transitions)",
                    source=source,
                    field=f"{where}.actions[{j}].within_hours",
                    value=a.within_hours,
                    expected=f"at least {need} h",
                )
            modes.append((MODES.index(a.mode), a, j))
    for depth, a, j in modes:
        for depth2, a2, _ in modes:
            if depth2 < depth and a2.within_hours > a.within_hours and _same_units(a, a2):
                raise ScenarioError(
                    f"rule {rule.name!r} contradicts itself: it requires {a.mode} within "
                    f"{a.within_hours} h but the shallower {a2.mode} only within "
                    f"{a2.within_hours} h ({a.mode} implies {a2.mode})",
                    source=source,
                    field=f"{where}.actions[{j}]",
                    value=a.describe(),
                    expected=f"{a2.mode} no later than {a.mode}",
                )


def _same_units(a: Action, b: Action) -> bool:
    return set(a.units or ["*"]) == set(b.units or ["*"])
