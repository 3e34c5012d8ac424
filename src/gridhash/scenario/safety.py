"""The ``safety`` part of a scenario: plant state, events and operating rules.

Declared like every other part (one field, one unit, one description), and
turned into an hourly operating envelope by :mod:`gridhash.safety`.  The
modes, the rule grammar and the shipped default rules are described in
``docs/safety.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from gridhash.scenario.base import FiniteFloat, Model, SeriesSpec, UtcTime, _unique, field

#: Operating modes, from power operation down to refuelling (the order is the depth).
MODES: tuple[str, ...] = (
    "power_operation",
    "hot_standby",
    "hot_shutdown",
    "cold_shutdown",
    "refuelling",
)

Mode = Literal["power_operation", "hot_standby", "hot_shutdown", "cold_shutdown", "refuelling"]
RequiredMode = Literal["hot_standby", "hot_shutdown", "cold_shutdown"]

#: Event kinds and the fields each needs besides ``start``/``hour``.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "line_cut": ("line", "hours"),
    "diesel_delivery": ("days",),
    "diesel_generators": ("value", "hours"),
    "staff": ("value", "hours"),
    "cooling_water": ("value", "hours"),
    "monitoring_down": ("hours",),
    "comms_down": ("hours",),
    "safety_hold": ("hours",),
    "physical_damage": ("hours",),
}

EventKind = Literal[
    "line_cut",
    "diesel_delivery",
    "diesel_generators",
    "staff",
    "cooling_water",
    "monitoring_down",
    "comms_down",
    "safety_hold",
    "physical_damage",
]


class Offsite(Model):
    """Off-site power: which grid lines feed the plant's own needs, and how many must."""

    lines: list[str] | None = field(
        "Names of the grid lines (from `grid.lines`) that are off-site power circuits; "
        "default: every line.",
        default=None,
    )
    required: int = field(
        "Off-site circuits the technical specifications require to be in service "
        "(`offsite_lines_required` in rules).",
        default=2,
        ge=0,
    )


class Diesel(Model):
    """Emergency diesel generators (EDGs): the back-up when every off-site line is lost."""

    generators: int = field(
        "Operable generators at the first hour (`diesel_generators`).", default=0, ge=0
    )
    required: int = field(
        "Operable generators required (`diesel_generators_required`).", default=0, ge=0
    )
    generator_mw: FiniteFloat = field("Output of one generator.", unit="MW", default=0.0, ge=0)
    fuel_days: FiniteFloat = field(
        "Fuel on site at the first hour, in days of running on diesel (`diesel_fuel_days`). "
        "Each hour on diesel burns 1/24 day.",
        unit="day",
        default=0.0,
        ge=0,
    )
    required_fuel_days: FiniteFloat = field(
        "Fuel required on site (`diesel_fuel_required_days`).", unit="day", default=0.0, ge=0
    )
    cost_usd_per_mwh: FiniteFloat = field(
        "Cost of a MWh from the diesel generators.", unit="USD/MWh", default=300.0, ge=0
    )
    resupply_lead_hours: FiniteFloat = field(
        "Fuel resupply in response to a loss of off-site power: the first delivery arrives "
        "this long after every off-site line is lost, if the plant is still on diesel; "
        "then one every `resupply_days` days while the loss lasts. ASSUMPTION from the "
        "public record (docs/sources.md 1.5): 6 days, as seven fuel trucks reached ZNPP "
        "by 2022-10-14 after the loss of 2022-10-08.",
        unit="h", default=144.0, ge=0, le=87_600,
    )
    resupply_days: FiniteFloat = field(
        "Size of each responsive delivery, in days of running on diesel (0: none; the "
        "scenario's dated `diesel_delivery` events come on top). ASSUMPTION from the "
        "public record: 10 days, the reserve the IAEA reported after deliveries "
        "(2022-10-14) and kept through the 30-day loss of 2025 (\"approximately ten more "
        "days\" on its ninth day).",
        unit="day", default=10.0, ge=0, le=3650,
    )
    restock_hours: FiniteFloat | None = field(
        "Tanks topped back up to `fuel_days` this long after off-site power returns from "
        "a loss (at the first hour back on any off-site line, plus this), whenever the "
        "loss falls; a level already above `fuel_days` is kept. Absent: no restocking "
        "(only `resupply_*` and dated `diesel_delivery` events add fuel). For ZNPP an "
        "ASSUMPTION from the technical specifications: NUREG-1431 LCO 3.8.3 gives 48 h to "
        "restore the fuel oil level once it is below its limit.",
        unit="h", default=None, ge=0, le=87_600,
    )


class Cooling(Model):
    """The ultimate heat sink: cooling water level and its minimum."""

    level_m: SeriesSpec | None = field(
        "Cooling water level (`cooling_water_level_m`); events of kind `cooling_water` "
        "override it in their window.",
        unit="m",
        series=True,
        default=None,
    )
    minimum_m: FiniteFloat | None = field(
        "Level below which the heat sink is inoperable (`cooling_water_min_m`).",
        unit="m",
        default=None,
    )


class Staff(Model):
    """Licensed staff on shift against the minimum crew."""

    on_shift: int | None = field(
        "Licensed staff on shift (`staff_on_shift`); events of kind `staff` override it.",
        default=None,
        ge=0,
    )
    minimum: int | None = field("Minimum shift crew (`staff_minimum`).", default=None, ge=0)


class Monitoring(Model):
    """Radiation monitoring and communications at the first hour."""

    radiation: bool = field(
        "On-site and off-site radiation monitoring working (`radiation_monitoring`).",
        default=True,
    )
    communications: bool = field(
        "Reliable communication with the regulator and others (`communications`).",
        default=True,
    )


class SafetyUnit(Model):
    """A unit's operating mode at the first hour."""

    name: str = field("Name of a unit in `plant.units`.", min_length=1)
    initial_mode: Mode = field("Operating mode at the first hour.")


class Transition(Model):
    """The minimum time of one change of operating mode, one step along the mode chain.

    Going down (towards refuelling) the unit spends at least ``min_hours`` in
    ``mode`` before it is in ``to``; going up, it spends ``min_hours`` in ``mode``
    after it is released (no rule or outage holds it there any more).
    """

    mode: Mode = field("Mode left.")
    to: Mode = field("Mode entered: the next mode up or down the chain.")
    min_hours: int = field("Minimum time of the change.", unit="h", ge=0)

    @model_validator(mode="after")
    def _adjacent(self) -> Transition:
        a, b = MODES.index(self.mode), MODES.index(self.to)
        if abs(a - b) != 1:
            raise ValueError(
                f"{self.mode} → {self.to} is not an allowed transition: modes change one step "
                f"at a time along {' ↔ '.join(MODES)}"
            )
        return self


class Action(Model):
    """What a rule requires, and how long after its condition began (the completion time).

    Exactly one of ``mode``, ``max_output_fraction``, ``block_mining`` and
    ``mining_cap_mw`` is given.
    """

    within_hours: int = field(
        "Completion time: hours from the first hour of the condition. The action applies "
        "from the hour the condition has held this long (0: at once).",
        unit="h",
        default=0,
        ge=0,
    )
    mode: RequiredMode | None = field(
        "Units must be in this mode or deeper (no output below hot standby).", default=None
    )
    max_output_fraction: FiniteFloat | None = field(
        "Units may make at most this fraction of their capacity.",
        unit="fraction",
        default=None,
        ge=0,
        le=1,
    )
    block_mining: bool | None = field("Mining is not allowed.", default=None)
    mining_cap_mw: FiniteFloat | None = field(
        "Mining may draw at most this much.", unit="MW", default=None, ge=0
    )
    units: list[str] | None = field(
        "Units the action applies to (mode and output actions); default: every unit.",
        default=None,
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        given = [
            k
            for k in ("mode", "max_output_fraction", "block_mining", "mining_cap_mw")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "an action takes exactly one of mode, max_output_fraction, block_mining, "
                f"mining_cap_mw; got {', '.join(given) if given else 'none'}"
            )
        if self.block_mining is False:
            raise ValueError("block_mining = false does nothing; leave the action out")
        return self

    @property
    def kind(self) -> str:
        for k in ("mode", "max_output_fraction", "block_mining", "mining_cap_mw"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated to have one")  # pragma: no cover

    def describe(self) -> str:
        """'hot_shutdown within 78 h' — how reports name the action."""
        if self.mode is not None:
            what = self.mode
        elif self.max_output_fraction is not None:
            what = f"output ≤ {self.max_output_fraction:.0%}"
        elif self.block_mining:
            what = "mining blocked"
        else:
            what = f"mining ≤ {self.mining_cap_mw:g} MW"
        when = "at once" if self.within_hours == 0 else f"within {self.within_hours} h"
        units = f" ({', '.join(self.units)})" if self.units else ""
        return f"{what}{units} {when}"


class Rule(Model):
    """A limiting condition for operation: condition → required actions with completion times."""

    name: str = field("Unique name (a user rule with a default rule's name replaces it).")
    when: str = field(
        "Condition: clauses `quantity op value` joined by `and`; op is one of < <= > >= == !=, "
        "value a number or another quantity (see docs/safety.md).",
        min_length=1,
    )
    actions: list[Action] = field("What is required while the condition holds.", min_length=1)
    description: str = field("What the rule is for.", default="")
    source: str = field("Where the rule comes from.", default="")
    pillar: int | None = field(
        "The IAEA indispensable pillar it serves (1-7).", default=None, ge=1, le=7
    )


class Event(Model):
    """Something that happens to the plant at an hour: a line cut, a fuel delivery, ...

    Give ``start`` (a UTC time) or ``hour`` (hours from the start of the horizon).
    Kinds and the fields they need: ``line_cut`` (line, hours), ``diesel_delivery``
    (days), ``diesel_generators`` (value = operable, hours), ``staff`` (value = on
    shift, hours), ``cooling_water`` (value = level in m, hours), ``monitoring_down``,
    ``comms_down``, ``safety_hold``, ``physical_damage`` (hours).
    """

    kind: EventKind = field("What happens.")
    start: UtcTime | None = field("First hour (UTC).", default=None)
    hour: int | None = field("First hour, as hours from the start of the horizon.", default=None)
    hours: int | None = field("How long it lasts.", unit="h", default=None, gt=0)
    line: str | None = field("The line cut (`line_cut`).", default=None)
    days: FiniteFloat | None = field(
        "Fuel delivered, in days of running on diesel.", unit="day", default=None, gt=0
    )
    value: FiniteFloat | None = field(
        "The level during the event: operable generators, staff on shift or water level (m).",
        default=None,
    )
    reason: str = field("Free text: what happened, with its source.", default="")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Event:
        if (self.start is None) == (self.hour is None):
            raise ValueError("give exactly one of start (a UTC time) and hour (an hour offset)")
        needed = EVENT_FIELDS[self.kind]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} event needs {', '.join(missing)}")
        extra = [
            f
            for f in ("hours", "line", "days", "value")
            if f not in needed and getattr(self, f) is not None
        ]
        if extra:
            raise ValueError(f"a {self.kind} event takes no {', '.join(extra)}")
        return self


class Safety(Model):
    """Plant state, events and operating rules: what the safety envelope is made from."""

    offsite: Offsite = field("Off-site power circuits.", default_factory=Offsite)
    diesel: Diesel = field("Emergency diesel generators.", default_factory=Diesel)
    cooling: Cooling = field("Cooling water.", default_factory=Cooling)
    staff: Staff = field("Staff on shift.", default_factory=Staff)
    monitoring: Monitoring = field(
        "Radiation monitoring and communications.", default_factory=Monitoring
    )
    units: list[SafetyUnit] = field(
        "Operating mode of units at the first hour; a unit not listed starts in power "
        "operation if it is available then, else in cold shutdown.",
        default_factory=list,
    )
    transitions: list[Transition] = field(
        "Minimum times of mode changes; each replaces the shipped default for its pair.",
        default_factory=list,
    )
    default_rules: Literal["all", "mining", "none"] = field(
        "Which shipped rules apply: all, only the mining rules, or none.", default="all"
    )
    disable_rules: list[str] = field(
        "Names of shipped rules to leave out.", default_factory=list
    )
    rules: list[Rule] = field("Rules of this scenario (added to the shipped ones).",
                              default_factory=list)
    events: list[Event] = field("What happens during the horizon.", default_factory=list)
    mining_margin_mw: FiniteFloat = field(
        "Mining never exceeds the output the envelope allows minus house load minus this.",
        unit="MW",
        default=50.0,
        ge=0,
    )
    blackout_penalty_usd_per_mwh: FiniteFloat = field(
        "Penalty on house load left unsupplied (station blackout).",
        unit="USD/MWh",
        default=100_000.0,
        gt=0,
    )

    @field_validator("units")
    @classmethod
    def _units_unique(cls, v: list[SafetyUnit]) -> list[SafetyUnit]:
        return _unique(v, "unit")

    @field_validator("rules")
    @classmethod
    def _rules_unique(cls, v: list[Rule]) -> list[Rule]:
        return _unique(v, "rule")

    @field_validator("transitions")
    @classmethod
    def _transitions_unique(cls, v: list[Transition]) -> list[Transition]:
        seen: set[tuple[str, str]] = set()
        for t in v:
            if (t.mode, t.to) in seen:
                raise ValueError(f"the transition {t.mode} → {t.to} is given twice")
            seen.add((t.mode, t.to))
        return v


#: The safety parts in document order, for the generated reference.
SAFETY_PARTS: tuple[type[Model], ...] = (
    Safety,
    Offsite,
    Diesel,
    Cooling,
    Staff,
    Monitoring,
    SafetyUnit,
    Transition,
    Rule,
    Action,
    Event,
)
