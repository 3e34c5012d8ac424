"""The scenario schema: pydantic v2 models, each field declared once with its unit.

Like PyPSA's component attribute tables, every field carries its unit, default
and description here and nowhere else: ``docs/scenario.md``, ``gridhash show``
and the error messages are derived from these declarations.  The building
blocks (``field``, the series forms, windows) live in :mod:`gridhash.scenario.base`,
the ``safety`` part in :mod:`gridhash.scenario.safety`.
"""

from __future__ import annotations

from datetime import date

from pydantic import field_validator, model_validator

from gridhash.scenario.agreement import AGREEMENT_PARTS, Agreement, unique_agreements
from gridhash.scenario.base import (
    FileSeries,
    FiniteFloat,
    GrowthSeries,
    Model,
    ProfileSeries,
    SeriesSpec,
    UtcTime,
    Window,
    _unique,
    _utc,
    field,
)
from gridhash.scenario.references import check_references
from gridhash.scenario.safety import SAFETY_PARTS, Safety

__all__ = [
    "FileSeries",
    "FiniteFloat",
    "GrowthSeries",
    "Model",
    "ProfileSeries",
    "SeriesSpec",
    "Window",
    "_unique",
    "_utc",
    "field",
]


# --------------------------------------------------------------------------- #
# Scenario parts
# --------------------------------------------------------------------------- #


class Horizon(Model):
    """The hours planned: hourly resolution, UTC."""

    start: UtcTime = field("First hour (UTC; a date means 00:00 UTC).")
    hours: int = field("Number of hours.", unit="h", gt=0, le=24 * 366 * 5)


class Unit(Model):
    """A generating unit of the plant."""

    name: str = field("Unique name of the unit.", min_length=1)
    capacity_mw: FiniteFloat = field("Net electrical capacity.", unit="MW", ge=0)
    availability: SeriesSpec = field(
        "Fraction of capacity available (derating, seasonal limits).",
        unit="fraction",
        series=True,
        default=1.0,
        ge=0,
        le=1,
    )
    outages: list[Window] = field(
        "Windows when the unit cannot generate at all.", default_factory=list
    )
    min_stable_mw: FiniteFloat = field(
        "Minimum stable output while available. An available unit is assumed online "
        "(no unit commitment); take it offline with an outage window.",
        unit="MW",
        default=0.0,
        ge=0,
    )
    ramp_up_mw_per_h: FiniteFloat | None = field(
        "Largest increase of output from one hour to the next; none means unlimited.",
        unit="MW/h",
        default=None,
        gt=0,
    )
    ramp_down_mw_per_h: FiniteFloat | None = field(
        "Largest decrease of output from one hour to the next; none means unlimited.",
        unit="MW/h",
        default=None,
        gt=0,
    )
    marginal_cost_usd_per_mwh: SeriesSpec = field(
        "Cost of one more MWh generated (fuel, variable O&M).",
        unit="USD/MWh",
        series=True,
        default=0.0,
    )

    @model_validator(mode="after")
    def _min_le_capacity(self) -> Unit:
        if self.min_stable_mw > self.capacity_mw:
            raise ValueError(
                f"min_stable_mw {self.min_stable_mw} exceeds capacity_mw {self.capacity_mw}"
            )
        return self


class Plant(Model):
    """The power plant: its units and its own consumption."""

    name: str = field("Name of the plant.", min_length=1)
    units: list[Unit] = field("The generating units.", min_length=1)
    house_load_mw: SeriesSpec = field(
        "The whole site's own consumption with every unit shut down (cooling pumps, "
        "safety systems, common site loads), served first: from its own generation, "
        "imported over the lines or, with a safety part, from the diesel generators. "
        "A unit's own use at power is not included: its net capacity already excludes it.",
        unit="MW",
        series=True,
        default=0.0,
        ge=0,
    )

    @field_validator("units")
    @classmethod
    def _unique_units(cls, v: list[Unit]) -> list[Unit]:
        return _unique(v, "unit")


class Offtake(Model):
    """A buyer of energy on the grid side."""

    name: str = field("Unique name of the offtake.", min_length=1)
    price_usd_per_mwh: SeriesSpec = field(
        "Price paid for energy delivered.", unit="USD/MWh", series=True
    )
    demand_mw: SeriesSpec = field("Most the offtake can take.", unit="MW", series=True, ge=0)
    firm_mw: SeriesSpec = field(
        "Firm obligation: served before any mining; any shortfall is unserved firm "
        "energy, penalised at grid.unserved_penalty_usd_per_mwh.",
        unit="MW",
        series=True,
        default=0.0,
        ge=0,
    )


class Line(Model):
    """A transmission line from the plant to one offtake."""

    name: str = field("Unique name of the line.", min_length=1)
    serves: str = field("Name of the offtake the line delivers to.", min_length=1)
    capacity_mw: FiniteFloat = field("Transfer capacity.", unit="MW", ge=0)
    voltage_kv: FiniteFloat | None = field("Nominal voltage.", unit="kV", default=None, gt=0)
    outages: list[Window] = field("Windows when the line is out.", default_factory=list)


class Grid(Model):
    """The grid side: offtakes, the lines to them, and imports for house load."""

    offtakes: list[Offtake] = field("Buyers of the plant's energy.", min_length=1)
    lines: list[Line] = field("Transmission lines.", min_length=1)
    import_price_usd_per_mwh: SeriesSpec = field(
        "Price of energy imported over the lines for house load when the plant's own "
        "generation does not cover it.",
        unit="USD/MWh",
        series=True,
    )
    imports_allowed: bool = field(
        "Whether the plant can import energy over its lines at all (false: house load "
        "comes only from its own generation or the diesel generators).",
        default=True,
    )
    import_cap_mw: SeriesSpec | None = field(
        "Most the plant may import in an hour, on top of the lines' capacity and the "
        "house load (none: no cap beyond those).",
        unit="MW",
        series=True,
        default=None,
        ge=0,
    )
    unserved_penalty_usd_per_mwh: FiniteFloat = field(
        "Penalty per MWh of firm obligation not served (value of lost load); must exceed "
        "any mining value so that firm obligations are served before any mining.",
        unit="USD/MWh",
        default=4000.0,
        gt=0,
    )

    @field_validator("offtakes")
    @classmethod
    def _unique_offtakes(cls, v: list[Offtake]) -> list[Offtake]:
        return _unique(v, "offtake")

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, v: list[Line]) -> list[Line]:
        return _unique(v, "line")

    @model_validator(mode="after")
    def _lines_serve_known_offtakes(self) -> Grid:
        names = [o.name for o in self.offtakes]
        for line in self.lines:
            if line.serves not in names:
                raise ValueError(
                    f"line {line.name!r} serves unknown offtake {line.serves!r}; "
                    f"expected one of {names}"
                )
        return self


class DemandResponse(Model):
    """A site's demand-response programme: when it stops mining for the grid, what it earns.

    The rule is :class:`gridhash.demand_response.CurtailmentRule` (the planner and
    the site agent run the same code); docs/agent.md, "Demand response".
    """

    strike_usd_per_mwh: FiniteFloat = field(
        "Curtail after `hours_above` consecutive hours with the reference price above it.",
        unit="USD/MWh")
    hours_above: int = field("N: consecutive hours above the strike that start a curtailment.",
                             unit="h", default=1, ge=1)
    hours_below: int = field("M: consecutive hours below the resume level before mining resumes.",
                             unit="h", default=1, ge=1)
    min_hold_hours: int = field("A curtailment lasts at least this long.", unit="h", default=0,
                                ge=0)
    high_strike_usd_per_mwh: FiniteFloat | None = field(
        "Curtail at once in an hour at or above this price (none if unset).", unit="USD/MWh",
        default=None)
    resume_usd_per_mwh: FiniteFloat | None = field(
        "The level the price must stay below to resume (the strike if unset).",
        unit="USD/MWh", default=None)
    price_offtake: str | None = field(
        "Offtake whose price is the reference price (the first offtake if unset).",
        default=None)
    enrolled_mw: FiniteFloat | None = field(
        "MW made available to the grid operator (the site's capacity if unset; never more).",
        unit="MW", default=None, ge=0)
    availability_usd_per_mw_h: FiniteFloat = field(
        "Programme payment per MW made available, per hour enrolled.", unit="USD/MW/h",
        default=0.0, ge=0)
    curtailed_usd_per_mwh: FiniteFloat = field(
        "Programme payment per MWh curtailed while the grid operator calls.", unit="USD/MWh",
        default=0.0, ge=0)
    calls: list[Window] = field("Windows when the grid operator calls for curtailment.",
                                default_factory=list)

    @model_validator(mode="after")
    def _levels(self) -> DemandResponse:
        strike = self.strike_usd_per_mwh
        if self.resume_usd_per_mwh is not None and self.resume_usd_per_mwh > strike:
            raise ValueError(f"resume_usd_per_mwh {self.resume_usd_per_mwh} is above "
                             f"strike_usd_per_mwh {strike}; expected a level at or below it")
        if self.high_strike_usd_per_mwh is not None and self.high_strike_usd_per_mwh < strike:
            raise ValueError(f"high_strike_usd_per_mwh {self.high_strike_usd_per_mwh} is below "
                             f"strike_usd_per_mwh {strike}; expected a level at or above it")
        return self


class Site(Model):
    """A mining site next to the plant."""

    name: str = field("Unique name of the site.", min_length=1)
    capacity_mw: SeriesSpec = field(
        "Largest power the site can draw (transformers, feeders), cooling included.",
        unit="MW",
        series=True,
        ge=0,
    )
    outages: list[Window] = field("Windows when the site draws nothing.", default_factory=list)
    demand_response: DemandResponse | None = field(
        "The site's demand-response programme (none if unset).", default=None)


class MinerModel(Model):
    """An ASIC model defined by the scenario from its data sheet.

    Used exactly like a catalogue model (fleets, `gridhash economics`, the
    candidates of `gridhash size`, the risk sweep); its name may not be the
    name of a catalogue model (case and spacing ignored).
    """

    name: str = field("Model name, used by `mining.fleet[].model`.", min_length=1)
    hashrate_th_s: FiniteFloat = field("Nameplate hashrate.", unit="TH/s", gt=0)
    power_w: FiniteFloat = field("Nameplate power at the wall.", unit="W", gt=0)
    price_usd: FiniteFloat = field("Price of one machine.", unit="USD", ge=0)
    release: date | None = field(
        "Release date; `gridhash size` offers the model only if it is released by the "
        "start of the horizon (none: taken as available).",
        default=None,
    )
    source: str = field("Where the figures come from (data sheet, quote, date).", min_length=1)


class FleetEntry(Model):
    """A class of miners: one ASIC model (catalogue or `mining.models`), a count, at a site."""

    model: str = field(
        "ASIC model name, as in `gridhash economics --catalogue` or `mining.models`.",
        min_length=1,
    )
    count: int = field("Number of machines.", ge=0, le=100_000_000)
    site: str = field("Name of the site hosting them.", min_length=1)
    name: str | None = field(
        "Name of the class in outputs; defaults to '<site>/<model>'.", default=None
    )

    @property
    def label(self) -> str:
        return self.name or f"{self.site}/{self.model}"


class Mining(Model):
    """The mining load: sites, fleet, and what running it costs."""

    sites: list[Site] = field("Mining sites.", default_factory=list)
    models: list[MinerModel] = field(
        "ASIC models defined here from their data sheets, beside the packaged catalogue.",
        default_factory=list,
    )
    fleet: list[FleetEntry] = field("Classes of miners.", default_factory=list)
    cooling_overhead: FiniteFloat = field(
        "Cooling and auxiliary power per unit of ASIC power.", unit="fraction", default=0.05, ge=0
    )
    pool_fee: FiniteFloat = field(
        "Fraction of mining rewards kept by the pool.", unit="fraction", default=0.02, ge=0, lt=1
    )
    opex_usd_per_mwh: SeriesSpec = field(
        "Operating cost of the sites per MWh drawn (staff, maintenance, hosting).",
        unit="USD/MWh",
        series=True,
        default=0.0,
        ge=0,
    )

    @field_validator("sites")
    @classmethod
    def _unique_sites(cls, v: list[Site]) -> list[Site]:
        return _unique(v, "site")

    @field_validator("models")
    @classmethod
    def _unique_models(cls, v: list[MinerModel]) -> list[MinerModel]:
        return _unique(v, "model")

    @model_validator(mode="after")
    def _fleet_at_known_sites(self) -> Mining:
        names = [s.name for s in self.sites]
        labels: set[str] = set()
        for entry in self.fleet:
            if entry.site not in names:
                raise ValueError(
                    f"fleet entry {entry.model!r} is at unknown site {entry.site!r}; "
                    f"expected one of {names}"
                )
            if entry.label in labels:
                raise ValueError(
                    f"duplicate fleet class {entry.label!r}; give the entries distinct names"
                )
            labels.add(entry.label)
        return self


class Bitcoin(Model):
    """The Bitcoin network and market over the horizon."""

    price_usd: SeriesSpec = field("Price of one bitcoin.", unit="USD", series=True, gt=0)
    difficulty: SeriesSpec = field(
        "Network difficulty (expected hashes per block = difficulty × 2^32); at least 1, "
        "the protocol's minimum.",
        unit="-",
        series=True,
        ge=1,
    )
    fees_btc_per_block: SeriesSpec = field(
        "Transaction fees collected per block.", unit="BTC", series=True, default=0.0, ge=0
    )
    start_height: int = field(
        "Block height at the first hour; the subsidy follows the halving schedule from there "
        "(it reaches zero at height 6,930,000).",
        ge=0,
        le=10_000_000,
    )
    blocks_per_hour: FiniteFloat = field(
        "Expected blocks found per hour (the protocol's target is 6).",
        unit="1/h",
        default=6.0,
        gt=0,
    )


class Scenario(Model):
    """A complete scenario: what is planned, with what, against which markets."""

    name: str = field("Short name (used for the output folder).", min_length=1)
    description: str = field("One line on what the scenario is.", default="")
    assumptions: list[str] = field(
        "Assumptions stated in plain words; shown in the report.", default_factory=list
    )
    horizon: Horizon = field("The hours planned.")
    plant: Plant = field("The power plant.")
    grid: Grid = field("The grid side.")
    mining: Mining = field("The mining load.", default_factory=Mining)
    bitcoin: Bitcoin = field("The Bitcoin network and market.")
    agreements: list[Agreement] = field(
        "Alternative joint-management agreements (parties, shares, obligations, approvals); "
        "`gridhash run --agreement NAME` plans under one, `gridhash compare` runs them all.",
        default_factory=list,
    )
    safety: Safety | None = field(
        "Plant state, events and operating rules (the safety envelope); without it the "
        "dispatch is limited only by the plant and grid parts.",
        default=None,
    )

    @field_validator("agreements")
    @classmethod
    def _agreements_unique(cls, v: list[Agreement]) -> list[Agreement]:
        return unique_agreements(v)

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        check_references(self)  # every cross-reference, for every command alike
        return self

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, v: str) -> str:
        if not all(c.isalnum() or c in "-_." for c in v):
            raise ValueError(
                f"name {v!r} may hold only letters, digits, '-', '_' and '.' (it names a folder)"
            )
        return v


#: The parts of a scenario in document order, for the generated reference.
SCENARIO_PARTS: tuple[type[Model], ...] = (
    Scenario,
    Horizon,
    Window,
    Plant,
    Unit,
    Grid,
    Offtake,
    Line,
    Mining,
    Site,
    DemandResponse,
    MinerModel,
    FleetEntry,
    Bitcoin,
    FileSeries,
    ProfileSeries,
    GrowthSeries,
    *SAFETY_PARTS,
    *AGREEMENT_PARTS,
)
