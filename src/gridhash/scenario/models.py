"""The scenario schema: pydantic v2 models, each field declared once with its unit.

Like PyPSA's component attribute tables, every field carries its unit, default
and description here and nowhere else: ``docs/scenario.md``, ``gridhash show``
and the error messages are derived from these declarations.  The building
blocks (``field``, the series forms, windows) live in :mod:`gridhash.scenario.base`,
the ``safety`` part in :mod:`gridhash.scenario.safety`.
"""

from __future__ import annotations

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
        "The plant's own consumption (cooling pumps, safety systems), served first: "
        "from its own generation or imported over the lines.",
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


class FleetEntry(Model):
    """A class of miners: one ASIC model from the catalogue, a count, at a site."""

    model: str = field("ASIC model name, as in `gridhash economics --catalogue`.", min_length=1)
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
    FleetEntry,
    Bitcoin,
    FileSeries,
    ProfileSeries,
    GrowthSeries,
    *SAFETY_PARTS,
    *AGREEMENT_PARTS,
)
